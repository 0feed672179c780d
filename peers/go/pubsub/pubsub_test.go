package pubsub

import (
	"context"
	"fmt"
	"net"
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
	}
	for i, step := range steps {
		got := tracker.Accept("chan/a/", "p", step.seq, step.count)
		if (got == nil) != (step.want == nil) || (got != nil && *got != *step.want) {
			t.Fatalf("step %d: got %+v, want %+v", i, got, step.want)
		}
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

func TestPublisherToSubscriberWithGapsAndDrops(t *testing.T) {
	// The subscriber binds here (a proxy's XPUB would); the raw PUB and the Publisher connect.
	pub := zmq4.NewPub(context.Background())
	defer pub.Close()
	url := listen(t, pub)
	subscriber, err := Subscribe(url, "chan/general/")
	if err != nil {
		t.Fatal(err)
	}
	defer subscriber.Close()
	stamp, _ := message.NewStamp("srv-9")
	send := func(seq, n int64, header []byte, bodies ...[]byte) {
		t.Helper()
		if header == nil {
			header, _ = codec.Encode(Header{N: n, P: "srv-9", S: seq})
		}
		if bodies == nil {
			for i := int64(0); i < n; i++ {
				data, err := message.Encode(stamp.Envelope("chat.publication", publication(fmt.Sprint(seq+i), seq+i), ""))
				if err != nil {
					t.Fatal(err)
				}
				bodies = append(bodies, data)
			}
		}
		if err := pub.SendMulti(zmq4.NewMsgFrom(append([][]byte{[]byte("chan/general/"), header}, bodies...)...)); err != nil {
			t.Fatal(err)
		}
	}
	received := make(chan Delivery, 64)
	go func() {
		for {
			delivery, err := subscriber.Receive()
			if err != nil {
				close(received)
				return
			}
			received <- delivery
		}
	}()
	// The subscription reaches the PUB a moment after connecting: probe until one arrives, then
	// let the last probes land. Probes are in order, so the last one received is the latest sent.
	var last int64
	for probe := int64(1); last == 0; probe++ {
		if probe > 100 {
			t.Fatal("the subscription never reached the publisher")
		}
		send(probe, 1, nil)
		select {
		case d := <-received:
			last = d.Publication.Seq
		case <-time.After(100 * time.Millisecond):
		}
	}
	for draining := true; draining; {
		select {
		case d := <-received:
			last = d.Publication.Seq
		case <-time.After(300 * time.Millisecond):
			draining = false
		}
	}
	next := last + 1
	send(next, 1, nil)   // in order
	send(next+3, 2, nil) // lost next+1 .. next+2
	badCount, _ := codec.Encode(Header{N: 2, P: "srv-9", S: next + 5})
	send(next+5, 1, badCount)          // announces 2 bodies, carries 1: dropped
	send(next+6, 1, []byte{0xc1})      // not MessagePack: dropped
	send(next+7, 1, nil, []byte{0x80}) // the body is no envelope: dropped
	send(next+8, 1, nil)               // so next+5 .. next+7 are a gap
	want := []string{
		fmt.Sprintf("pub %d", next), fmt.Sprintf("gap %d-%d", next+1, next+2), fmt.Sprintf("pub %d", next+3), fmt.Sprintf("pub %d", next+4),
		fmt.Sprintf("gap %d-%d", next+5, next+7), fmt.Sprintf("pub %d", next+8),
	}
	for i, w := range want {
		select {
		case d := <-received:
			got := ""
			if d.Gap != nil {
				got = fmt.Sprintf("gap %d-%d", d.Gap.First, d.Gap.Last)
			} else {
				got = fmt.Sprintf("pub %d", d.Publication.Seq)
			}
			if got != w {
				t.Fatalf("delivery %d: got %s, want %s", i, got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("delivery %d (%s) never came", i, w)
		}
	}
	if subscriber.Dropped != 3 {
		t.Fatalf("dropped %d, want 3", subscriber.Dropped)
	}
}
