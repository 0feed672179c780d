// Package message holds the v1 envelope (ENCODING.md section 3): building it with a Lamport clock,
// and encoding and decoding it with every check, in order, against the schemas of package protocol.
package message

import (
	"sync"

	"correio.dev/peers/go/codec"
)

// LamportClock ticks once per send and, on receive, jumps past what the sender had seen. Safe for
// concurrent use.
type LamportClock struct {
	mu    sync.Mutex
	value int64
}

// Value is the clock's current value.
func (c *LamportClock) Value() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value
}

// Tick advances the clock for one send and returns the value to write into lc.
func (c *LamportClock) Tick() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.value < codec.MaxSafeInteger {
		c.value++
	}
	return c.value
}

// Observe applies Lamport's receive rule: lc = max(lc, remote) + 1.
func (c *LamportClock) Observe(remote int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if remote >= c.value {
		c.value = min(remote+1, codec.MaxSafeInteger)
	}
}
