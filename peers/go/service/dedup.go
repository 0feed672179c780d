package service

import (
	"container/list"
	"sync"
	"time"
)

// outcome is what an action answered: a reply body or an error.
type outcome struct {
	done  chan struct{}
	reply any
	err   error
}

type dedupEntry struct {
	key       string
	outcome   *outcome
	expiresAt time.Time // zero while the action runs
}

// dedup serves a retry once: a request whose caller, action and id were seen within the TTL gets
// the first one's outcome (joining it while it still runs) instead of running the handler again.
// Retryable failures are not remembered, so a retry of a timed-out call runs again. At most max
// outcomes are kept, the oldest forgotten first. Safe for concurrent use.
type dedup struct {
	ttl     time.Duration
	max     int
	mu      sync.Mutex
	order   *list.List // of *dedupEntry, oldest first
	entries map[string]*list.Element
}

func newDedup(ttl time.Duration, max int) *dedup {
	return &dedup{ttl: ttl, max: max, order: list.New(), entries: map[string]*list.Element{}}
}

// do runs serve for key once and returns its outcome to every request with that key meanwhile.
func (d *dedup) do(key string, serve func() (any, error)) (any, error) {
	d.mu.Lock()
	now := time.Now()
	d.evict(now)
	if element, known := d.entries[key]; known {
		entry := element.Value.(*dedupEntry)
		if entry.expiresAt.IsZero() || entry.expiresAt.After(now) {
			d.mu.Unlock()
			<-entry.outcome.done
			return entry.outcome.reply, entry.outcome.err
		}
		d.order.Remove(element)
		delete(d.entries, key)
	}
	entry := &dedupEntry{key: key, outcome: &outcome{done: make(chan struct{})}}
	d.entries[key] = d.order.PushBack(entry)
	d.mu.Unlock()

	result := entry.outcome
	func() {
		defer close(result.done)
		result.reply, result.err = serve()
	}()

	d.mu.Lock()
	defer d.mu.Unlock()
	if element, kept := d.entries[key]; kept && element.Value == entry {
		if result.err != nil && asError(result.err).Retryable {
			d.order.Remove(element)
			delete(d.entries, key)
		} else {
			entry.expiresAt = time.Now().Add(d.ttl)
		}
	}
	return result.reply, result.err
}

// evict forgets expired outcomes and, past max, the oldest ones. Called with mu held.
func (d *dedup) evict(now time.Time) {
	for element := d.order.Front(); element != nil; {
		entry := element.Value.(*dedupEntry)
		expired := !entry.expiresAt.IsZero() && !entry.expiresAt.After(now)
		if !expired && d.order.Len() < d.max {
			return
		}
		next := element.Next()
		d.order.Remove(element)
		delete(d.entries, entry.key)
		element = next
	}
}
