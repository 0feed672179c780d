package service

import (
	"sync"
	"time"

	"correio.dev/peers/go/codec"
)

// BreakerOptions configure the circuit breaker of a service's calls: one circuit per action,
// off unless Enabled (as in every Correio framework, SERVICE.md section 2).
type BreakerOptions struct {
	Enabled bool
	// Threshold callee failures (retryable errors and INTERNAL) within Window open the circuit
	// (default 5 in 10 s); VALIDATION, NOT_FOUND and the like say the caller is wrong, and do not count.
	Threshold int
	Window    time.Duration
	// CoolDown is how long an open circuit refuses calls before one trial call goes through (default 5 s).
	CoolDown time.Duration
}

type circuitState string

const (
	circuitClosed   circuitState = "closed"
	circuitOpen     circuitState = "open"
	circuitHalfOpen circuitState = "half-open"
)

// circuit is the state machine of libs/service circuitBreaker.ts: closed, open after Threshold
// failures within Window, half-open (one trial call) after CoolDown, closed again by the trial's success.
type circuit struct {
	state    circuitState
	failures []time.Time
	openedAt time.Time
	trial    bool
}

// breakers holds the circuits of a service's calls, by action. Safe for concurrent use.
type breakers struct {
	options  BreakerOptions
	mu       sync.Mutex
	circuits map[string]*circuit
}

const maxCircuits = 10_000

func newBreakers(options BreakerOptions) *breakers {
	if options.Threshold <= 0 {
		options.Threshold = 5
	}
	if options.Window <= 0 {
		options.Window = 10 * time.Second
	}
	if options.CoolDown <= 0 {
		options.CoolDown = 5 * time.Second
	}
	return &breakers{options: options, circuits: map[string]*circuit{}}
}

// acquire is the permission for one call to action: trial tells whether it is the half-open trial.
// An open circuit refuses with UNAVAILABLE (data.circuit, data.retryAfter in ms).
func (b *breakers) acquire(action string) (trial bool, err error) {
	if !b.options.Enabled {
		return false, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.circuits[action]
	if c == nil {
		if len(b.circuits) >= maxCircuits {
			return false, nil // bounded: actions past the bound go unguarded
		}
		c = &circuit{state: circuitClosed}
		b.circuits[action] = c
	}
	now := time.Now()
	if c.state == circuitOpen {
		if wait := c.openedAt.Add(b.options.CoolDown).Sub(now); wait > 0 {
			return false, codec.Errorf(codec.CodeUnavailable, "the circuit for %s is open after repeated failures; retry after %dms", action, wait.Milliseconds()).
				WithData(map[string]any{"circuit": string(circuitOpen), "key": action, "retryAfter": wait.Milliseconds()})
		}
		c.state, c.trial = circuitHalfOpen, false
	}
	if c.state == circuitHalfOpen {
		if c.trial {
			return false, codec.Errorf(codec.CodeUnavailable, "the circuit for %s is half-open and already testing the callee; retry shortly", action).
				WithData(map[string]any{"circuit": string(circuitHalfOpen), "key": action, "retryAfter": 0})
		}
		c.trial = true
		return true, nil
	}
	return false, nil
}

// record notes the outcome of a permitted call; failed when the callee failed (a retryable error).
func (b *breakers) record(action string, trial, failed bool) {
	if !b.options.Enabled {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.circuits[action]
	if c == nil {
		return
	}
	now := time.Now()
	if trial {
		if c.state != circuitHalfOpen {
			return
		}
		c.trial = false
		if failed {
			c.open(now)
		} else {
			c.state, c.failures = circuitClosed, nil
		}
		return
	}
	// Late results of calls that started before the circuit opened change nothing.
	if !failed || c.state != circuitClosed {
		return
	}
	c.failures = append(c.failures, now)
	windowStart := now.Add(-b.options.Window)
	for len(c.failures) > 0 && !c.failures[0].After(windowStart) {
		c.failures = c.failures[1:]
	}
	if len(c.failures) > b.options.Threshold {
		c.failures = c.failures[1:]
	}
	if len(c.failures) >= b.options.Threshold {
		c.open(now)
	}
}

// release gives back a permit whose call says nothing about the callee (the caller gave up).
func (b *breakers) release(action string, trial bool) {
	if !trial || !b.options.Enabled {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.circuits[action]; c != nil && c.state == circuitHalfOpen {
		c.trial = false
	}
}

// state is the circuit of action's state, for tests and health reports.
func (b *breakers) state(action string) circuitState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.circuits[action]; c != nil {
		return c.state
	}
	return circuitClosed
}

func (c *circuit) open(now time.Time) {
	c.state, c.openedAt, c.trial, c.failures = circuitOpen, now, false, nil
}
