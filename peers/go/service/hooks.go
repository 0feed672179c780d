package service

import (
	"fmt"
	"log/slog"
	"sync"
)

// maxQueuedHooks bounds the hooks waiting to run; beyond it they are dropped and logged.
const maxQueuedHooks = 100_000

// hookQueue runs hooks one at a time, in the order they were pushed, on one goroutine; the first
// waits until open() (start finished, OnConnect first). A hook that panics is logged, never fatal.
type hookQueue struct {
	log     *slog.Logger
	mu      sync.Mutex
	queue   []namedHook
	wake    chan struct{}
	opened  chan struct{}
	closing bool
	done    chan struct{}
}

type namedHook struct {
	name string
	run  func()
}

func newHookQueue(log *slog.Logger) *hookQueue {
	q := &hookQueue{log: log, wake: make(chan struct{}, 1), opened: make(chan struct{}), done: make(chan struct{})}
	go q.loop()
	return q
}

func (q *hookQueue) push(name string, run func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return
	}
	if len(q.queue) >= maxQueuedHooks {
		q.log.Warn("hook dropped: too many waiting", "hook", name)
		return
	}
	q.queue = append(q.queue, namedHook{name, run})
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// open lets the queued hooks run, after first (OnConnect), which may be nil.
func (q *hookQueue) open(first func()) {
	q.mu.Lock()
	if first != nil {
		q.queue = append([]namedHook{{"OnConnect", first}}, q.queue...)
	}
	q.mu.Unlock()
	close(q.opened)
}

// close runs what is queued (if the queue was opened) and ends the loop; done closes then.
func (q *hookQueue) close() {
	q.mu.Lock()
	q.closing = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *hookQueue) loop() {
	defer close(q.done)
	if !q.waitOpen() {
		return
	}
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			closing := q.closing
			q.mu.Unlock()
			if closing {
				return
			}
			<-q.wake
			continue
		}
		next := q.queue[0]
		q.queue = q.queue[1:]
		q.mu.Unlock()
		q.run(next)
	}
}

// waitOpen waits until the queue is opened (true) or closed without having been opened (false:
// the start failed, so nothing runs).
func (q *hookQueue) waitOpen() bool {
	for {
		select {
		case <-q.opened:
			return true
		case <-q.wake:
			q.mu.Lock()
			closing := q.closing
			q.mu.Unlock()
			if closing {
				select {
				case <-q.opened:
					return true
				default:
					return false
				}
			}
		}
	}
}

func (q *hookQueue) run(hook namedHook) {
	defer func() {
		if failure := recover(); failure != nil {
			q.log.Error("a hook failed", "hook", hook.name, "panic", fmt.Sprint(failure))
		}
	}()
	hook.run()
}
