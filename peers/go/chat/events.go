package chat

import (
	"strings"

	"correio.dev/peers/go/protocol"
	"correio.dev/peers/go/pubsub"
)

// Event is one thing received live: exactly one of Publication (on chan/<channel>/), Direct (on
// user/<me>/) or Gap (messages of Publisher on Topic were lost: re-read with History or
// Conversation).
type Event struct {
	Topic     string
	Publisher string
	// Seq is the event's sequence number in the publisher's numbering of Topic (0 for a Gap).
	Seq         int64
	Publication *protocol.ChatPublication
	Direct      *protocol.ChatDirect
	Gap         *pubsub.Gap
	// LC is the client's Lamport clock right after merging this event (always above its lc).
	LC int64
}

// Events delivers publications of joined channels, direct messages to the user and gaps, in
// arrival order. It is closed by Close (and at once for a client without a proxy). Read it: events
// wait in its buffer, then in the subscriber socket, until they are read.
func (c *Client) Events() <-chan Event { return c.events }

// pump turns the subscriber's deliveries into Events until the subscriber closes.
func (c *Client) pump() {
	defer close(c.pumped)
	defer close(c.events)
	for {
		delivery, err := c.subscriber.Receive()
		if err != nil {
			return // closed
		}
		event, ok := c.event(delivery)
		if !ok {
			continue
		}
		select {
		case c.events <- event:
		case <-c.closing:
			return
		}
	}
}

// event merges the clocks a delivery carries (the envelope's and, for a message, the message's own
// lc) and converts it; ok is false for an envelope that is not its topic's event type.
func (c *Client) event(delivery pubsub.Delivery) (event Event, ok bool) {
	if delivery.Gap != nil {
		gap := delivery.Gap
		return Event{Topic: gap.Topic, Publisher: gap.Publisher, Gap: gap, LC: c.LC()}, true
	}
	received := delivery.Publication
	envelope := received.Envelope
	c.stamp.Observe(envelope)
	event = Event{Topic: received.Topic, Publisher: received.Publisher, Seq: received.Seq}
	switch {
	case envelope.Type == "chat.publication" && strings.HasPrefix(received.Topic, "chan/"):
		event.Publication = &protocol.ChatPublication{}
		if err := envelope.BodyAs(event.Publication); err != nil {
			return c.drop(received, err)
		}
		c.stamp.Clock.Observe(event.Publication.LC)
	case envelope.Type == "chat.direct" && strings.HasPrefix(received.Topic, "user/"):
		event.Direct = &protocol.ChatDirect{}
		if err := envelope.BodyAs(event.Direct); err != nil {
			return c.drop(received, err)
		}
		c.stamp.Clock.Observe(event.Direct.LC)
	default:
		return c.drop(received, nil)
	}
	event.LC = c.LC()
	return event, true
}

func (c *Client) drop(received *pubsub.Publication, err error) (Event, bool) {
	c.unexpected.Add(1)
	c.log.Warn("dropping an event that is not its topic's type", "topic", received.Topic, "type", received.Envelope.Type, "err", err)
	return Event{}, false
}
