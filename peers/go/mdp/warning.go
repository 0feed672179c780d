package mdp

import (
	"log/slog"
	"sync"
	"time"
)

// warningInterval is the least time between two warnings of one kind; the occurrences between go to debug.
const warningInterval = time.Minute

// rateLimitedWarning is a warning a peer can trigger at will: logged at most once per warningInterval
// (with how many occurred since the last one), each other occurrence at debug. Safe for concurrent use.
type rateLimitedWarning struct {
	mu       sync.Mutex
	warnedAt time.Time
	since    int64
}

func (r *rateLimitedWarning) note(log *slog.Logger, message string, args ...any) {
	r.mu.Lock()
	r.since++
	now := time.Now()
	warn := r.warnedAt.IsZero() || now.Sub(r.warnedAt) >= warningInterval
	since := r.since
	if warn {
		r.warnedAt, r.since = now, 0
	}
	r.mu.Unlock()
	if warn {
		log.Warn(message, append(args, "occurrences", since)...)
		return
	}
	log.Debug(message, args...)
}
