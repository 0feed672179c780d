package pubsub

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-zeromq/zmq4"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/message"
)

// Publication is one event envelope received on Topic from Publisher, numbered Seq.
type Publication struct {
	Topic     string
	Publisher string
	Seq       int64
	Envelope  *message.Envelope
}

// Delivery is a Publication or, before the publications that follow a loss, a Gap.
type Delivery struct {
	Publication *Publication
	Gap         *Gap
}

// Subscriber receives from the proxy's XPUB port (a SUB socket).
type Subscriber struct {
	socket  zmq4.Socket
	cancel  context.CancelFunc
	tracker *Tracker
	limits  codec.Limits
	pending []Delivery
	// Dropped counts malformed messages dropped whole (FRAMES.md section 3.5).
	Dropped int
	// DroppedBodies counts values of well-formed messages that were not valid envelopes, each
	// dropped alone.
	DroppedBodies int
}

// Subscribe connects to endpoint and subscribes to every topic starting with one of topics.
func Subscribe(endpoint string, topics ...string) (*Subscriber, error) {
	ctx, cancel := context.WithCancel(context.Background())
	socket := zmq4.NewSub(ctx, zmq4.WithDialerRetry(100*time.Millisecond), zmq4.WithDialerMaxRetries(50), zmq4.WithAutomaticReconnect(true))
	if err := socket.Dial(endpoint); err != nil {
		cancel()
		return nil, fmt.Errorf("subscribing at %s: %w", endpoint, err)
	}
	s := &Subscriber{socket: socket, cancel: cancel, tracker: NewTracker(), limits: codec.DefaultLimits}
	for _, topic := range topics {
		if err := s.Add(topic); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Add subscribes to one more topic prefix ("chan/" receives every channel).
func (s *Subscriber) Add(topic string) error {
	return s.socket.SetOption(zmq4.OptionSubscribe, topic)
}

// Remove unsubscribes from a topic prefix.
func (s *Subscriber) Remove(topic string) error {
	return s.socket.SetOption(zmq4.OptionUnsubscribe, topic)
}

// Close closes the socket; a blocked Receive returns an error.
func (s *Subscriber) Close() error {
	s.cancel()
	return s.socket.Close()
}

// Receive returns the next Publication or Gap. It blocks until one arrives or the socket closes.
func (s *Subscriber) Receive() (Delivery, error) {
	for len(s.pending) == 0 {
		msg, err := s.socket.Recv()
		if err != nil {
			return Delivery{}, err
		}
		s.pending = s.unpack(msg.Frames)
	}
	next := s.pending[0]
	s.pending = s.pending[1:]
	return next, nil
}

func (s *Subscriber) unpack(frames [][]byte) []Delivery {
	deliveries, err := s.tryUnpack(frames)
	if err != nil {
		s.Dropped++
		slog.Warn("dropping a malformed publication", "err", err)
		return nil
	}
	return deliveries
}

// tryUnpack checks a message [topic, header, bodies] (FRAMES.md section 3.2). Anything wrong with
// its frames, header or the values in its bodies frame fails the whole message, since its
// numbering cannot be trusted then. A value that is not a valid envelope only loses itself: the
// header still accounts for its number, so it is no gap.
func (s *Subscriber) tryUnpack(frames [][]byte) ([]Delivery, error) {
	if len(frames) != 3 {
		return nil, fmt.Errorf("a publication has 3 frames, got %d", len(frames))
	}
	header, err := ParseHeader(frames[1], s.limits)
	if err != nil {
		return nil, err
	}
	values, err := codec.DecodeSequence(frames[2], int(header.N), s.limits)
	if err != nil {
		return nil, err
	}
	topic := string(frames[0])
	var deliveries []Delivery
	if gap := s.tracker.Accept(topic, header.P, header.S, header.N); gap != nil {
		deliveries = append(deliveries, Delivery{Gap: gap})
	}
	for i, value := range values {
		seq := header.S + int64(i)
		envelope, err := message.Validate(value)
		if err != nil {
			s.DroppedBodies++
			slog.Warn("dropping an invalid envelope of a publication", "topic", topic, "publisher", header.P, "seq", seq, "err", err)
			continue
		}
		deliveries = append(deliveries, Delivery{Publication: &Publication{Topic: topic, Publisher: header.P, Seq: seq, Envelope: envelope}})
	}
	return deliveries, nil
}
