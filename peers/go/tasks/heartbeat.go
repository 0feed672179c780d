package tasks

import (
	"context"
	"errors"
	"time"

	"correio.dev/peers/go/protocol"
)

// heartbeats looks every beatCheck for leases that need a heartbeat, until ctx ends.
func (w *Worker) heartbeats(ctx context.Context) {
	ticker := time.NewTicker(beatCheck)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			w.beat(ctx)
		}
	}
}

// beat heartbeats the leases a third of their length old and the ones with new progress, in
// batches; a lease the queue says is lost, or a job it says is cancelled, has its ctx cancelled.
func (w *Worker) beat(ctx context.Context) {
	now := time.Now()
	var due []*runningJob
	var leases []protocol.TasksHeartbeatRequestLease
	w.mu.Lock()
	for _, entry := range w.running {
		third := time.Duration(entry.job.LeaseMs) * time.Millisecond / 3
		if entry.lost || entry.settling || !(entry.dirty || now.Sub(entry.lastBeat) >= third) {
			continue
		}
		lease := protocol.TasksHeartbeatRequestLease{ID: entry.job.ID, Attempt: entry.job.Attempt}
		if entry.hasProgress {
			lease.Progress = protocol.Some[protocol.TaskValue](entry.progress)
		}
		entry.dirty = false
		due = append(due, entry)
		leases = append(leases, lease)
	}
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, beatTimeout)
	defer cancel()
	for start := 0; start < len(due); start += beatBatch {
		end := min(start+beatBatch, len(due))
		var reply protocol.TasksHeartbeatReply
		request := protocol.TasksHeartbeatRequest{Worker: w.id, Leases: leases[start:end]}
		if err := w.client.call(ctx, "tasks.heartbeat.request", request, &reply, 0); err != nil {
			if !errors.Is(ctx.Err(), context.Canceled) {
				w.log.Warn("a heartbeat failed; the next one tries again before the leases end", "err", err)
			}
			return
		}
		w.mu.Lock()
		for i, lease := range reply.Leases {
			if i >= end-start {
				break
			}
			entry := due[start+i]
			if lease.ID != entry.job.ID {
				continue // the reply keeps the request's order; anything else is not ours to act on
			}
			entry.lastBeat = now
			switch {
			case !lease.Held:
				if entry.settling {
					continue
				}
				if !entry.lost {
					entry.lost = true
					w.lost.Add(1)
				}
				entry.cancel(ErrLeaseLost)
			case lease.Cancel:
				entry.cancel(ErrCancelled)
			}
		}
		w.mu.Unlock()
	}
}

type progressKey struct{}

// progressSink is what Progress finds in a handler's ctx.
type progressSink struct {
	worker *Worker
	entry  *runningJob
}

// Progress reports a running job's progress (any v1 value; a struct by its json tags): sent with
// the job's next heartbeat (within a quarter second), shown by tasks.get and the event stream.
// ctx is the handler's (or one derived from it); elsewhere it is an error.
func Progress(ctx context.Context, value any) error {
	sink, ok := ctx.Value(progressKey{}).(*progressSink)
	if !ok {
		return errors.New("tasks: Progress needs a job handler's ctx")
	}
	wire, err := toWire(value)
	if err != nil {
		return err
	}
	sink.worker.mu.Lock()
	defer sink.worker.mu.Unlock()
	sink.entry.progress, sink.entry.hasProgress, sink.entry.dirty = wire, true, true
	return nil
}
