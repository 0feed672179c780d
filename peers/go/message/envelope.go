package message

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
)

// Envelope is the map around every message. Fields are declared in canonical key order (auth,
// body, from, id, lc, ts, type, v) so that encoding the struct is already canonical.
type Envelope struct {
	// Auth (protocol revision 1.1, optional) is the access token of the user a request acts for.
	Auth string `msgpack:"auth,omitempty" json:"auth,omitempty"`
	// Body is a generated struct when sending and a map[string]any after decoding; BodyAs
	// converts it to a struct.
	Body any    `msgpack:"body" json:"body"`
	From string `msgpack:"from" json:"from"`
	ID   string `msgpack:"id" json:"id"`
	LC   int64  `msgpack:"lc" json:"lc"`
	TS   int64  `msgpack:"ts" json:"ts"`
	Type string `msgpack:"type" json:"type"`
	V    int64  `msgpack:"v" json:"v"`
}

// BodyAs converts the body into target, a pointer to the body's generated struct.
func (e *Envelope) BodyAs(target any) error {
	return codec.Convert(e.Body, target)
}

// UnknownRequestID is the id of an error reply to a request whose own id could not be read.
const UnknownRequestID = "0"

var (
	nodeIDPattern    = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)
	requestIDPattern = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
)

// NewRequestID is 22 characters of URL-safe base64 of 16 random bytes, as Correio's peers use.
func NewRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewNodeID is a node id for a process that was given none: <prefix>-<random>.
func NewNodeID(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// IsRequestID reports whether s is a valid request id.
func IsRequestID(s string) bool { return requestIDPattern.MatchString(s) }

// NowMs is the time in milliseconds since the Unix epoch.
func NowMs() int64 { return time.Now().UnixMilli() }

// Stamp stamps outgoing envelopes with from, a Lamport tick and the time, and merges the clocks
// of incoming ones.
type Stamp struct {
	Sender string
	Clock  *LamportClock
	// Now returns the physical time in ms; NowMs unless set.
	Now func() int64
}

// NewStamp returns a Stamp for sender with a clock starting at 0.
func NewStamp(sender string) (*Stamp, error) {
	if !nodeIDPattern.MatchString(sender) {
		return nil, fmt.Errorf("a sender id is 1-128 printable ASCII characters, got %q", sender)
	}
	return &Stamp{Sender: sender, Clock: &LamportClock{}, Now: NowMs}, nil
}

// Envelope builds an envelope of type messageType; a fresh id unless requestID is given (replies
// and retries).
func (s *Stamp) Envelope(messageType string, body any, requestID string) *Envelope {
	if requestID == "" {
		requestID = NewRequestID()
	}
	now := s.Now
	if now == nil {
		now = NowMs
	}
	return &Envelope{Body: body, From: s.Sender, ID: requestID, LC: s.Clock.Tick(), TS: now(), Type: messageType, V: protocol.ProtocolVersion}
}

// Error builds an "error" envelope answering requestID.
func (s *Stamp) Error(requestID string, err *codec.Error) *Envelope {
	return s.Envelope("error", err.Wire(), requestID)
}

// Observe merges the clock of a received, valid envelope, within the bounds (ENCODING.md section 4.1),
// and reports whether its lc lay beyond them and was clamped.
func (s *Stamp) Observe(e *Envelope) bool { return s.Clock.Observe(e.LC) }

// ObserveRequest is Observe for a request, which is served whether or not its lc was clamped.
func (s *Stamp) ObserveRequest(e *Envelope) bool { return s.Clock.ObserveRequest(e.LC) }
