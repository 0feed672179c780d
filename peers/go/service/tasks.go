package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// TaskFunc is a background task. A long-running one loops until ctx ends; a periodic one (Every)
// does one round per call. Returning an error (or panicking) restarts it after a backoff.
type TaskFunc func(ctx context.Context, t *TaskContext) error

// TaskContext is what a task run gets: the service's Call, Emit and Broadcast, its name and run number.
type TaskContext struct {
	Messenger
	Task string
	// Run counts the runs started, restarts included, from 1.
	Run int
}

// taskBackoff is the restart backoff of a failing task (TaskSupervisor.ts): 100 ms doubling to 30 s.
var taskBackoff = Backoff{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.5}

// task supervises one background task: runs it, restarts it with backoff when it fails, and on
// stop cancels its context and waits (bounded) for the current run to end.
type task struct {
	name     string
	every    time.Duration // 0: long-running
	fn       TaskFunc
	log      *slog.Logger
	scope    Messenger
	cancel   context.CancelFunc
	done     chan struct{}
	restarts atomic.Int64
	runs     atomic.Int64
}

func (t *task) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	t.cancel, t.done = cancel, make(chan struct{})
	go func() {
		defer close(t.done)
		t.supervise(ctx)
	}()
}

// stop cancels the task and waits up to grace for it; false when it ignored its context.
func (t *task) stop(grace time.Duration) bool {
	if t.cancel == nil {
		return true
	}
	t.cancel()
	select {
	case <-t.done:
		return true
	case <-time.After(grace):
		t.log.Warn("task ignored its cancellation; leaving it behind", "task", t.name, "grace", grace)
		return false
	}
}

func (t *task) supervise(ctx context.Context) {
	failures := 0
	next := time.Now().Add(t.every) // a periodic task's first round comes one period after start
	for ctx.Err() == nil {
		if !sleep(ctx, time.Until(next)) {
			return
		}
		started := time.Now()
		err := t.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failures = 0
			if t.every == 0 {
				return // a long-running task that returned is complete
			}
			// Fixed rate: the next tick after now, skipping ticks an overlong run missed.
			next = started.Add(t.every * time.Duration(max(1, (time.Since(started)+t.every-1)/t.every)))
			continue
		}
		// A long-running task that ran well for a while before failing starts its backoff afresh.
		if t.every == 0 && time.Since(started) > taskBackoff.Max {
			failures = 0
		}
		failures++
		t.restarts.Add(1)
		delay := taskBackoff.delay(failures)
		t.log.Warn("task failed; restarting after backoff", "task", t.name, "err", err.Error(), "restartIn", delay, "restarts", t.restarts.Load())
		next = time.Now().Add(delay)
	}
}

func (t *task) runOnce(ctx context.Context) (err error) {
	run := t.runs.Add(1)
	defer func() {
		if failure := recover(); failure != nil {
			err = fmt.Errorf("task panicked: %v", failure)
		}
	}()
	return t.fn(ctx, &TaskContext{Messenger: t.scope, Task: t.name, Run: int(run)})
}

// stopTasks stops every task at once, each with grace.
func stopTasks(tasks []*task, grace time.Duration) {
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.stop(grace)
		}()
	}
	wg.Wait()
}
