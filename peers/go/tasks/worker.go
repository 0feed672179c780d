package tasks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
	"golang.org/x/time/rate"
)

// HandlerFunc runs one attempt of a job and returns its result (any v1 value; a struct is sent by
// its json tags; nil for none) or an error: the job is retried while attempts remain, unless the
// error is Permanent. ctx is cancelled when the job is cancelled, its lease is lost, or the worker
// stops past its grace period (context.Cause says which); Progress(ctx, value) reports progress.
type HandlerFunc func(ctx context.Context, job Job) (any, error)

// Typed adapts a handler of decoded arguments: a job whose args do not decode into an A fails for
// good (type InvalidArgs), since no retry fixes them.
func Typed[A, R any](handler func(ctx context.Context, job Job, args A) (R, error)) HandlerFunc {
	return func(ctx context.Context, job Job) (any, error) {
		var args A
		if err := job.BindArgs(&args); err != nil {
			return nil, Permanent(&Failure{Type: "InvalidArgs", Message: err.Error()})
		}
		return handler(ctx, job, args)
	}
}

// WorkerOptions configure a Worker; zero values take the defaults.
type WorkerOptions struct {
	// ID is the worker's id, unique among live workers; "go-<host>-<pid>-<random>" by default.
	ID string
	// Queues are the queues it takes jobs from (1 to 32).
	Queues []string
	// Concurrency is how many jobs run at once (default 4).
	Concurrency int
	// Prefetch is how many jobs the worker leases beyond Concurrency (default 0): they wait,
	// heartbeated, for a slot.
	Prefetch int
	// RateLimits paces tasks in this worker: task name → "<count>/<s|m|h>", such as "20/s" (a
	// burst of count, then evenly). The coordinator's --task-rate-limit paces a whole queue.
	RateLimits map[string]string
	// Poll is how long a lease request waits for a job (a long poll; default 20 s, at most 30 s).
	Poll time.Duration
	// Grace is how long Run lets running jobs finish once its ctx is done (default 10 s); then
	// their ctx is cancelled (ErrWorkerStopping) and the ones that fail are given back.
	Grace time.Duration
	// Auth returns the access token of the user the worker acts for (a server in password mode
	// needs one).
	Auth func() string
	// Logger receives warnings (default slog.Default()).
	Logger *slog.Logger
}

// WorkerStats count what a worker did.
type WorkerStats struct {
	Leased, Succeeded, Failed int64
	// Lost counts attempts whose lease was lost (expired or taken away): their outcome was dropped.
	Lost int64
	// Released counts jobs given back unfinished at stop.
	Released int64
	Running  int
}

const (
	// beatBatch is the leases one heartbeat may carry (the schema's maxItems).
	beatBatch = 100
	// beatCheck is how often the worker looks for leases that need a heartbeat.
	beatCheck = 250 * time.Millisecond
	// beatTimeout bounds one round of heartbeats; the next round tries again.
	beatTimeout = 10 * time.Second
	// workerRetryFor is how long a worker's request keeps resending (a coordinator failing over).
	workerRetryFor = 60 * time.Second
	// abandonAfter is how long Run waits, after cancelling the jobs still running past the grace
	// period, for handlers that ignore their ctx: their leases then expire and they run again.
	abandonAfter = 5 * time.Second
	maxLeasePoll = 30 * time.Second
)

// Worker runs jobs of some queues: it leases at most its free slots with a long poll (so a job
// never waits behind another in a busy worker), runs each job's handler, heartbeats every running
// job at a third of its lease (and at once when it reports progress), and settles it with its
// result or error, leasing the next job for the freed slot in the same request while it is busy
// (protocol revision 1.7). At least once: a worker that dies mid-job loses its lease and the job runs
// again elsewhere.
type Worker struct {
	broker  string
	options WorkerOptions
	id      string
	log     *slog.Logger
	client  *Client

	// slots holds a token per job whose handler runs (Concurrency of them); limits paces tasks.
	slots  chan struct{}
	limits map[string]*rate.Limiter

	mu        sync.Mutex
	handlers  map[string]HandlerFunc
	running   map[string]*runningJob // by key()
	ran       bool
	slotFreed chan struct{}
	stopping  bool // Run's ctx is done: no job starts any more
	jobs      sync.WaitGroup
	releasing atomic.Bool

	leased, succeeded, failed, lost, released atomic.Int64
}

// runningJob is one attempt in progress; its mutable fields are guarded by Worker.mu.
type runningJob struct {
	job         Job
	ctx         context.Context
	cancel      context.CancelCauseFunc
	lastBeat    time.Time
	progress    any
	hasProgress bool
	dirty       bool // progress not yet sent
	lost        bool
	settling    bool // its outcome is being sent: a heartbeat's "not held" is the settle's doing
}

// key tells attempts apart: a job whose lease this worker lost may be leased to it again while
// the old attempt's handler still returns.
func (r *runningJob) key() string { return fmt.Sprintf("%s#%d", r.job.ID, r.job.Attempt) }

// NewWorker returns a worker for the broker at endpoint broker; register handlers with Handle,
// then call Run.
func NewWorker(broker string, options WorkerOptions) *Worker {
	if options.ID == "" {
		options.ID = defaultWorkerID()
	}
	if options.Concurrency <= 0 {
		options.Concurrency = 4
	}
	if options.Poll <= 0 {
		options.Poll = 20 * time.Second
	}
	options.Poll = min(options.Poll, maxLeasePoll)
	if options.Grace <= 0 {
		options.Grace = 10 * time.Second
	}
	if options.Logger == nil {
		options.Logger = slog.Default()
	}
	return &Worker{
		broker: broker, options: options, id: options.ID, log: options.Logger.With("worker", options.ID),
		handlers: map[string]HandlerFunc{}, running: map[string]*runningJob{}, slotFreed: make(chan struct{}, 1),
		slots: make(chan struct{}, options.Concurrency), limits: map[string]*rate.Limiter{},
	}
}

// ID is the worker's id, as the queue knows it.
func (w *Worker) ID() string { return w.id }

// Handle registers the handler of task. Every worker of a queue must handle every task sent to
// it: a job of a task with no handler fails for good (type UnknownTask). It panics on a nil
// handler or a task handled already.
func (w *Worker) Handle(task string, handler HandlerFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if handler == nil {
		panic("tasks: nil handler for " + task)
	}
	if _, taken := w.handlers[task]; taken {
		panic("tasks: task " + task + " is handled already")
	}
	w.handlers[task] = handler
}

// Stats returns the worker's counters.
func (w *Worker) Stats() WorkerStats {
	w.mu.Lock()
	running := len(w.running)
	w.mu.Unlock()
	return WorkerStats{
		Leased: w.leased.Load(), Succeeded: w.succeeded.Load(), Failed: w.failed.Load(),
		Lost: w.lost.Load(), Released: w.released.Load(), Running: running,
	}
}

// Run takes and runs jobs until ctx is done, then stops: it takes no more jobs, lets running ones
// finish for Grace, then cancels the rest (ErrWorkerStopping) and gives back the ones that fail
// (released: they run again, the attempt not counted). It returns nil once stopped, or an error
// when it cannot start. A worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	ran := w.ran
	w.ran = true
	w.mu.Unlock()
	if ran {
		return errors.New("tasks: a worker runs once")
	}
	if len(w.options.Queues) == 0 || len(w.options.Queues) > 32 {
		return codec.Errorf(codec.CodeValidation, "a task worker takes 1 to 32 queues, got %d", len(w.options.Queues))
	}
	if w.options.Prefetch < 0 {
		return codec.Errorf(codec.CodeValidation, "a task worker's Prefetch is at least 0, got %d", w.options.Prefetch)
	}
	for task, text := range w.options.RateLimits {
		limiter, err := parseRate(text)
		if err != nil {
			return codec.Errorf(codec.CodeValidation, "the rate limit of task %s: %v", task, err)
		}
		w.limits[task] = limiter
	}
	client, err := Dial(w.broker, ClientOptions{Sender: w.id, RetryFor: workerRetryFor, Auth: w.options.Auth, Logger: w.options.Logger})
	if err != nil {
		return err
	}
	w.client = client
	defer client.Close()
	beatCtx, stopBeats := context.WithCancel(context.Background())
	beatsDone := make(chan struct{})
	go func() {
		defer close(beatsDone)
		w.heartbeats(beatCtx)
	}()
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		w.poll(ctx)
	}()
	<-ctx.Done()
	w.drain()
	<-polled
	stopBeats()
	<-beatsDone
	return nil
}

// poll leases jobs while ctx lasts, no more than the free slots. The lease request in flight when
// ctx ends is not abandoned: the queue would still lease jobs to this worker, which would wait for
// their leases to expire. It is answered within Poll, and what it brings is given back at once.
func (w *Worker) poll(ctx context.Context) {
	leaseCtx, cancelLease := context.WithCancel(context.Background())
	defer cancelLease()
	stopWatch := context.AfterFunc(ctx, func() { time.AfterFunc(w.options.Poll+requestSlack, cancelLease) })
	defer stopWatch()
	failures := 0
	for ctx.Err() == nil {
		free := w.options.Concurrency + w.options.Prefetch - w.Stats().Running
		if free <= 0 {
			select {
			case <-w.slotFreed:
			case <-ctx.Done():
			}
			continue
		}
		request := protocol.TasksLeaseRequest{
			Max: protocol.Some(int64(min(free, 100))), Queues: w.options.Queues,
			WaitMs: protocol.Some(w.options.Poll.Milliseconds()), Worker: w.id,
		}
		var reply protocol.TasksLeaseReply
		err := w.client.call(leaseCtx, "tasks.lease.request", request, &reply, w.options.Poll)
		w.leased.Add(int64(len(reply.Jobs)))
		if ctx.Err() != nil {
			for _, job := range reply.Jobs {
				w.giveBack(Job{job})
			}
			return
		}
		if err != nil {
			failures++
			w.log.Warn("leasing jobs failed; trying again", "err", err, "failures", failures)
			pause := time.NewTimer(min(maxBackoff, 100*time.Millisecond<<min(failures, 5)))
			select {
			case <-pause.C:
			case <-ctx.Done():
				pause.Stop()
			}
			continue
		}
		failures = 0
		for _, job := range reply.Jobs {
			w.start(Job{job})
		}
	}
}

// start registers the job as running (before the next lease counts the free slots) and runs it;
// once the worker is stopping it gives the job back instead.
func (w *Worker) start(job Job) {
	entry := &runningJob{job: job, lastBeat: time.Now()}
	entry.ctx, entry.cancel = context.WithCancelCause(context.WithValue(context.Background(), progressKey{}, &progressSink{worker: w, entry: entry}))
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		entry.cancel(nil)
		w.giveBack(job)
		return
	}
	w.running[entry.key()] = entry
	w.jobs.Add(1) // under mu, and never once stopping: drain's Wait does not race an Add
	w.mu.Unlock()
	go w.execute(entry)
}

// giveBack releases a job leased while the worker stops, without running it.
func (w *Worker) giveBack(job Job) {
	w.settle(&runningJob{job: job}, protocol.TasksSettleRequest{Outcome: protocol.TasksSettleRequestOutcomeReleased})
}

func (w *Worker) execute(entry *runningJob) {
	defer func() {
		entry.cancel(nil)
		w.mu.Lock()
		delete(w.running, entry.key())
		w.mu.Unlock()
		select {
		case w.slotFreed <- struct{}{}:
		default:
		}
		w.jobs.Done()
	}()
	job := entry.job
	w.mu.Lock()
	handler := w.handlers[job.Task]
	w.mu.Unlock()
	if handler == nil {
		w.refill(w.settle(entry, w.withRefill(failedWith(protocol.TaskError{Type: "UnknownTask", Message: fmt.Sprintf("worker %s has no handler for %s", w.id, job.Task)}, false))))
		return
	}
	if err := w.turn(entry); err != nil {
		// Cancelled, its lease lost, or the worker stopping while the job waited for its rate or a slot.
		if w.releasing.Load() {
			w.settle(entry, protocol.TasksSettleRequest{Outcome: protocol.TasksSettleRequestOutcomeReleased})
		} else {
			w.refill(w.settle(entry, w.withRefill(failedWith(errorOf(err), true))))
		}
		return
	}
	result, err := invoke(entry.ctx, handler, job)
	<-w.slots
	if err != nil {
		if w.releasing.Load() {
			w.settle(entry, protocol.TasksSettleRequest{Outcome: protocol.TasksSettleRequestOutcomeReleased})
		} else {
			w.refill(w.settle(entry, w.withRefill(failedWith(errorOf(err), !IsPermanent(err)))))
		}
		return
	}
	wire, err := some(result)
	if err != nil {
		w.refill(w.settle(entry, w.withRefill(failedWith(protocol.TaskError{Type: "InvalidResult", Message: clip("the handler's result cannot be sent: "+err.Error(), maxErrorMessage)}, false))))
		return
	}
	w.refill(w.settle(entry, w.withRefill(protocol.TasksSettleRequest{Outcome: protocol.TasksSettleRequestOutcomeSucceeded, Result: wire})))
}

// withRefill asks the settle to lease one due job for the slot it frees (protocol revision 1.7),
// unless the worker is stopping: a busy worker then needs no lease poll per job.
func (w *Worker) withRefill(outcome protocol.TasksSettleRequest) protocol.TasksSettleRequest {
	w.mu.Lock()
	stopping := w.stopping
	w.mu.Unlock()
	if !stopping {
		outcome.Lease = &protocol.TasksSettleRequestLease{Queues: w.options.Queues, Max: protocol.Some(int64(1))}
	}
	return outcome
}

// refill runs the jobs a settle leased; each is registered before the settled job leaves its slot,
// so the poll does not lease for that slot too (start gives them back once the worker stops).
func (w *Worker) refill(jobs []protocol.TaskJob) {
	w.leased.Add(int64(len(jobs)))
	for _, job := range jobs {
		w.start(Job{job})
	}
}

// turn waits for the task's rate and a free slot (prefetched jobs wait here), then takes the slot;
// the job's ctx ending meanwhile is its error.
func (w *Worker) turn(entry *runningJob) error {
	if limiter := w.limits[entry.job.Task]; limiter != nil {
		if err := limiter.Wait(entry.ctx); err != nil {
			return cause(entry.ctx, err)
		}
	}
	select {
	case w.slots <- struct{}{}:
		return nil
	case <-entry.ctx.Done():
		return cause(entry.ctx, entry.ctx.Err())
	}
}

// cause is why ctx ended (its cancel cause), else err.
func cause(ctx context.Context, err error) error {
	if why := context.Cause(ctx); why != nil {
		return why
	}
	return err
}

// invoke runs the handler; a panic is the attempt's error (type Panic), not the worker's end.
func invoke(ctx context.Context, handler HandlerFunc, job Job) (result any, err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			result, err = nil, &Failure{Type: "Panic", Message: fmt.Sprint(recovered)}
		}
	}()
	return handler(ctx, job)
}

func failedWith(taskError protocol.TaskError, retry bool) protocol.TasksSettleRequest {
	settle := protocol.TasksSettleRequest{Outcome: protocol.TasksSettleRequestOutcomeFailed, Error: &taskError}
	if !retry {
		settle.Retry = protocol.Some(false)
	}
	return settle
}

// settle reports the attempt's outcome, unless its lease was lost. CONFLICT means the lease was
// lost meanwhile: the outcome is dropped (the job runs again).
func (w *Worker) settle(entry *runningJob, outcome protocol.TasksSettleRequest) []protocol.TaskJob {
	w.mu.Lock()
	lost := entry.lost
	entry.settling = true
	w.mu.Unlock()
	if lost {
		return nil
	}
	outcome.Worker, outcome.ID, outcome.Attempt = w.id, entry.job.ID, entry.job.Attempt
	ctx, cancel := context.WithTimeout(context.Background(), workerRetryFor)
	defer cancel()
	var reply protocol.TasksSettleReply
	err := w.client.call(ctx, "tasks.settle.request", outcome, &reply, 0)
	switch {
	case err == nil:
	case codec.CodeOf(err) == codec.CodeConflict:
		w.lost.Add(1)
		w.log.Info("the lease was lost before the job settled: its outcome is dropped (the job runs again)", "id", entry.job.ID, "attempt", entry.job.Attempt)
		return nil
	case codec.CodeOf(err) == codec.CodeValidation && outcome.Outcome == protocol.TasksSettleRequestOutcomeSucceeded:
		// A result the protocol cannot carry (too large, too deep): the job fails for good, saying why.
		failed := failedWith(protocol.TaskError{Type: "InvalidResult", Message: clip("the handler's result cannot be sent: "+err.Error(), maxErrorMessage)}, false)
		failed.Lease = outcome.Lease
		return w.settle(entry, failed)
	default:
		w.log.Warn("settling a job failed: its lease will expire and it runs again", "err", err, "id", entry.job.ID)
		return nil
	}
	switch outcome.Outcome {
	case protocol.TasksSettleRequestOutcomeSucceeded:
		w.succeeded.Add(1)
	case protocol.TasksSettleRequestOutcomeFailed:
		w.failed.Add(1)
	default:
		w.released.Add(1)
	}
	return reply.Jobs
}

// drain waits Grace for the running jobs, then cancels the rest and waits for them a little more.
func (w *Worker) drain() {
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	if waitGroup(&w.jobs, w.options.Grace) {
		return
	}
	w.releasing.Store(true)
	w.mu.Lock()
	for _, entry := range w.running {
		entry.cancel(ErrWorkerStopping)
	}
	w.mu.Unlock()
	if !waitGroup(&w.jobs, abandonAfter) {
		w.log.Warn("handlers ignored their cancelled ctx: they are abandoned, their leases expire and the jobs run again", "running", w.Stats().Running)
	}
}

// waitGroup reports whether group finished within timeout.
func waitGroup(group *sync.WaitGroup, timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		group.Wait()
		close(done)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

func defaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	// A node id is printable ASCII without spaces, at most 128 characters.
	host = strings.Map(func(r rune) rune {
		if r > 0x20 && r < 0x7f {
			return r
		}
		return '-'
	}, host)
	if len(host) > 64 {
		host = host[:64]
	}
	var suffix [3]byte
	_, _ = rand.Read(suffix[:])
	return fmt.Sprintf("go-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(suffix[:]))
}
