package tasks

import (
	"context"
	"errors"
	"testing"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
)

// takeLease ends a worker's lease behind its back, as an expiry would: the test settles the
// attempt as released in the worker's name, and the job is queued again.
func takeLease(t *testing.T, ctx context.Context, client *Client, w *Worker, id string) {
	t.Helper()
	var reply protocol.TasksSettleReply
	request := protocol.TasksSettleRequest{Worker: w.ID(), ID: id, Attempt: 1, Outcome: protocol.TasksSettleRequestOutcomeReleased}
	if err := client.call(ctx, "tasks.settle.request", request, &reply, 0); err != nil || reply.Job.State != protocol.TaskStateQueued {
		t.Fatalf("taking the lease: %+v %v", reply.Job, err)
	}
}

// A handler that returns after its lease was lost: the settle is CONFLICT and the outcome dropped.
func TestAnOutcomeAfterTheLeaseWasLostIsDropped(t *testing.T) {
	t.Parallel()
	queue := uniqueQueue("conflict")
	started, proceed := make(chan struct{}, 2), make(chan struct{})
	calls := 0
	w := newWorker(queue, func(o *WorkerOptions) { o.Concurrency = 1 })
	w.Handle("twice", func(ctx context.Context, job Job) (any, error) {
		calls++ // one at a time: Concurrency 1
		started <- struct{}{}
		if calls == 1 {
			<-proceed
			return "first", nil
		}
		return "second", nil
	})
	runWorker(t, w)
	client := newClient(t)
	ctx := background(t)
	job, _, err := client.Enqueue(ctx, queue, "twice", nil) // a 30 s lease: no heartbeat meanwhile
	if err != nil {
		t.Fatal(err)
	}
	<-started
	takeLease(t, ctx, client, w, job.ID)
	close(proceed)
	if result, err := client.Result(ctx, job.ID); err != nil || result != "second" {
		t.Fatalf("result: %v %v", result, err)
	}
	waitFor(t, 5*time.Second, "the success counted", func() bool { return w.Stats().Succeeded == 1 })
	if stats := w.Stats(); stats.Lost != 1 || stats.Failed != 0 {
		t.Fatalf("stats: %+v", stats)
	}
}

// A heartbeat that finds the lease lost cancels the handler's ctx (ErrLeaseLost), and its error is
// not settled.
func TestAHeartbeatThatFindsTheLeaseLostCancelsTheHandler(t *testing.T) {
	t.Parallel()
	queue := uniqueQueue("lost")
	started := make(chan struct{}, 2)
	causes := make(chan error, 2)
	calls := 0
	w := newWorker(queue, func(o *WorkerOptions) { o.Concurrency = 1 })
	w.Handle("blocks", func(ctx context.Context, job Job) (any, error) {
		calls++ // one at a time: Concurrency 1
		started <- struct{}{}
		if calls == 1 {
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil, ctx.Err()
		}
		return "again", nil
	})
	runWorker(t, w)
	client := newClient(t)
	ctx := background(t)
	job, _, err := client.Enqueue(ctx, queue, "blocks", nil, WithLease(1500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	takeLease(t, ctx, client, w, job.ID)
	select {
	case cause := <-causes:
		if !errors.Is(cause, ErrLeaseLost) {
			t.Fatalf("cause %v", cause)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the handler's ctx was not cancelled within 3 s (a heartbeat is due every 0.5 s)")
	}
	if result, err := client.Result(ctx, job.ID); err != nil || result != "again" {
		t.Fatalf("result: %v %v", result, err)
	}
	if stats := w.Stats(); stats.Lost != 1 || stats.Failed != 0 {
		t.Fatalf("stats: %+v", stats)
	}
}

// A settle can lease the worker's next job in the same request (revision 1.7); a settle the queue
// refuses leases nothing.
func TestASettleLeasesTheNextJob(t *testing.T) {
	t.Parallel()
	queue := uniqueQueue("refill")
	client := newClient(t)
	ctx := background(t)
	for _, id := range []string{"a", "b"} {
		if _, _, err := client.Enqueue(ctx, queue, "t", nil, WithID(queue+"-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	var leased protocol.TasksLeaseReply
	lease := protocol.TasksLeaseRequest{Worker: "go-raw", Queues: []protocol.TaskQueue{queue}}
	if err := client.call(ctx, "tasks.lease.request", lease, &leased, 0); err != nil || len(leased.Jobs) != 1 || leased.Jobs[0].ID != queue+"-a" {
		t.Fatalf("lease: %+v %v", leased, err)
	}
	settle := protocol.TasksSettleRequest{
		Worker: "go-raw", ID: queue + "-a", Attempt: 1, Outcome: protocol.TasksSettleRequestOutcomeSucceeded,
		Lease: &protocol.TasksSettleRequestLease{Queues: []protocol.TaskQueue{queue}, Max: protocol.Some(int64(5))},
	}
	var reply protocol.TasksSettleReply
	if err := client.call(ctx, "tasks.settle.request", settle, &reply, 0); err != nil || reply.Job.State != protocol.TaskStateSucceeded {
		t.Fatalf("settle: %+v %v", reply.Job, err)
	}
	if len(reply.Jobs) != 1 || reply.Jobs[0].ID != queue+"-b" || reply.Jobs[0].State != protocol.TaskStateActive || *reply.Jobs[0].Worker != "go-raw" {
		t.Fatalf("the settle's lease: %+v", reply.Jobs)
	}
	if err := client.call(ctx, "tasks.settle.request", settle, &reply, 0); codec.CodeOf(err) != codec.CodeConflict {
		t.Fatalf("settling twice: %v", err)
	}
}
