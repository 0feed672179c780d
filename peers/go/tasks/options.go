package tasks

import (
	"time"

	"correio.dev/peers/go/protocol"
)

// EnqueueOption adjusts one Enqueue.
type EnqueueOption func(*protocol.TasksEnqueueRequest)

// WithID gives the job its id, which is also its uniqueness key: enqueueing an id again returns
// the job that has it (created false). Default: a fresh random id.
func WithID(id string) EnqueueOption {
	return func(r *protocol.TasksEnqueueRequest) { r.ID = protocol.Some(id) }
}

// WithPriority is 0 to 9, higher leased first within a queue (default 0).
func WithPriority(priority int) EnqueueOption {
	return func(r *protocol.TasksEnqueueRequest) { r.Priority = protocol.Some(int64(priority)) }
}

// WithDelay makes the job due this long from now (a countdown).
func WithDelay(delay time.Duration) EnqueueOption {
	return func(r *protocol.TasksEnqueueRequest) { r.DelayMs = protocol.Some(delay.Milliseconds()) }
}

// WithRunAt makes the job due at this time (an ETA).
func WithRunAt(at time.Time) EnqueueOption {
	return func(r *protocol.TasksEnqueueRequest) { r.RunAt = protocol.Some(at.UnixMilli()) }
}

// WithMaxAttempts is the attempts before the job is dead (default 3).
func WithMaxAttempts(attempts int) EnqueueOption {
	return func(r *protocol.TasksEnqueueRequest) { r.MaxAttempts = protocol.Some(int64(attempts)) }
}

// WithBackoff is the first retry's delay, doubled each time up to the maximum, with jitter
// (default 1 s).
func WithBackoff(backoff time.Duration) EnqueueOption {
	return func(r *protocol.TasksEnqueueRequest) { r.BackoffMs = protocol.Some(backoff.Milliseconds()) }
}

// WithMaxBackoff bounds the retries' delay (default 5 minutes).
func WithMaxBackoff(backoff time.Duration) EnqueueOption {
	return func(r *protocol.TasksEnqueueRequest) { r.MaxBackoffMs = protocol.Some(backoff.Milliseconds()) }
}

// WithLease is how long a worker's lease lasts without a heartbeat (default 30 s, at least 1 s).
func WithLease(lease time.Duration) EnqueueOption {
	return func(r *protocol.TasksEnqueueRequest) { r.LeaseMs = protocol.Some(lease.Milliseconds()) }
}

// WithResultTTL is how long the finished job and its result are kept (default one day).
func WithResultTTL(ttl time.Duration) EnqueueOption {
	return func(r *protocol.TasksEnqueueRequest) { r.ResultTtlMs = protocol.Some(ttl.Milliseconds()) }
}
