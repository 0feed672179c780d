package service

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff shapes the delays between attempts: Initial doubling per attempt up to Max, with a
// random Jitter share (0..1) taken off each delay so that callers that failed together do not
// retry together.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Jitter  float64
}

// delay is the wait before retry number attempt (1-based), within [base·(1-jitter), base].
func (b Backoff) delay(attempt int) time.Duration {
	exponent := max(0, min(attempt-1, 62))
	base := min(float64(b.Max), float64(b.Initial)*math.Pow(2, float64(exponent)))
	return time.Duration(base - base*b.Jitter*rand.Float64())
}

func (b Backoff) withDefaults(initial, maximum time.Duration) Backoff {
	if b.Initial <= 0 {
		b.Initial = initial
	}
	if b.Max <= 0 {
		b.Max = maximum
	}
	if b.Jitter <= 0 || b.Jitter > 1 {
		b.Jitter = 0.5
	}
	return b
}

// sleep waits d or until ctx ends; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
