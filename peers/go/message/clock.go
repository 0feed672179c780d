// Package message holds the v1 envelope (ENCODING.md section 3): building it with a Lamport clock,
// and encoding and decoding it with every check, in order, against the schemas of package protocol.
package message

import (
	"sync"
	"time"

	"correio.dev/peers/go/codec"
)

// LamportRoom is the number of values below 2^53-1 that only a clock's own ticks may reach: no
// received value is merged above MaxMergedLamport (ENCODING.md section 4.1).
const LamportRoom = 1 << 32

// MaxMergedLamport is the highest value a received clock can lift a clock to.
const MaxMergedLamport = codec.MaxSafeInteger - LamportRoom

// The defaults of the bounds, the same in every Correio peer (ENCODING.md section 4.1).
const (
	DefaultFreeJump        = 1 << 16
	DefaultMaxJump         = 1 << 32
	DefaultRefillPerSecond = 1 << 20
)

// LamportClock ticks once per send and, on receive, merges max(lc, bounded(remote)) + 1, where
// bounded(remote) is remote when it lies at most FreeJump above the clock, or when the larger jump
// fits a budget of at most MaxJump that refills at RefillPerSecond; beyond that it is clamped, and
// nothing is merged above MaxMergedLamport. A request beyond the bounds is merged clamped like
// anything else and served, never refused: a refusal let an attacker who had spent a peer's budget
// cut honest peers off from it. At 2^53-1 the clock is Exhausted: Tick returns 2^53-1 again and a
// worker answers UNAVAILABLE lamport_exhausted.
// The zero value uses the defaults. Safe for concurrent use.
type LamportClock struct {
	mu sync.Mutex
	// FreeJump, MaxJump and RefillPerSecond override the defaults when set before first use.
	FreeJump, MaxJump, RefillPerSecond int64
	// Now is the monotonic clock of the refill; time.Now unless set.
	Now        func() time.Time
	value      int64
	budget     float64
	refilledAt time.Time
	started    bool
	clamped    int64
	// clampedRequests counts the clamped values that came with requests.
	clampedRequests int64
}

// NewLamportClock returns a clock starting at start, with the default bounds.
func NewLamportClock(start int64) *LamportClock {
	return &LamportClock{value: min(max(start, 0), codec.MaxSafeInteger)}
}

// Value is the clock's current value.
func (c *LamportClock) Value() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value
}

// Exhausted is true at 2^53-1, where the clock can issue no new value.
func (c *LamportClock) Exhausted() bool { return c.Value() >= codec.MaxSafeInteger }

// Stats returns the values merged only up to the bound, and how many of them came with requests.
func (c *LamportClock) Stats() (clamped, clampedRequests int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clamped, c.clampedRequests
}

// Tick advances the clock for one send and returns the value to write into lc (2^53-1 again once
// Exhausted: check Exhausted where a repeated value must not go out).
func (c *LamportClock) Tick() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.value < codec.MaxSafeInteger {
		c.value++
	}
	return c.value
}

// Observe applies Lamport's receive rule under the bounds; values outside 0..2^53-1 are ignored.
// It reports whether remote lay beyond the bounds and was merged only up to them (counted).
func (c *LamportClock) Observe(remote int64) bool { return c.observe(remote, false) }

// ObserveRequest is Observe for the clock of a request, which is served either way (counted apart).
func (c *LamportClock) ObserveRequest(remote int64) bool { return c.observe(remote, true) }

func (c *LamportClock) observe(remote int64, request bool) bool {
	if remote < 0 || remote > codec.MaxSafeInteger {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.limit()
	merged := min(remote, limit)
	clamped := remote > limit
	if clamped {
		c.clamped++
		if request {
			c.clampedRequests++
		}
	}
	if merged-c.value > c.freeJump() {
		c.budget = max(0, c.budget-float64(merged-c.value))
	}
	c.value = min(codec.MaxSafeInteger, max(c.value, merged)+1)
	return clamped
}

func (c *LamportClock) freeJump() int64 { return orDefault(c.FreeJump, DefaultFreeJump) }

func (c *LamportClock) limit() int64 {
	maxJump := float64(orDefault(c.MaxJump, DefaultMaxJump))
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	at := now()
	if !c.started {
		c.started, c.budget, c.refilledAt = true, maxJump, at
	}
	elapsed := max(0, at.Sub(c.refilledAt).Seconds())
	c.budget = min(maxJump, c.budget+elapsed*float64(orDefault(c.RefillPerSecond, DefaultRefillPerSecond)))
	c.refilledAt = at
	return max(c.value, min(MaxMergedLamport, c.value+max(c.freeJump(), int64(c.budget))))
}

func orDefault(value, fallback int64) int64 {
	if value > 0 {
		return value
	}
	return fallback
}
