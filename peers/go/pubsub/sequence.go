// Package pubsub speaks Correio's publish/subscribe (protocol/FRAMES.md section 3): messages of
// three frames [topic, header {n, p, s}, bodies] through the proxy, bodies being n envelopes back
// to back, with per-publisher sequence numbers whose jumps reveal lost messages.
package pubsub

// Gap says bodies First..Last of Publisher on Topic were lost.
type Gap struct {
	Topic     string
	Publisher string
	First     int64
	Last      int64
	// Restarted is true when the publisher restarted (its sequence went back).
	Restarted bool
}

// Count is the number of lost bodies.
func (g Gap) Count() int64 { return g.Last - g.First + 1 }

type trackerKey struct{ publisher, topic string }

// Tracker keeps last[(publisher, topic)] and applies the rules of FRAMES.md section 3.4.
// Not safe for concurrent use.
type Tracker struct {
	last map[trackerKey]int64
	// Implausible counts messages whose seq jumped further than MaxSequenceGap: re-anchored, no gap.
	Implausible int64
}

// MaxSequenceGap is the largest jump in s read as a gap (FRAMES.md section 3.4): a larger one is a
// forged or broken header, so the stream is re-anchored at it and no counter takes its size.
const MaxSequenceGap = 1 << 32

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker { return &Tracker{last: map[trackerKey]int64{}} }

// Accept records a message of count bodies starting at seq and returns the gap before it, if any.
func (t *Tracker) Accept(topic, publisher string, seq, count int64) *Gap {
	key := trackerKey{publisher, topic}
	last, seen := t.last[key]
	t.last[key] = seq + count - 1
	switch {
	case !seen || seq == last+1:
		return nil
	case seq-last-1 > MaxSequenceGap:
		t.Implausible++
		return nil
	case seq > last+1:
		return &Gap{Topic: topic, Publisher: publisher, First: last + 1, Last: seq - 1}
	case seq > 1: // 1 < seq <= last: restarted, and its first messages were lost
		return &Gap{Topic: topic, Publisher: publisher, First: 1, Last: seq - 1, Restarted: true}
	}
	return nil // seq == 1: a clean restart
}

// Last is the last sequence number seen from publisher on topic.
func (t *Tracker) Last(topic, publisher string) (int64, bool) {
	last, ok := t.last[trackerKey{publisher, topic}]
	return last, ok
}
