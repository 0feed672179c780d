package tasks

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"correio.dev/peers/go/internal/cluster"
	"correio.dev/peers/go/mdp"
)

// A real TypeScript cluster (broker, proxy, reference server and one chat server in open mode),
// started once for the package: the one server is the coordinator and serves `tasks`. Every test
// uses queues of its own, so tests do not take each other's jobs.
var (
	infra    *cluster.Cluster
	queueSeq atomic.Int64
	quiet    = slog.New(slog.NewTextHandler(io.Discard, nil))
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dataDir, err := os.MkdirTemp("", "correio-go-tasks-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dataDir)
	infra, err = cluster.Start(dataDir, 1, "open")
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the cluster:", err)
		return 1
	}
	defer infra.Stop()
	if err := waitForTasksService(infra.Broker, 60*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// waitForTasksService waits until the coordinator serves `tasks` (it takes over after its
// election, once the server is ready).
func waitForTasksService(broker string, timeout time.Duration) error {
	client, err := mdp.Dial(broker, mdp.ClientOptions{Timeout: 2 * time.Second, Logger: quiet})
	if err != nil {
		return err
	}
	defer client.Close()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if served, _ := client.ServiceExists(context.Background(), Service); served {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no server served %q within %s", Service, timeout)
}

// uniqueQueue is a queue name no other test uses.
func uniqueQueue(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, queueSeq.Add(1))
}

func newClient(t *testing.T) *Client {
	t.Helper()
	client, err := Dial(infra.Broker, ClientOptions{RetryFor: 10 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// runWorker runs w until the test ends (or stop is called) and fails the test if Run fails.
func runWorker(t *testing.T, w *Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var stopped atomic.Bool
	stop = func() {
		if stopped.Swap(true) {
			return
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker %s: %v", w.ID(), err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func newWorker(queue string, adjust ...func(*WorkerOptions)) *Worker {
	options := WorkerOptions{Queues: []string{queue}, Concurrency: 2, Poll: time.Second, Grace: 2 * time.Second, Logger: quiet}
	for _, apply := range adjust {
		apply(&options)
	}
	return NewWorker(infra.Broker, options)
}

func background(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls condition until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, condition func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !condition(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// startReading starts command and hands over its first line of output, then drains the rest;
// exited receives what Wait returns.
func startReading(t *testing.T, command *exec.Cmd) (ready <-chan string, exited <-chan error) {
	t.Helper()
	stdout, err := command.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := command.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, stdout)
		done <- command.Wait()
	}()
	return lines, done
}
