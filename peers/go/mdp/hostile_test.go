package mdp

import (
	"context"
	"testing"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
)

// request sends one REQUEST and returns the decoded FINAL.
func (r *router) request(identity []byte, body []byte) *message.Envelope {
	r.t.Helper()
	r.send(identity, WorkerHeader, []byte{WorkerRequest}, []byte("\x00c"), nil, body)
	reply, err := message.Decode(r.expect(WorkerHeader, WorkerFinal)[5])
	if err != nil {
		r.t.Fatal(err)
	}
	return reply
}

func errorOf(t *testing.T, reply *message.Envelope) (code, reason string) {
	t.Helper()
	if reply.Type != "error" {
		t.Fatalf("want an error, got %s %v", reply.Type, reply.Body)
	}
	body := reply.Body.(map[string]any)
	data, _ := body["data"].(map[string]any)
	reason, _ = data["reason"].(string)
	return body["code"].(string), reason
}

func TestWorkerServesARequestBeyondTheLamportBoundsMergingItOnlyUpToThem(t *testing.T) {
	r := newRouter(t)
	stamp, _ := message.NewStamp("go-bounded")
	startWorker(t, r.url, loginHandler, WorkerOptions{Heartbeat: 10 * time.Second, Stamp: stamp})
	identity := r.expect(WorkerHeader, Ready)[0]
	client, _ := message.NewStamp("attacker")
	hostile := client.Envelope("chat.login.request", protocol.ChatLoginRequest{User: "ann"}, "far-ahead")
	hostile.LC = codec.MaxSafeInteger - 1
	reply := r.request(identity, mustEncode(t, hostile))
	if reply.Type != "chat.login.reply" || reply.ID != "far-ahead" {
		t.Fatalf("want the normal reply, got %s %s %v", reply.Type, reply.ID, reply.Body)
	}
	// Merged up to the bound (the free jump 2^16 plus the 2^32 budget), far from exhaustion.
	if reply.LC <= 1<<32 || reply.LC > 1<<32+1<<17 || stamp.Clock.Exhausted() {
		t.Fatalf("reply lc %d, clock %d", reply.LC, stamp.Clock.Value())
	}
	if clamped, requests := stamp.Clock.Stats(); clamped != 1 || requests != 1 {
		t.Fatalf("clamped %d, of them requests %d", clamped, requests)
	}
	honest := r.request(identity, mustEncode(t, client.Envelope("chat.login.request", protocol.ChatLoginRequest{User: "ann"}, "honest")))
	if honest.Type != "chat.login.reply" || honest.LC <= reply.LC {
		t.Fatalf("got %s lc %d", honest.Type, honest.LC)
	}
}

func TestWorkerWithAnExhaustedClockAnswersUnavailable(t *testing.T) {
	r := newRouter(t)
	stamp, _ := message.NewStamp("go-full")
	stamp.Clock = message.NewLamportClock(codec.MaxSafeInteger)
	startWorker(t, r.url, loginHandler, WorkerOptions{Heartbeat: 10 * time.Second, Stamp: stamp})
	identity := r.expect(WorkerHeader, Ready)[0]
	client, _ := message.NewStamp("cli-1")
	for i := 0; i < 2; i++ {
		reply := r.request(identity, mustEncode(t, client.Envelope("chat.login.request", protocol.ChatLoginRequest{User: "ann"}, "")))
		if code, reason := errorOf(t, reply); code != codec.CodeUnavailable || reason != "lamport_exhausted" || reply.LC != codec.MaxSafeInteger {
			t.Fatalf("got %s %s lc %d", code, reason, reply.LC)
		}
	}
}

func TestWorkerContainsFailuresOnItsErrorPathAndKeepsServing(t *testing.T) {
	r := newRouter(t)
	stamp, _ := message.NewStamp("go-broken")
	handler := func(ctx context.Context, request *message.Envelope) (any, error) {
		switch request.ID {
		case "panics":
			panic("boom")
		case "unencodable":
			failure := codec.Errorf(codec.CodeBadRequest, "data no encoder takes")
			failure.Data = map[string]any{"channel": make(chan int)}
			return nil, failure
		}
		return loginHandler(ctx, request)
	}
	worker := startWorker(t, r.url, handler, WorkerOptions{Heartbeat: 10 * time.Second, Stamp: stamp})
	identity := r.expect(WorkerHeader, Ready)[0]
	client, _ := message.NewStamp("cli-1")
	login := func(id string) []byte {
		return mustEncode(t, client.Envelope("chat.login.request", protocol.ChatLoginRequest{User: "ann"}, id))
	}
	// A panicking handler, and an error reply that cannot be encoded: both answered INTERNAL.
	for _, id := range []string{"panics", "unencodable"} {
		if code, _ := errorOf(t, r.request(identity, login(id))); code != codec.CodeInternal {
			t.Fatalf("%s: got %s", id, code)
		}
	}
	// No error reply can be built at all (a sender id the encoder refuses): contained and counted.
	waitUntil(t, func() bool { return worker.Served() == 2 }) // the goroutines of both replies are done with the stamp
	stamp.Sender = "not a sender id"
	r.send(identity, WorkerHeader, []byte{WorkerRequest}, []byte("\x00c"), nil, login("panics"))
	waitUntil(t, func() bool { return worker.ReplyFailures() == 1 })
	stamp.Sender = "go-broken"
	if reply := r.request(identity, login("after")); reply.Type != "chat.login.reply" || reply.ID != "after" {
		t.Fatalf("got %s %s", reply.Type, reply.ID)
	}
}

// waitUntil polls condition every 10 ms for up to 10 s.
func waitUntil(t *testing.T, condition func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !condition(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10 s")
		}
	}
}
