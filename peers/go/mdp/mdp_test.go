package mdp

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
)

// router is a scripted broker: a ROUTER bound to a free loopback port.
type router struct {
	t      *testing.T
	socket zmq4.Socket
	url    string
	frames chan [][]byte
}

func newRouter(t *testing.T) *router {
	t.Helper()
	socket := zmq4.NewRouter(context.Background(), zmq4.WithID(zmq4.SocketIdentity("test-router")))
	if err := socket.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	r := &router{t: t, socket: socket, url: fmt.Sprintf("tcp://127.0.0.1:%d", socket.Addr().(*net.TCPAddr).Port), frames: make(chan [][]byte, 64)}
	go func() {
		defer close(r.frames)
		for {
			msg, err := socket.Recv()
			if err != nil {
				return
			}
			r.frames <- msg.Frames
		}
	}()
	t.Cleanup(func() { socket.Close() })
	return r
}

// expect returns the next message whose frames after the identity start with header and command.
func (r *router) expect(header []byte, command byte) [][]byte {
	r.t.Helper()
	return r.next(fmt.Sprintf("%s 0x%02x", header, command), func(frames [][]byte) bool {
		return len(frames) >= 3 && string(frames[1]) == string(header) && len(frames[2]) == 1 && frames[2][0] == command
	})
}

// next returns the next message that matches, skipping others; what names it in the failure.
func (r *router) next(what string, matches func(frames [][]byte) bool) [][]byte {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case frames, ok := <-r.frames:
			if !ok {
				r.t.Fatal("router closed")
			}
			if matches(frames) {
				return frames
			}
		case <-deadline:
			r.t.Fatalf("no %s within 10s", what)
		}
	}
}

func (r *router) send(frames ...[]byte) {
	r.t.Helper()
	if err := r.socket.SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		r.t.Fatal(err)
	}
}

func mustEncode(t *testing.T, e *message.Envelope) []byte {
	t.Helper()
	data, err := message.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func loginReply(t *testing.T, request *message.Envelope, user string) []byte {
	stamp, _ := message.NewStamp("srv-test")
	stamp.Clock.Observe(request.LC + 4)
	return mustEncode(t, stamp.Envelope("chat.login.reply", protocol.ChatLoginReply{User: user, FirstSeen: 1, LastSeen: 2}, request.ID))
}

func TestClientMatchesRepliesByIDNotOrder(t *testing.T) {
	r := newRouter(t)
	client, err := Dial(r.url, ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	users := []string{"ann", "bob", "cid"}
	results := make([]string, len(users))
	var wg sync.WaitGroup
	for i, user := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var reply protocol.ChatLoginReply
			if err := client.Call(context.Background(), "chat", "chat.login.request", protocol.ChatLoginRequest{User: user}, &reply); err != nil {
				t.Error(err)
				return
			}
			results[i] = reply.User
		}()
	}
	var requests []*message.Envelope
	var identity []byte
	for range users {
		frames := r.expect(ClientHeader, Request)
		identity = frames[0]
		request, err := message.Decode(frames[4])
		if err != nil {
			t.Fatal(err)
		}
		requests = append(requests, request)
	}
	stray := *requests[0]
	stray.ID = "nobody-waits-for-this"
	r.send(identity, ClientHeader, []byte{Final}, []byte("chat"), loginReply(t, &stray, "zed"))
	for i := len(requests) - 1; i >= 0; i-- {
		fields := requests[i].Body.(map[string]any)
		r.send(identity, ClientHeader, []byte{Partial}, []byte("chat"), loginReply(t, requests[i], "partial"))
		r.send(identity, ClientHeader, []byte{Final}, []byte("chat"), loginReply(t, requests[i], fields["user"].(string)))
	}
	wg.Wait()
	for i, user := range users {
		if results[i] != user {
			t.Fatalf("results %v, want %v", results, users)
		}
	}
	if client.Stamp().Clock.Value() <= requests[2].LC+4 {
		t.Fatalf("the client's clock did not merge the replies' clocks")
	}
}

func TestClientRetriesWithTheSameIDThenTimesOut(t *testing.T) {
	r := newRouter(t)
	client, err := Dial(r.url, ClientOptions{Timeout: 300 * time.Millisecond, Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	result := make(chan error, 1)
	go func() {
		_, err := client.Request(context.Background(), "chat", "chat.login.request", protocol.ChatLoginRequest{User: "ann"})
		result <- err
	}()
	var ids []string
	for i := 0; i < 3; i++ {
		request, err := message.Decode(r.expect(ClientHeader, Request)[4])
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, request.ID)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("retries changed the id: %v", ids)
	}
	if code := codec.CodeOf(<-result); code != codec.CodeTimeout {
		t.Fatalf("want TIMEOUT, got %s", code)
	}
}

func TestClientRaisesTheErrorAPeerAnswered(t *testing.T) {
	r := newRouter(t)
	client, err := Dial(r.url, ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	result := make(chan error, 1)
	go func() {
		_, err := client.Request(context.Background(), "chatt", "chat.login.request", protocol.ChatLoginRequest{User: "ann"})
		result <- err
	}()
	frames := r.expect(ClientHeader, Request)
	request, _ := message.Decode(frames[4])
	broker, _ := message.NewStamp("broker-1")
	r.send(frames[0], ClientHeader, []byte{Final}, []byte("chatt"), mustEncode(t, broker.Error(request.ID, codec.Errorf(codec.CodeUnknownService, "no worker has registered service chatt"))))
	err = <-result
	if e := codec.AsError(err); e.Code != codec.CodeUnknownService || e.Retryable {
		t.Fatalf("got %v", err)
	}
}

func TestClientMMI(t *testing.T) {
	r := newRouter(t)
	client, err := Dial(r.url, ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	result := make(chan bool, 1)
	go func() {
		exists, _ := client.ServiceExists(context.Background(), "chat")
		result <- exists
	}()
	frames := r.expect(ClientHeader, Request)
	if string(frames[3]) != MMIService || string(frames[4]) != "chat" {
		t.Fatalf("unexpected MMI frames %q", frames)
	}
	r.send(frames[0], ClientHeader, []byte{Final}, []byte(MMIService), []byte("200"))
	if !<-result {
		t.Fatal("want true")
	}
}

func loginHandler(_ context.Context, request *message.Envelope) (any, error) {
	var body protocol.ChatLoginRequest
	if err := request.BodyAs(&body); err != nil {
		return nil, err
	}
	if body.User == "mallory" {
		return nil, codec.Errorf(codec.CodeBadRequest, "mallory may not log in")
	}
	return protocol.ChatLoginReply{User: body.User, FirstSeen: 1, LastSeen: 2, Created: true}, nil
}

func startWorker(t *testing.T, url string, handler Handler, options WorkerOptions) *Worker {
	t.Helper()
	worker, err := NewWorker(url, "chat", handler, options)
	if err != nil {
		t.Fatal(err)
	}
	worker.Start()
	t.Cleanup(worker.Stop)
	return worker
}

func TestWorkerAnswersWithTheRequestID(t *testing.T) {
	r := newRouter(t)
	// A long heartbeat: this router never answers heartbeats, and must not look dead mid-test.
	startWorker(t, r.url, loginHandler, WorkerOptions{Heartbeat: 10 * time.Second})
	identity := r.expect(WorkerHeader, Ready)[0]
	client, _ := message.NewStamp("cli-1")
	cases := []struct {
		name   string
		body   [][]byte
		code   string
		sameID bool
	}{
		{"login", [][]byte{mustEncode(t, client.Envelope("chat.login.request", protocol.ChatLoginRequest{User: "ann"}, "req-1"))}, "", true},
		{"refused", [][]byte{mustEncode(t, client.Envelope("chat.login.request", protocol.ChatLoginRequest{User: "mallory"}, "req-2"))}, codec.CodeBadRequest, true},
		{"not msgpack", [][]byte{{0xc1}}, codec.CodeDecode, false},
		{"no body", nil, codec.CodeDecode, false},
		{"two frames", [][]byte{mustEncode(t, client.Envelope("chat.login.request", protocol.ChatLoginRequest{User: "ann"}, "req-3")), []byte("x")}, codec.CodeDecode, true},
		{"invalid body", [][]byte{mustEncodeValue(t, map[string]any{"v": int64(1), "type": "chat.login.request", "id": "req-4", "from": "x", "lc": int64(1), "ts": int64(1), "body": map[string]any{"user": int64(7)}})}, codec.CodeValidation, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.send(append([][]byte{identity, WorkerHeader, {WorkerRequest}, []byte("\x00client"), nil}, c.body...)...)
			frames := r.expect(WorkerHeader, WorkerFinal)
			if string(frames[3]) != "\x00client" || len(frames[4]) != 0 {
				t.Fatalf("bad address frames %q", frames[3:5])
			}
			reply, err := message.Decode(frames[5])
			if err != nil {
				t.Fatal(err)
			}
			if c.code == "" && reply.Type != "chat.login.reply" {
				t.Fatalf("got %s %v", reply.Type, reply.Body)
			}
			if c.code != "" && (reply.Type != "error" || reply.Body.(map[string]any)["code"] != c.code) {
				t.Fatalf("want %s, got %s %v", c.code, reply.Type, reply.Body)
			}
			if c.sameID == (reply.ID == message.UnknownRequestID) {
				t.Fatalf("reply id %q", reply.ID)
			}
		})
	}
}

func mustEncodeValue(t *testing.T, value any) []byte {
	data, err := codec.Encode(value)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestWorkerHeartbeatsWhileBusyAndReconnects(t *testing.T) {
	r := newRouter(t)
	release := make(chan struct{})
	slow := func(ctx context.Context, request *message.Envelope) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return loginHandler(ctx, request)
	}
	worker := startWorker(t, r.url, slow, WorkerOptions{Heartbeat: 100 * time.Millisecond, Liveness: 3, ReconnectDelay: 50 * time.Millisecond})
	first := r.expect(WorkerHeader, Ready)[0]
	client, _ := message.NewStamp("cli-1")
	r.send(first, WorkerHeader, []byte{WorkerRequest}, []byte("\x00c"), nil, mustEncode(t, client.Envelope("chat.login.request", protocol.ChatLoginRequest{User: "ann"}, "slow-1")))
	for i := 0; i < 3; i++ {
		r.expect(WorkerHeader, Heartbeat)
		r.send(first, WorkerHeader, []byte{Heartbeat})
	}
	close(release)
	r.expect(WorkerHeader, WorkerFinal)
	r.send(first, WorkerHeader, []byte{Disconnect})
	second := r.expect(WorkerHeader, Ready)[0]
	if string(second) == string(first) {
		t.Fatal("want a new connection after DISCONNECT")
	}
	// Silence: after 300 ms without a word the worker reconnects again.
	r.expect(WorkerHeader, Ready)
	if worker.Connects() < 3 || worker.Served() != 1 {
		t.Fatalf("connects %d served %d", worker.Connects(), worker.Served())
	}
}

func TestWorkerDrainFinishesTheRequestInFlightAndRefusesNewOnes(t *testing.T) {
	r := newRouter(t)
	entered, release := make(chan struct{}), make(chan struct{})
	slow := func(ctx context.Context, request *message.Envelope) (any, error) {
		close(entered)
		<-release
		return loginHandler(ctx, request)
	}
	worker := startWorker(t, r.url, slow, WorkerOptions{Heartbeat: 10 * time.Second})
	identity := r.expect(WorkerHeader, Ready)[0]
	client, _ := message.NewStamp("cli-1")
	request := func(id string) []byte {
		return mustEncode(t, client.Envelope("chat.login.request", protocol.ChatLoginRequest{User: "ann"}, id))
	}
	r.send(identity, WorkerHeader, []byte{WorkerRequest}, []byte("\x00c"), nil, request("busy-1"))
	<-entered
	drained := make(chan bool, 1)
	go func() { drained <- worker.Drain(10 * time.Second) }()
	<-worker.draining
	// A request reaching the connection while it drains is refused, retryable, with its own id.
	r.send(identity, WorkerHeader, []byte{WorkerRequest}, []byte("\x00d"), nil, request("late-1"))
	refusal, err := message.Decode(r.expect(WorkerHeader, WorkerFinal)[5])
	if err != nil || refusal.ID != "late-1" {
		t.Fatalf("the refusal: %v %v", refusal, err)
	}
	if body := refusal.Body.(map[string]any); body["code"] != codec.CodeUnavailable || body["retryable"] != true {
		t.Fatalf("the refusal says %v", body)
	}
	close(release)
	finals := r.expect(WorkerHeader, WorkerFinal)
	if reply, err := message.Decode(finals[5]); err != nil || reply.ID != "busy-1" || reply.Type != "chat.login.reply" {
		t.Fatalf("the request in flight should finish: %v %v", reply, err)
	}
	r.expect(WorkerHeader, Disconnect)
	if !<-drained {
		t.Fatal("Drain reported a request cancelled")
	}
}
