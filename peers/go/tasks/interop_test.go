package tasks

// Go and TypeScript on one queue: a Go worker runs the jobs a @correio/tasks producer enqueued,
// and a @correio/tasks worker runs the jobs a Go client enqueued (testdata/ts_task_peer.mts, run
// with the repository's tsx).

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"correio.dev/peers/go/internal/jsonvalue"
	"correio.dev/peers/go/protocol"
)

// tsPeer is testdata/ts_task_peer.mts in mode on the shared cluster, run from the repository root.
func tsPeer(t *testing.T, ctx context.Context, mode, queue string) *exec.Cmd {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "ts_task_peer.mts"))
	if err != nil {
		t.Fatal(err)
	}
	command := exec.CommandContext(ctx, "node", "--import", "tsx", "--conditions=@correio/source", script, mode, "--broker", infra.Broker, "--queue", queue)
	command.Dir = filepath.Join(filepath.Dir(script), "..", "..", "..", "..")
	command.Env = append(os.Environ(), "CORREIO_LOG_LEVEL=warn")
	command.Stderr = os.Stderr
	command.WaitDelay = 5 * time.Second
	return command
}

func TestAGoWorkerRunsJobsATypeScriptProducerEnqueued(t *testing.T) {
	t.Parallel()
	queue := uniqueQueue("from-ts")
	echoed := make(chan any, 1)
	w := newWorker(queue)
	w.Handle("add", Typed(func(ctx context.Context, job Job, args pair) (int64, error) { return args.A + args.B, nil }))
	w.Handle("echo", func(ctx context.Context, job Job) (any, error) {
		echoed <- *job.Args
		return *job.Args, nil
	})
	w.Handle("refuse", func(ctx context.Context, job Job) (any, error) {
		return nil, Permanent(Errorf("ValueError", "nobody is not an address"))
	})
	runWorker(t, w)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	output, err := tsPeer(t, ctx, "produce", queue).Output()
	if err != nil {
		t.Fatalf("the TypeScript producer: %v", err)
	}
	parsed, err := jsonvalue.Parse(output)
	if err != nil {
		t.Fatalf("%v in %q", err, output)
	}
	seen := parsed.(map[string]any)
	want := map[string]any{
		"sum": map[string]any{"state": "succeeded", "result": int64(42), "worker": w.ID()},
		"echo": map[string]any{"state": "succeeded", "result": map[string]any{
			"text": "olá, 世界", "big": int64(9007199254740991), "negative": int64(-9007199254740991),
			"list": []any{int64(1), "two", nil, true, false}, "nested": map[string]any{"empty": map[string]any{}, "none": []any{}},
		}},
		"refused": map[string]any{"state": "dead", "attempt": int64(1), "error": map[string]any{"type": "ValueError", "message": "nobody is not an address"}},
	}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("the TypeScript producer saw\n%v\nwant\n%v", seen, want)
	}
	// And the Go handler was given the arguments in the codec's value model.
	if got := <-echoed; !reflect.DeepEqual(got, want["echo"].(map[string]any)["result"]) {
		t.Fatalf("the Go handler got %#v", got)
	}
}

func TestATypeScriptWorkerRunsJobsAGoClientEnqueued(t *testing.T) {
	t.Parallel()
	queue := uniqueQueue("to-ts")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	worker := tsPeer(t, ctx, "work", queue)
	stdin, err := worker.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	ready, exited := startReading(t, worker)
	stopped := false
	defer func() {
		if !stopped {
			_ = stdin.Close()
			<-exited
		}
	}()
	if line := <-ready; strings.TrimSpace(line) != "ready" {
		t.Fatalf("the TypeScript worker said %q", line)
	}

	client := newClient(t)
	jobCtx := background(t)
	shout, _, err := client.Enqueue(jobCtx, queue, "shout", map[string]string{"text": "olá"})
	if err != nil {
		t.Fatal(err)
	}
	type shouted struct {
		Text    string `json:"text"`
		By      string `json:"by"`
		Attempt int64  `json:"attempt"`
	}
	if result, err := ResultAs[shouted](jobCtx, client, shout.ID); err != nil || result != (shouted{Text: "OLÁ", By: "ts", Attempt: 1}) {
		t.Fatalf("shout: %+v %v", result, err)
	}
	reject, _, err := client.Enqueue(jobCtx, queue, "reject", nil, WithMaxAttempts(5))
	if err != nil {
		t.Fatal(err)
	}
	dead, err := client.Wait(jobCtx, reject.ID)
	if err != nil || dead.State != protocol.TaskStateDead || dead.Attempt != 1 || *dead.Error != (protocol.TaskError{Type: "PermanentJobError", Message: "no such address"}) {
		t.Fatalf("reject: %+v %v", dead, err)
	}

	stopped = true
	_ = stdin.Close()
	if err := <-exited; err != nil {
		t.Fatalf("the TypeScript worker exited with %v", err)
	}
}
