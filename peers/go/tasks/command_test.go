package tasks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"correio.dev/peers/go/protocol"
)

// cmd/correio-tasks-worker, built and run on the shared cluster: its tasks, a cancellation, and a
// clean exit on SIGTERM.
func TestTheWorkerCommand(t *testing.T) {
	t.Parallel()
	binary := filepath.Join(t.TempDir(), "correio-tasks-worker")
	build := exec.Command("go", "build", "-o", binary, "../cmd/correio-tasks-worker")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building: %v", err)
	}
	queue := uniqueQueue("command")
	command := exec.Command(binary, "-broker", infra.Broker, "-queues", queue, "-poll", "1s", "-grace", "1s")
	command.Stderr = os.Stderr
	ready, exited := startReading(t, command)
	signalled := false
	defer func() {
		if !signalled {
			_ = command.Process.Kill()
			<-exited
		}
	}()
	line := <-ready
	if !strings.HasPrefix(line, "ready go-") {
		t.Fatalf("the command said %q", line)
	}
	workerID := strings.TrimSpace(strings.TrimPrefix(line, "ready "))

	client := newClient(t)
	ctx := background(t)
	sum, _, err := client.Enqueue(ctx, queue, "add", []int64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if result, err := client.Wait(ctx, sum.ID); err != nil || *result.Result != int64(6) || *result.Worker != workerID {
		t.Fatalf("add: %+v %v", result, err)
	}
	failing, _, err := client.Enqueue(ctx, queue, "fail", map[string]any{"type": "MailboxFull", "message": "no room", "permanent": true})
	if err != nil {
		t.Fatal(err)
	}
	if dead, err := client.Wait(ctx, failing.ID); err != nil || dead.State != protocol.TaskStateDead || *dead.Error != (protocol.TaskError{Type: "MailboxFull", Message: "no room"}) {
		t.Fatalf("fail: %+v %v", dead, err)
	}
	sleeping, _, err := client.Enqueue(ctx, queue, "sleep", map[string]any{"ms": 15_000}, WithLease(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the sleep job's progress", func() bool {
		job, err := client.Get(ctx, sleeping.ID)
		return err == nil && job.Progress != nil
	})
	if _, err := client.Cancel(ctx, sleeping.ID); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if cancelled, err := client.Wait(waitCtx, sleeping.ID); err != nil || cancelled.State != protocol.TaskStateCancelled {
		t.Fatalf("sleep: %+v %v", cancelled, err)
	}

	signalled = true
	_ = command.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the command exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		_ = command.Process.Kill()
		<-exited
		t.Fatal("the command did not stop within 10 s of SIGTERM")
	}
}
