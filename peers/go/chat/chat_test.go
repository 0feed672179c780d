package chat

import (
	"context"
	"errors"
	"testing"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
)

func dial(t *testing.T, s *fakeServer, proxy, user string) *Client {
	t.Helper()
	client, err := Dial(s.broker, proxy, user, Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// firstEvent repeats probe until an event arrives (a subscription takes a moment to reach the
// publisher), then lets the events of earlier probes land and drops them.
func firstEvent(t *testing.T, c *Client, probe func()) Event {
	t.Helper()
	for attempt := 0; attempt < 100; attempt++ {
		probe()
		select {
		case event := <-c.Events():
			for quiet := false; !quiet; {
				select {
				case <-c.Events():
				case <-time.After(300 * time.Millisecond):
					quiet = true
				}
			}
			return event
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("no event arrived: the subscription never reached the publisher")
	return Event{}
}

func nextEvent(t *testing.T, c *Client) Event {
	t.Helper()
	select {
	case event, ok := <-c.Events():
		if !ok {
			t.Fatal("the events channel closed")
		}
		return event
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return Event{}
}

// must returns value, or fails the test by panicking with err (a request the test expects to succeed).
func must[T any](value T, err error) T {
	if err != nil {
		panic(err)
	}
	return value
}

func TestChatSession(t *testing.T) {
	s := newFakeServer(t)
	ctx := context.Background()
	alice := dial(t, s, s.proxy, "alice")
	bob := dial(t, s, s.proxy, "bob")

	if login := must(alice.Login(ctx, "")); !login.Created || login.User != "alice" {
		t.Fatalf("first login: %+v", login)
	}
	if login := must(alice.Login(ctx, "")); login.Created {
		t.Fatalf("second login created the user again: %+v", login)
	}
	must(bob.Login(ctx, ""))
	users := must(alice.Users(ctx, 0, ""))
	if len(users.Users) != 2 || users.Users[0].User != "alice" || users.Users[1].User != "bob" {
		t.Fatalf("users: %+v", users)
	}
	if created := must(alice.CreateChannel(ctx, "general")); !created.Created || created.CreatedBy != "alice" {
		t.Fatalf("create: %+v", created)
	}
	if again := must(bob.CreateChannel(ctx, "general")); again.Created || again.CreatedBy != "alice" {
		t.Fatalf("create again: %+v", again)
	}
	if channels := must(bob.Channels(ctx, 10, "")); len(channels.Channels) != 1 || channels.Channels[0].Channel != "general" {
		t.Fatalf("channels: %+v", channels)
	}

	// A publication reaches a member of the channel, and the member's clock passes its lc.
	if err := bob.Join("general"); err != nil {
		t.Fatal(err)
	}
	first := firstEvent(t, bob, func() { must(alice.Publish(ctx, "general", "probe")) })
	if first.Publication == nil || first.Topic != "chan/general/" || first.Publisher != "srv-fake" {
		t.Fatalf("first event: %+v", first)
	}
	published := must(alice.Publish(ctx, "general", "hi all"))
	if alice.LC() <= published.LC {
		t.Fatalf("alice's clock %d did not pass the reply's lc %d", alice.LC(), published.LC)
	}
	event := nextEvent(t, bob)
	if p := event.Publication; p == nil || p.Text != "hi all" || p.User != "alice" || p.Op != published.Op || p.LC != published.LC {
		t.Fatalf("publication: %+v (reply %+v)", event, published)
	}
	if event.LC <= event.Publication.LC || bob.LC() < event.LC {
		t.Fatalf("bob's clock (event %d, now %d) did not pass the publication's lc %d", event.LC, bob.LC(), event.Publication.LC)
	}
	// What bob sends next is stamped after what he received.
	answer := must(bob.Publish(ctx, "general", "hello alice"))
	if answer.LC <= event.Publication.LC {
		t.Fatalf("bob's answer (lc %d) is not after the publication he received (lc %d)", answer.LC, event.Publication.LC)
	}

	// A direct message reaches the recipient's own topic, subscribed at Dial.
	direct := firstEvent(t, alice, func() { must(bob.Direct(ctx, "alice", "psst")) })
	if direct.Direct == nil || direct.Direct.From != "bob" || direct.Direct.Text != "psst" || direct.Topic != "user/alice/" {
		t.Fatalf("direct: %+v", direct)
	}
	conversation := must(alice.Conversation(ctx, "bob", 0, ""))
	if len(conversation.Messages) == 0 || conversation.Messages[0].Text != "psst" {
		t.Fatalf("conversation: %+v", conversation)
	}

	// Stored messages carry their clocks too: reading them merges them.
	s.mu.Lock()
	s.history["general"] = append(s.history["general"], protocol.ChatPublication{Channel: "general", User: "zed", Text: "from the future", LC: 10_000, HLC: protocol.HLC{1, 0}, TS: 1, Op: protocol.OpID{Origin: "srv-other", Seq: 1}})
	s.mu.Unlock()
	history := must(bob.History(ctx, "general", 500, ""))
	if last := history.Messages[len(history.Messages)-1]; last.Text != "from the future" || bob.LC() <= 10_000 {
		t.Fatalf("history %+v, bob's clock %d", history.Messages, bob.LC())
	}

	// Refusals come back typed.
	if _, err := alice.Publish(ctx, "nowhere", "hello?"); codec.CodeOf(err) != codec.CodeBadRequest || codec.AsError(err).Data["reason"] != "unknown_channel" {
		t.Fatalf("publish to a missing channel: %v", err)
	}
	if _, err := alice.History(ctx, "nowhere", 0, ""); codec.CodeOf(err) != codec.CodeNotFound {
		t.Fatalf("history of a missing channel: %v", err)
	}
	if bob.Unexpected() != 0 || alice.Unexpected() != 0 {
		t.Fatalf("unexpected events: bob %d, alice %d", bob.Unexpected(), alice.Unexpected())
	}
}

func TestGapsAndForeignEvents(t *testing.T) {
	s := newFakeServer(t)
	carol := dial(t, s, s.proxy, "carol")
	if err := carol.Join("news"); err != nil {
		t.Fatal(err)
	}
	publication := func(text string) protocol.ChatPublication {
		now := time.Now().UnixMilli()
		s.seq++
		return protocol.ChatPublication{Channel: "news", User: "dan", Text: text, LC: s.stamp.Clock.Tick(), HLC: protocol.HLC{now, 0}, TS: now, Op: protocol.OpID{Origin: s.id, Seq: s.seq}}
	}
	firstEvent(t, carol, func() { s.publish("chan/news/", "chat.publication", publication("probe")) })
	last := s.next["chan/news/"]

	// Two lost: a Gap, then the publication after them.
	s.publishNumbered("chan/news/", last+3, "chat.publication", publication("after a loss"))
	gap := nextEvent(t, carol)
	if gap.Gap == nil || gap.Gap.First != last+1 || gap.Gap.Last != last+2 || gap.Topic != "chan/news/" || gap.Gap.Restarted {
		t.Fatalf("gap: %+v", gap)
	}
	if event := nextEvent(t, carol); event.Publication == nil || event.Publication.Text != "after a loss" || event.Seq != last+3 {
		t.Fatalf("after the gap: %+v", event)
	}

	// A direct message on a channel topic is not that topic's event: counted and dropped, and
	// its number keeps the sequence whole (no gap before the next one).
	now := time.Now().UnixMilli()
	s.publish("chan/news/", "chat.direct", protocol.ChatDirect{From: "dan", To: "carol", Text: "misrouted", LC: 1, HLC: protocol.HLC{now, 0}, TS: now, Op: protocol.OpID{Origin: s.id, Seq: 99}})
	s.publish("chan/news/", "chat.publication", publication("in order"))
	if event := nextEvent(t, carol); event.Publication == nil || event.Publication.Text != "in order" {
		t.Fatalf("after the misrouted event: %+v", event)
	}
	if carol.Unexpected() != 1 {
		t.Fatalf("unexpected: %d, want 1", carol.Unexpected())
	}

	// Close ends the events.
	carol.Close()
	for open := true; open; {
		select {
		case _, open = <-carol.Events():
		case <-time.After(10 * time.Second):
			t.Fatal("Events() stayed open after Close")
		}
	}
}

func TestWithoutProxy(t *testing.T) {
	s := newFakeServer(t)
	dan := dial(t, s, "", "dan")
	if err := dan.Join("news"); !errors.Is(err, ErrNoProxy) {
		t.Fatalf("join without a proxy: %v", err)
	}
	if _, open := <-dan.Events(); open {
		t.Fatal("a client without a proxy has a closed Events()")
	}
	if login := must(dan.Login(context.Background(), "")); login.User != "dan" {
		t.Fatalf("login: %+v", login)
	}
	if _, err := Dial(s.broker, "", "no/slash", Options{}); err == nil {
		t.Fatal("a user name with a slash makes no topic")
	}
}
