package tasks

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"correio.dev/peers/go/protocol"
)

// Prefetch leases beyond the slots (the extra jobs wait, leased and heartbeated, for one), and
// RateLimits paces a task in this worker.
func TestPrefetchedJobsWaitForASlotAndATaskKeepsToItsRate(t *testing.T) {
	t.Parallel()
	queue := uniqueQueue("prefetch")
	client := newClient(t)
	ctx := background(t)
	ids := enqueueMany(t, ctx, client, queue, "held", 4)
	gate := make(chan struct{})
	var running, most atomic.Int64
	var mu sync.Mutex
	var starts []time.Time
	w := newWorker(queue, func(o *WorkerOptions) {
		o.Concurrency, o.Prefetch, o.RateLimits = 1, 2, map[string]string{"paced": "2/s"}
	})
	w.Handle("held", func(ctx context.Context, job Job) (any, error) {
		now := running.Add(1)
		defer running.Add(-1)
		for seen := most.Load(); now > seen && !most.CompareAndSwap(seen, now); seen = most.Load() {
		}
		<-gate
		return nil, nil
	})
	w.Handle("paced", func(ctx context.Context, job Job) (any, error) {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		return nil, nil
	})
	runWorker(t, w)

	// One slot and two prefetched: three leased (active) at once, one running, the fourth queued.
	states := func() []protocol.TaskState {
		var seen []protocol.TaskState
		for _, id := range ids {
			job, err := client.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, job.State)
		}
		slices.Sort(seen)
		return seen
	}
	want := []protocol.TaskState{protocol.TaskStateActive, protocol.TaskStateActive, protocol.TaskStateActive, protocol.TaskStateQueued}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(states(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("three jobs leased: got %v", states())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if running := w.Stats().Running; running != 3 {
		t.Fatalf("jobs held: %d, want 3", running)
	}
	close(gate)
	for _, id := range ids {
		if job, err := client.Wait(ctx, id); err != nil || job.State != protocol.TaskStateSucceeded {
			t.Fatalf("job %s: %+v %v", id, job, err)
		}
	}
	if most.Load() != 1 {
		t.Fatalf("handlers at once: %d, want 1", most.Load())
	}

	for _, id := range enqueueMany(t, ctx, client, queue, "paced", 5) {
		if job, err := client.Wait(ctx, id); err != nil || job.State != protocol.TaskStateSucceeded {
			t.Fatalf("job %s: %+v %v", id, job, err)
		}
	}
	// A burst of 2, then one every half second: the fifth starts at least 1.5 s after the first.
	mu.Lock()
	defer mu.Unlock()
	if len(starts) != 5 || starts[4].Sub(starts[0]) < 1400*time.Millisecond {
		t.Fatalf("paced starts: %d, spread %v", len(starts), starts[len(starts)-1].Sub(starts[0]))
	}
}

// enqueueMany enqueues count jobs of task without arguments; their ids in order.
func enqueueMany(t *testing.T, ctx context.Context, client *Client, queue, task string, count int) []string {
	t.Helper()
	ids := make([]string, 0, count)
	for range count {
		job, _, err := client.Enqueue(ctx, queue, task, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, job.ID)
	}
	return ids
}

func TestRatesParseLikeTheTypeScriptOnes(t *testing.T) {
	for _, good := range []string{"10/s", " 1/m", "3600/h"} {
		if _, err := parseRate(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	for _, bad := range []string{"0/s", "10", "10/d", "-1/s", "1.5/s", "1234567890/s"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
