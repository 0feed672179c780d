package pubsub

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-zeromq/zmq4"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/message"
)

// Publisher publishes to the proxy's XSUB port (a PUB socket), one sequence counter per topic.
type Publisher struct {
	socket zmq4.Socket
	cancel context.CancelFunc
	stamp  *message.Stamp
	next   map[string]int64
}

// NewPublisher connects a Publisher to endpoint.
func NewPublisher(endpoint string, stamp *message.Stamp) (*Publisher, error) {
	ctx, cancel := context.WithCancel(context.Background())
	socket := zmq4.NewPub(ctx, zmq4.WithDialerRetry(100*time.Millisecond), zmq4.WithDialerMaxRetries(50), zmq4.WithAutomaticReconnect(true))
	if err := socket.Dial(endpoint); err != nil {
		cancel()
		return nil, fmt.Errorf("publishing to %s: %w", endpoint, err)
	}
	return &Publisher{socket: socket, cancel: cancel, stamp: stamp, next: map[string]int64{}}, nil
}

// MaxBatchBytes bounds a message's bodies frame (FRAMES.md section 3.5): the default maxBytes, so
// that every subscriber with default limits can read any batch.
const MaxBatchBytes = 1 << 20

// Publish sends 1-1000 events of one type on topic as one message [topic, header, bodies], the
// encoded envelopes concatenated in the bodies frame; it returns the first seq. Bodies whose
// envelopes add up to more than MaxBatchBytes are an error, and nothing is sent: one call is one
// message, so its bodies arrive together or not at all. Split them into several calls.
func (p *Publisher) Publish(topic, messageType string, bodies ...any) (int64, error) {
	if len(bodies) < 1 || len(bodies) > 1000 {
		return 0, fmt.Errorf("a message carries 1 to 1000 bodies, got %d", len(bodies))
	}
	var frame []byte
	for i, body := range bodies {
		data, err := message.Encode(p.stamp.Envelope(messageType, body, ""))
		if err != nil {
			return 0, err
		}
		if len(frame)+len(data) > MaxBatchBytes {
			return 0, fmt.Errorf("the envelopes of %d bodies pass the batch limit of %d bytes at body %d: publish them in smaller batches", len(bodies), MaxBatchBytes, i+1)
		}
		frame = append(frame, data...)
	}
	seq := p.next[topic]
	if seq == 0 {
		seq = 1
	}
	header, err := codec.Encode(Header{N: int64(len(bodies)), P: p.stamp.Sender, S: seq})
	if err != nil {
		return 0, err
	}
	if err := p.socket.SendMulti(zmq4.NewMsgFrom([]byte(topic), header, frame)); err != nil {
		return 0, err
	}
	p.next[topic] = seq + int64(len(bodies))
	return seq, nil
}

// Subscribed reports whether a connected peer (a subscriber, or the proxy on behalf of its
// subscribers) has subscribed to a prefix of topic. A PUB sends only to those, so what is
// published before the subscription arrives is lost (FRAMES.md section 3.6).
func (p *Publisher) Subscribed(topic string) bool {
	for _, prefix := range p.socket.(zmq4.Topics).Topics() {
		if strings.HasPrefix(topic, prefix) {
			return true
		}
	}
	return false
}

// Close closes the socket.
func (p *Publisher) Close() error {
	p.cancel()
	return p.socket.Close()
}
