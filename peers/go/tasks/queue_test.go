package tasks

// A Go producer and Go workers against the real TypeScript cluster: results, idempotent enqueue,
// concurrency bounded by the free slots, retries into the dead-letter queue and replay, failing
// for good, cancellation reaching a running handler, and a stopping worker giving its job back.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
)

type pair struct {
	A int64 `json:"a"`
	B int64 `json:"b"`
}

func TestAGoWorkerRunsWhatAGoProducerEnqueues(t *testing.T) {
	t.Parallel()
	queue := uniqueQueue("basic")
	var inFlight, most atomic.Int64
	w := newWorker(queue)
	w.Handle("add", Typed(func(ctx context.Context, job Job, args pair) (int64, error) {
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for seen := most.Load(); now > seen && !most.CompareAndSwap(seen, now); seen = most.Load() {
		}
		time.Sleep(150 * time.Millisecond) // long enough for the jobs to overlap
		return args.A + args.B, nil
	}))
	runWorker(t, w)
	client := newClient(t)
	ctx := background(t)

	id := "sum-" + queue
	job, created, err := client.Enqueue(ctx, queue, "add", pair{A: 2, B: 3}, WithID(id))
	// Queued, or already leased to the worker whose long poll was waiting (a hand-off in the enqueue's transaction).
	queued := job.State == protocol.TaskStateQueued && job.Attempt == 0
	handedOver := job.State == protocol.TaskStateActive && job.Attempt == 1
	if err != nil || !created || job.ID != id || !(queued || handedOver) {
		t.Fatalf("enqueue: %+v created=%v err=%v", job, created, err)
	}
	if sum, err := ResultAs[int64](ctx, client, id); err != nil || sum != 5 {
		t.Fatalf("result: %v %v", sum, err)
	}
	again, created, err := client.Enqueue(ctx, queue, "add", pair{A: 40, B: 2}, WithID(id))
	if err != nil || created || again.State != protocol.TaskStateSucceeded || again.Attempt != 1 || *again.Result != int64(5) {
		t.Fatalf("enqueue again: %+v created=%v err=%v", again, created, err)
	}

	// More jobs than slots: never more than Concurrency (2) at once, and that many.
	var ids []string
	for i := int64(0); i < 5; i++ {
		job, _, err := client.Enqueue(ctx, queue, "add", pair{A: i, B: 10})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, job.ID)
	}
	for i, id := range ids {
		if sum, err := ResultAs[int64](ctx, client, id); err != nil || sum != int64(i)+10 {
			t.Fatalf("job %d: %v %v", i, sum, err)
		}
	}
	if most.Load() != 2 {
		t.Fatalf("at most %d jobs ran at once, want 2 (the worker's concurrency)", most.Load())
	}
	// The worker counts a success once its settle is answered, which may come after the waiter's reply.
	waitFor(t, 5*time.Second, "six successes counted", func() bool { return w.Stats().Succeeded == 6 })
	if stats := w.Stats(); stats.Leased != 6 || stats.Failed != 0 || stats.Lost != 0 {
		t.Fatalf("stats: %+v", stats)
	}
	if _, err := client.Get(ctx, "never-enqueued"); codec.CodeOf(err) != codec.CodeNotFound {
		t.Fatalf("get of an unknown id: %v", err)
	}
}

// QuotaError is a handler's own error type: the wire's error type is its name.
type QuotaError struct{}

func (*QuotaError) Error() string { return "quota exhausted" }

func TestRetriesThenTheDeadLetterQueueThenReplay(t *testing.T) {
	t.Parallel()
	queue := uniqueQueue("flaky")
	var mu sync.Mutex
	var starts []time.Time
	var healed atomic.Bool
	w := newWorker(queue)
	w.Handle("send", func(ctx context.Context, job Job) (any, error) {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		if !healed.Load() {
			return nil, fmt.Errorf("sending: %w", &QuotaError{})
		}
		return "sent", nil
	})
	runWorker(t, w)
	client := newClient(t)
	ctx := background(t)

	job, _, err := client.Enqueue(ctx, queue, "send", nil, WithMaxAttempts(3), WithBackoff(150*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	dead, err := client.Wait(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if dead.State != protocol.TaskStateDead || dead.Attempt != 3 || *dead.Error != (protocol.TaskError{Type: "QuotaError", Message: "sending: quota exhausted"}) {
		t.Fatalf("dead: %+v %+v", dead, dead.Error)
	}
	mu.Lock()
	if len(starts) != 3 || starts[1].Sub(starts[0]) < 150*time.Millisecond || starts[2].Sub(starts[1]) < 300*time.Millisecond {
		t.Fatalf("attempts at %v: want 3, 150 ms then 300 ms apart at least", starts)
	}
	mu.Unlock()
	var failed *FailedError
	if _, err := client.Result(ctx, job.ID); !errors.As(err, &failed) || failed.Job.State != protocol.TaskStateDead {
		t.Fatalf("result of a dead job: %v", err)
	}
	letters, err := client.List(ctx, ListOptions{Queue: queue, State: protocol.TaskStateDead})
	if err != nil || len(letters.Jobs) != 1 || letters.Jobs[0].ID != job.ID || letters.Counts[queue]["dead"] != 1 || len(letters.Counts[queue]) != 1 {
		t.Fatalf("dead letters: %+v %v", letters, err)
	}

	healed.Store(true)
	replayed, err := client.Retry(ctx, job.ID)
	if err != nil || replayed.State != protocol.TaskStateQueued || replayed.Attempt != 0 {
		t.Fatalf("retry: %+v %v", replayed, err)
	}
	if result, err := client.Result(ctx, job.ID); err != nil || result != "sent" {
		t.Fatalf("replayed result: %v %v", result, err)
	}
	if _, err := client.Retry(ctx, job.ID); codec.CodeOf(err) != codec.CodeConflict {
		t.Fatalf("retry of a succeeded job: %v", err)
	}
}

func TestFailuresForGood(t *testing.T) {
	t.Parallel()
	queue := uniqueQueue("strict")
	w := newWorker(queue)
	w.Handle("validate", func(ctx context.Context, job Job) (any, error) {
		return nil, Permanent(Errorf("ValueError", "the address %q is malformed", "nobody"))
	})
	w.Handle("typed", Typed(func(ctx context.Context, job Job, args pair) (any, error) { return nil, nil }))
	w.Handle("panics", func(ctx context.Context, job Job) (any, error) { panic("out of range") })
	w.Handle("float", func(ctx context.Context, job Job) (any, error) { return 1.5, nil })
	runWorker(t, w)
	client := newClient(t)
	ctx := background(t)

	cases := []struct {
		task, args  string
		attempts    int
		errorType   string
		wantAttempt int64
	}{
		{task: "validate", attempts: 5, errorType: "ValueError", wantAttempt: 1},
		{task: "no.such.task", attempts: 5, errorType: "UnknownTask", wantAttempt: 1},
		{task: "typed", args: "not a pair", attempts: 5, errorType: "InvalidArgs", wantAttempt: 1},
		{task: "float", attempts: 5, errorType: "InvalidResult", wantAttempt: 1},
		{task: "panics", attempts: 2, errorType: "Panic", wantAttempt: 2}, // a panic is retried like any error
	}
	for _, c := range cases {
		var args any
		if c.args != "" {
			args = c.args
		}
		job, _, err := client.Enqueue(ctx, queue, c.task, args, WithMaxAttempts(c.attempts), WithBackoff(0))
		if err != nil {
			t.Fatal(err)
		}
		dead, err := client.Wait(ctx, job.ID)
		if err != nil || dead.State != protocol.TaskStateDead || dead.Attempt != c.wantAttempt || dead.Error == nil || dead.Error.Type != c.errorType {
			t.Errorf("%s: %+v %+v %v", c.task, dead, dead.Error, err)
		}
	}
	// A value v1 cannot carry is refused before it is sent.
	if _, _, err := client.Enqueue(ctx, queue, "validate", []any{1.5}); codec.CodeOf(err) != codec.CodeValidation {
		t.Fatalf("float args: %v", err)
	}
}

func TestCancellingARunningJobCancelsItsHandlersContext(t *testing.T) {
	t.Parallel()
	queue := uniqueQueue("cancel")
	started := make(chan struct{})
	causes := make(chan error, 1)
	w := newWorker(queue)
	w.Handle("long", func(ctx context.Context, job Job) (any, error) {
		if err := Progress(ctx, map[string]any{"step": 1, "of": 3}); err != nil {
			return nil, err
		}
		close(started)
		select {
		case <-ctx.Done():
			causes <- context.Cause(ctx)
			return nil, ctx.Err()
		case <-time.After(15 * time.Second):
			causes <- nil
			return "never cancelled", nil
		}
	})
	runWorker(t, w)
	client := newClient(t)
	ctx := background(t)

	job, _, err := client.Enqueue(ctx, queue, "long", nil, WithLease(1500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the job never started")
	}
	// The progress reaches the queue with the next heartbeat.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		running, err := client.Get(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if running.Progress != nil {
			if want := map[string]any{"step": int64(1), "of": int64(3)}; fmt.Sprint(*running.Progress) != fmt.Sprint(want) || running.State != protocol.TaskStateActive {
				t.Fatalf("running job: %+v progress %v", running, *running.Progress)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no progress within 5 s")
		}
	}
	asked := time.Now()
	marked, err := client.Cancel(ctx, job.ID)
	if err != nil || marked.State != protocol.TaskStateActive || marked.CancelRequested == nil || !*marked.CancelRequested {
		t.Fatalf("cancel: %+v %v", marked, err)
	}
	// Told at the next heartbeat: within a third of the lease, plus a check's period and a round trip.
	if cause := <-causes; !errors.Is(cause, ErrCancelled) || time.Since(asked) > 1500*time.Millisecond {
		t.Fatalf("the handler saw cause %v after %s", cause, time.Since(asked))
	}
	cancelled, err := client.Wait(ctx, job.ID)
	if err != nil || cancelled.State != protocol.TaskStateCancelled || cancelled.Error == nil || cancelled.Error.Type != "Canceled" {
		t.Fatalf("cancelled: %+v %v", cancelled, err)
	}
	if err := Progress(context.Background(), 1); err == nil {
		t.Fatal("Progress outside a handler's ctx succeeded")
	}
}

func TestAStoppingWorkerGivesItsUnfinishedJobBack(t *testing.T) {
	t.Parallel()
	queue := uniqueQueue("release")
	started := make(chan struct{})
	first := newWorker(queue, func(o *WorkerOptions) { o.Grace = 300 * time.Millisecond })
	var cause atomic.Value
	first.Handle("slow", func(ctx context.Context, job Job) (any, error) {
		close(started)
		<-ctx.Done()
		cause.Store(context.Cause(ctx))
		return nil, ctx.Err()
	})
	stopFirst := runWorker(t, first)
	client := newClient(t)
	ctx := background(t)

	job, _, err := client.Enqueue(ctx, queue, "slow", "payload")
	if err != nil {
		t.Fatal(err)
	}
	<-started
	stopFirst()
	// Its lease request still in flight may lease the job again once given back: it gives it back again.
	if stats := first.Stats(); stats.Released < 1 || stats.Released != stats.Leased || stats.Running != 0 || cause.Load() != ErrWorkerStopping {
		t.Fatalf("first worker: %+v, cause %v", stats, cause.Load())
	}
	released, err := client.Get(ctx, job.ID)
	if err != nil || released.State != protocol.TaskStateQueued || released.Attempt != 0 {
		t.Fatalf("released: %+v %v", released, err)
	}
	second := newWorker(queue)
	second.Handle("slow", func(ctx context.Context, job Job) (any, error) { return *job.Args, nil })
	runWorker(t, second)
	if result, err := client.Result(ctx, job.ID); err != nil || result != "payload" {
		t.Fatalf("result: %v %v", result, err)
	}
}
