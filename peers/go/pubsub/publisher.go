package pubsub

import (
	"context"
	"fmt"
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

// Publish sends 1-1000 events of one type on topic as one message; it returns the first seq.
func (p *Publisher) Publish(topic, messageType string, bodies ...any) (int64, error) {
	if len(bodies) < 1 || len(bodies) > 1000 {
		return 0, fmt.Errorf("a message carries 1 to 1000 bodies, got %d", len(bodies))
	}
	frames := [][]byte{[]byte(topic), nil}
	for _, body := range bodies {
		data, err := message.Encode(p.stamp.Envelope(messageType, body, ""))
		if err != nil {
			return 0, err
		}
		frames = append(frames, data)
	}
	seq := p.next[topic]
	if seq == 0 {
		seq = 1
	}
	header, err := codec.Encode(Header{N: int64(len(bodies)), P: p.stamp.Sender, S: seq})
	if err != nil {
		return 0, err
	}
	frames[1] = header
	if err := p.socket.SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		return 0, err
	}
	p.next[topic] = seq + int64(len(bodies))
	return seq, nil
}

// Close closes the socket.
func (p *Publisher) Close() error {
	p.cancel()
	return p.socket.Close()
}
