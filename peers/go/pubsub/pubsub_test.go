package pubsub

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
)

func TestTrackerRules(t *testing.T) {
	tracker := NewTracker()
	steps := []struct {
		seq, count int64
		want       *Gap
	}{
		{42, 1, nil},
		{43, 3, nil},
		{50, 1, &Gap{Topic: "chan/a/", Publisher: "p", First: 46, Last: 49}},
		{1, 2, nil},
		{5, 1, &Gap{Topic: "chan/a/", Publisher: "p", First: 3, Last: 4}},
		{3, 1, &Gap{Topic: "chan/a/", Publisher: "p", First: 1, Last: 2, Restarted: true}},
		{1 << 40, 1, nil}, // an implausible jump: re-anchored, no gap of a trillion publications
		{1<<40 + 1, 1, nil},
	}
	for i, step := range steps {
		got := tracker.Accept("chan/a/", "p", step.seq, step.count)
		if (got == nil) != (step.want == nil) || (got != nil && *got != *step.want) {
			t.Fatalf("step %d: got %+v, want %+v", i, got, step.want)
		}
	}
	if tracker.Implausible != 1 {
		t.Fatalf("implausible jumps counted: %d", tracker.Implausible)
	}
	header, _ := codec.Encode(map[string]any{"n": int64(3), "p": "p", "s": int64(codec.MaxSafeInteger - 1)})
	if _, err := ParseHeader(header, codec.DefaultLimits); err == nil {
		t.Fatal("a header whose s + n - 1 passes 2^53 - 1 was accepted")
	}
	if gap := tracker.Accept("chan/b/", "p", 9, 1); gap != nil {
		t.Fatalf("topics are tracked apart: %+v", gap)
	}
}

func listen(t *testing.T, socket zmq4.Socket) string {
	t.Helper()
	if err := socket.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("tcp://127.0.0.1:%d", socket.Addr().(*net.TCPAddr).Port)
}

func publication(text string, seq int64) protocol.ChatPublication {
	now := message.NowMs()
	return protocol.ChatPublication{Channel: "general", User: "alice", Text: text, LC: seq, HLC: protocol.HLC{now, 0}, TS: now, Op: protocol.OpID{Origin: "srv-1", Seq: seq}}
}

const rigTopic = "chan/general/"

// rig is a raw PUB, bound as a proxy's XPUB would be, and a Subscriber connected to it, past the
// probes that made sure the subscription reached the PUB. next is the next sequence number in
// order. Envelopes the rig builds carry their sequence number as text, which expect checks.
type rig struct {
	t          *testing.T
	pub        zmq4.Socket
	subscriber *Subscriber
	stamp      *message.Stamp
	received   chan Delivery
	next       int64
}

func newRig(t *testing.T) *rig {
	t.Helper()
	pub := zmq4.NewPub(context.Background())
	t.Cleanup(func() { pub.Close() })
	subscriber, err := Subscribe(listen(t, pub), rigTopic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { subscriber.Close() })
	stamp, _ := message.NewStamp("srv-9")
	r := &rig{t: t, pub: pub, subscriber: subscriber, stamp: stamp, received: make(chan Delivery, 64)}
	go func() {
		for {
			delivery, err := subscriber.Receive()
			if err != nil {
				close(r.received)
				return
			}
			r.received <- delivery
		}
	}()
	// The subscription reaches the PUB a moment after connecting: probe until one arrives, then
	// let the last probes land. Probes are in order, so the last one received is the latest sent.
	var last int64
	for probe := int64(1); last == 0; probe++ {
		if probe > 100 {
			t.Fatal("the subscription never reached the publisher")
		}
		r.sendBatch(probe, 1)
		select {
		case d := <-r.received:
			last = d.Publication.Seq
		case <-time.After(100 * time.Millisecond):
		}
	}
	for draining := true; draining; {
		select {
		case d := <-r.received:
			last = d.Publication.Seq
		case <-time.After(300 * time.Millisecond):
			draining = false
		}
	}
	r.next = last + 1
	return r
}

// envelope is a valid chat.publication envelope whose text is text, or seq when text is empty.
func (r *rig) envelope(seq int64, text string) []byte {
	r.t.Helper()
	if text == "" {
		text = fmt.Sprint(seq)
	}
	data, err := message.Encode(r.stamp.Envelope("chat.publication", publication(text, seq), ""))
	if err != nil {
		r.t.Fatal(err)
	}
	return data
}

// bodies is a bodies frame of valid envelopes numbered seq .. seq+n-1.
func (r *rig) bodies(seq, n int64) []byte {
	var frame []byte
	for i := int64(0); i < n; i++ {
		frame = append(frame, r.envelope(seq+i, "")...)
	}
	return frame
}

func (r *rig) header(seq, n int64) []byte {
	header, _ := codec.Encode(Header{N: n, P: "srv-9", S: seq})
	return header
}

func (r *rig) send(frames ...[]byte) {
	r.t.Helper()
	if err := r.pub.SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		r.t.Fatal(err)
	}
}

// sendBatch sends a well-formed message of n valid envelopes numbered from seq.
func (r *rig) sendBatch(seq, n int64) {
	r.send([]byte(rigTopic), r.header(seq, n), r.bodies(seq, n))
}

// expect reads the next deliveries: "pub <seq>" (its text must be the seq) or "gap <first>-<last>".
func (r *rig) expect(want ...string) {
	r.t.Helper()
	for i, w := range want {
		select {
		case d := <-r.received:
			got := ""
			if d.Gap != nil {
				got = fmt.Sprintf("gap %d-%d", d.Gap.First, d.Gap.Last)
			} else {
				got = fmt.Sprintf("pub %d", d.Publication.Seq)
				if text := d.Publication.Envelope.Body.(map[string]any)["text"]; text != fmt.Sprint(d.Publication.Seq) {
					r.t.Fatalf("delivery %d: seq %d carries the text %.40v", i, d.Publication.Seq, text)
				}
			}
			if got != w {
				r.t.Fatalf("delivery %d: got %s, want %s", i, got, w)
			}
		case <-time.After(10 * time.Second):
			r.t.Fatalf("delivery %d (%s) never came", i, w)
		}
	}
}

func TestSubscriberWithGapsAndDrops(t *testing.T) {
	r := newRig(t)
	next := r.next
	r.sendBatch(next, 1)                                                  // in order
	r.sendBatch(next+3, 2)                                                // lost next+1 .. next+2
	r.send([]byte(rigTopic), r.header(next+5, 2), r.envelope(next+5, "")) // announces 2 bodies, carries 1: dropped
	r.send([]byte(rigTopic), []byte{0xc1}, r.envelope(next+6, ""))        // the header is not MessagePack: dropped
	r.send([]byte(rigTopic), r.header(next+7, 1), []byte{0x80})           // the body is no envelope: dropped alone
	r.sendBatch(next+8, 1)                                                // so next+5 .. next+6 are a gap
	r.expect(
		fmt.Sprintf("pub %d", next), fmt.Sprintf("gap %d-%d", next+1, next+2), fmt.Sprintf("pub %d", next+3), fmt.Sprintf("pub %d", next+4),
		fmt.Sprintf("gap %d-%d", next+5, next+6), fmt.Sprintf("pub %d", next+8),
	)
	if r.subscriber.Dropped != 2 || r.subscriber.DroppedBodies != 1 {
		t.Fatalf("dropped %d messages and %d bodies, want 2 and 1", r.subscriber.Dropped, r.subscriber.DroppedBodies)
	}
}

func TestBatchesAreDeliveredInOrder(t *testing.T) {
	r := newRig(t)
	next := r.next
	r.sendBatch(next, 5)
	r.sendBatch(next+5, 3)
	var want []string
	for seq := next; seq < next+8; seq++ {
		want = append(want, fmt.Sprintf("pub %d", seq))
	}
	r.expect(want...)
}

func TestMalformedMessagesAreDroppedWhole(t *testing.T) {
	r := newRig(t)
	topic := []byte(rigTopic)
	proto, _ := hex.DecodeString("81a95f5f70726f746f5f5f01") // {"__proto__": 1}
	cases := []struct {
		name   string
		n      int64
		frames func(seq int64) [][]byte
	}{
		{"one frame per body, as before", 2, func(seq int64) [][]byte {
			return [][]byte{topic, r.header(seq, 2), r.envelope(seq, ""), r.envelope(seq+1, "")}
		}},
		{"no bodies frame", 1, func(seq int64) [][]byte { return [][]byte{topic, r.header(seq, 1)} }},
		{"n-1 values", 3, func(seq int64) [][]byte { return [][]byte{topic, r.header(seq, 3), r.bodies(seq, 2)} }},
		{"n+1 values", 3, func(seq int64) [][]byte { return [][]byte{topic, r.header(seq, 3), r.bodies(seq, 4)} }},
		{"a trailing byte", 3, func(seq int64) [][]byte {
			return [][]byte{topic, r.header(seq, 3), append(r.bodies(seq, 3), 0xc1)}
		}},
		{"the last value truncated", 3, func(seq int64) [][]byte {
			frame := r.bodies(seq, 3)
			return [][]byte{topic, r.header(seq, 3), frame[:len(frame)-1]}
		}},
		{"a __proto__ key in one value", 3, func(seq int64) [][]byte {
			frame := append(append(r.envelope(seq, ""), proto...), r.envelope(seq+2, "")...)
			return [][]byte{topic, r.header(seq, 3), frame}
		}},
		// Valid envelopes of 4,000-character texts, each far below MaxBytes, the frame above it.
		{"a bodies frame over MaxBytes", 270, func(seq int64) [][]byte {
			var frame []byte
			for i := int64(0); i < 270; i++ {
				frame = append(frame, r.envelope(seq+i, strings.Repeat("x", 4000))...)
			}
			if len(frame) <= codec.DefaultLimits.MaxBytes {
				t.Fatalf("the frame is only %d bytes", len(frame))
			}
			return [][]byte{topic, r.header(seq, 270), frame}
		}},
	}
	// Each malformed message is followed by a good one: the malformed one's numbers are a gap.
	// Dropped is read only at the end: the receiving goroutine writes it.
	seq := r.next
	for _, c := range cases {
		r.send(c.frames(seq)...)
		r.sendBatch(seq+c.n, 1)
		r.t.Log(c.name)
		r.expect(fmt.Sprintf("gap %d-%d", seq, seq+c.n-1), fmt.Sprintf("pub %d", seq+c.n))
		seq += c.n + 1
	}
	if r.subscriber.Dropped != len(cases) || r.subscriber.DroppedBodies != 0 {
		t.Fatalf("dropped %d messages and %d bodies, want %d and 0", r.subscriber.Dropped, r.subscriber.DroppedBodies, len(cases))
	}
}

func TestAnInvalidEnvelopeIsDroppedAlone(t *testing.T) {
	r := newRig(t)
	s := r.next
	unknownType, err := codec.Encode(r.stamp.Envelope("chat.nothing", publication("x", s+3), ""))
	if err != nil {
		t.Fatal(err)
	}
	frame := append(append(append(append(r.envelope(s, ""), 0x80), r.envelope(s+2, "")...), unknownType...), r.envelope(s+4, "")...)
	r.send([]byte(rigTopic), r.header(s, 5), frame)
	r.sendBatch(s+5, 1) // in order: the header accounted for the bodies dropped
	r.expect(fmt.Sprintf("pub %d", s), fmt.Sprintf("pub %d", s+2), fmt.Sprintf("pub %d", s+4), fmt.Sprintf("pub %d", s+5))
	if r.subscriber.Dropped != 0 || r.subscriber.DroppedBodies != 2 {
		t.Fatalf("dropped %d messages and %d bodies, want 0 and 2", r.subscriber.Dropped, r.subscriber.DroppedBodies)
	}
}

func TestPublisherSendsOneBodiesFrame(t *testing.T) {
	// A Subscriber around a bound SUB: the Publisher dials, as it dials the proxy's XSUB.
	ctx, cancel := context.WithCancel(context.Background())
	sub := zmq4.NewSub(ctx)
	subscriber := &Subscriber{socket: sub, cancel: cancel, tracker: NewTracker(), limits: codec.DefaultLimits}
	defer subscriber.Close()
	if err := subscriber.Add("chan/"); err != nil {
		t.Fatal(err)
	}
	stamp, _ := message.NewStamp("srv-7")
	publisher, err := NewPublisher(listen(t, sub), stamp)
	if err != nil {
		t.Fatal(err)
	}
	defer publisher.Close()
	for deadline := time.Now().Add(5 * time.Second); !publisher.Subscribed(rigTopic); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the subscription never reached the publisher")
		}
	}
	if publisher.Subscribed("user/ana/") {
		t.Fatal("subscribed to chan/ only")
	}

	bodies := func(from, n int) []any {
		var out []any
		for i := from; i < from+n; i++ {
			out = append(out, publication(fmt.Sprint(i), int64(i)))
		}
		return out
	}
	if seq, err := publisher.Publish(rigTopic, "chat.publication", bodies(1, 4)...); err != nil || seq != 1 {
		t.Fatalf("first batch: seq %d, %v", seq, err)
	}
	// 300 envelopes of 4,000-character texts pass 1 MiB: refused whole, nothing sent or numbered.
	big := make([]any, 300)
	for i := range big {
		big[i] = publication(strings.Repeat("x", 4000), int64(i+1))
	}
	if _, err := publisher.Publish(rigTopic, "chat.publication", big...); err == nil || !strings.Contains(err.Error(), "batch limit") {
		t.Fatalf("a batch over 1 MiB: %v", err)
	}
	if _, err := publisher.Publish(rigTopic, "chat.publication"); err == nil {
		t.Fatal("a message of no bodies was published")
	}
	if seq, err := publisher.Publish(rigTopic, "chat.publication", bodies(5, 1)...); err != nil || seq != 5 {
		t.Fatalf("second batch: seq %d, %v", seq, err)
	}
	timeout := time.AfterFunc(10*time.Second, cancel) // a blocked Receive then fails
	defer timeout.Stop()
	for want := int64(1); want <= 5; want++ {
		d, err := subscriber.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if d.Gap != nil || d.Publication.Seq != want || d.Publication.Publisher != "srv-7" || d.Publication.Envelope.Body.(map[string]any)["text"] != fmt.Sprint(want) {
			t.Fatalf("delivery %d: %+v %+v", want, d.Gap, d.Publication)
		}
	}
}
