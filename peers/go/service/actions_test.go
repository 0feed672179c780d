package service

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/mdp"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
)

var errorsAs = errors.As

type addParams struct {
	A int64 `json:"a"`
	B int64 `json:"b"`
}

type addResult struct {
	Sum int64  `json:"sum"`
	By  string `json:"by"`
}

func TestActionsAnswerTypedResultsAndTypedErrors(t *testing.T) {
	name := uniqueName("calc")
	svc := newService(t, name)
	var seenMeta atomic.Value
	svc.Action("add", Typed(func(ctx context.Context, call *Call, p addParams) (addResult, error) {
		seenMeta.Store(call.Meta)
		return addResult{Sum: p.A + p.B, By: svc.Instance()}, nil
	}))
	svc.Action("conflict", func(ctx context.Context, call *Call) (any, error) {
		return nil, Errorf(codec.CodeConflict, "taken").WithData(map[string]any{"who": "ana"})
	})
	svc.Action("nothing", func(ctx context.Context, call *Call) (any, error) { return nil, nil })
	svc.Action("crash", func(ctx context.Context, call *Call) (any, error) { panic("boom") })
	svc.Action("plain", func(ctx context.Context, call *Call) (any, error) { return nil, errors.New("disk on fire") })
	start(t, svc)
	c := caller(t)
	ctx := background(t)

	sum, err := CallAs[addResult](ctx, c, name+".add", addParams{A: 2, B: 3}, WithMeta("trace", "t-1"))
	if err != nil || sum != (addResult{Sum: 5, By: svc.Instance()}) {
		t.Fatalf("add: %+v %v", sum, err)
	}
	if meta := seenMeta.Load().(map[string]string); meta["trace"] != "t-1" || len(meta) != 1 {
		t.Fatalf("the handler's meta is %v: the caller's keys, without correio.*", meta)
	}
	result, err := c.Call(ctx, name+".nothing", nil)
	if err != nil || result != nil {
		t.Fatalf("nothing: %v %v", result, err)
	}

	cases := []struct {
		action    string
		params    any
		code      string
		retryable bool
		message   string
	}{
		{name + ".conflict", nil, codec.CodeConflict, false, "taken"},
		{name + ".missing", nil, codec.CodeNotFound, false, "has no action"},
		{name + ".add", map[string]any{"a": "two"}, codec.CodeValidation, false, "/body/params"},
		{name + ".crash", nil, codec.CodeInternal, false, "boom"},
		{name + ".plain", nil, codec.CodeInternal, false, "disk on fire"},
	}
	for _, tc := range cases {
		_, err := c.Call(ctx, tc.action, tc.params)
		failure := asServiceError(t, err)
		if failure.Code != tc.code || failure.Retryable != tc.retryable || !strings.Contains(failure.Message, tc.message) {
			t.Errorf("%s: got %+v, want %s (retryable %v) mentioning %q", tc.action, failure, tc.code, tc.retryable, tc.message)
		}
		if strings.Contains(failure.Message, "goroutine") || strings.Contains(failure.Message, ".go:") {
			t.Errorf("%s: a stack went on the wire: %s", tc.action, failure.Message)
		}
	}
	_, err = c.Call(ctx, name+".conflict", nil)
	if data := asServiceError(t, err).Data; data["who"] != "ana" {
		t.Fatalf("the error's data did not travel: %v", data)
	}
	_, err = c.Call(ctx, name+".add", map[string]any{"a": "two"})
	if data := asServiceError(t, err).Data; data["path"] != "/body/params" {
		t.Fatalf("VALIDATION names the field: %v", data)
	}

	// An action of another service sent to svc.<name> is a BAD_REQUEST; a malformed name fails before sending.
	_, err = rawClient(t).Request(ctx, brokerService(name), "service.call.request", protocol.ServiceCallRequest{Action: "other.add"})
	if CodeOf(err) != codec.CodeBadRequest {
		t.Fatalf("another service's action: %v", err)
	}
	if _, err := c.Call(ctx, "nodot", nil); CodeOf(err) != codec.CodeBadRequest {
		t.Fatalf("a malformed action name: %v", err)
	}
}

func TestTheCallersTimeoutIsTheHandlersDeadline(t *testing.T) {
	name := uniqueName("sleepy")
	svc := newService(t, name)
	var cancelled atomic.Bool
	var deadlineIn atomic.Int64
	svc.Action("wait", func(ctx context.Context, call *Call) (any, error) {
		deadline, _ := ctx.Deadline()
		deadlineIn.Store(int64(time.Until(deadline)))
		<-ctx.Done()
		cancelled.Store(true)
		return nil, ctx.Err()
	})
	start(t, svc)
	c := caller(t)
	began := time.Now()
	_, err := c.Call(background(t), name+".wait", nil, WithTimeout(300*time.Millisecond))
	if CodeOf(err) != codec.CodeTimeout || !asServiceError(t, err).Retryable {
		t.Fatalf("expected TIMEOUT, got %v", err)
	}
	if elapsed := time.Since(began); elapsed > 5*time.Second {
		t.Fatalf("the call took %s", elapsed)
	}
	waitFor(t, 5*time.Second, "the handler's ctx to end at the caller's deadline", cancelled.Load)
	if in := time.Duration(deadlineIn.Load()); in <= 0 || in > 300*time.Millisecond {
		t.Fatalf("the handler's deadline was %s away, want within the caller's 300ms", in)
	}
}

func TestRetriesKeepTheRequestIDAndRetriesAreDeduplicated(t *testing.T) {
	name := uniqueName("flaky")
	svc := newService(t, name)
	var mu sync.Mutex
	attempts := map[string]int{}
	svc.Action("once", func(ctx context.Context, call *Call) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		attempts[call.ID]++
		if attempts[call.ID] == 1 {
			return nil, Errorf(codec.CodeUnavailable, "warming up") // retryable: not remembered
		}
		return attempts[call.ID], nil
	})
	var runs atomic.Int64
	svc.Action("count", func(ctx context.Context, call *Call) (any, error) { return runs.Add(1), nil })
	start(t, svc)
	c := caller(t)
	ctx := background(t)

	result, err := c.Call(ctx, name+".once", nil, WithRetries(2))
	if err != nil || result != int64(2) {
		t.Fatalf("the retry should succeed on its second attempt: %v %v", result, err)
	}
	mu.Lock()
	if len(attempts) != 1 {
		t.Fatalf("the retry used a new id: %v", attempts)
	}
	mu.Unlock()

	// The same caller, action and id twice: the handler runs once and both get its outcome.
	client := rawClient(t)
	body := protocol.ServiceCallRequest{Action: name + ".count"}
	var results []any
	for range 2 {
		reply, err := client.Request(ctx, brokerService(name), "service.call.request", body, mdp.WithID("same-id-1"))
		if err != nil {
			t.Fatal(err)
		}
		var decoded protocol.ServiceCallReply
		if err := reply.BodyAs(&decoded); err != nil {
			t.Fatal(err)
		}
		results = append(results, *decoded.Result)
	}
	if runs.Load() != 1 || results[0] != int64(1) || results[1] != int64(1) {
		t.Fatalf("a duplicate ran again: runs %d, results %v", runs.Load(), results)
	}
	if _, err := client.Request(ctx, brokerService(name), "service.call.request", body, mdp.WithID("other-id")); err != nil || runs.Load() != 2 {
		t.Fatalf("a new id must run: runs %d, %v", runs.Load(), err)
	}
}

func TestTheCircuitOpensAfterRepeatedFailures(t *testing.T) {
	name := uniqueName("broken")
	svc := newService(t, name)
	var runs atomic.Int64
	svc.Action("always", func(ctx context.Context, call *Call) (any, error) {
		runs.Add(1)
		return nil, Errorf(codec.CodeUnavailable, "down for maintenance")
	})
	start(t, svc)
	c := caller(t, func(o *Options) {
		o.Breaker = BreakerOptions{Enabled: true, Threshold: 3, CoolDown: 300 * time.Millisecond}
	})
	ctx := background(t)
	for range 3 {
		if _, err := c.Call(ctx, name+".always", nil); !strings.Contains(asServiceError(t, err).Message, "maintenance") {
			t.Fatalf("the callee's failure should come back: %v", err)
		}
	}
	_, err := c.Call(ctx, name+".always", nil)
	failure := asServiceError(t, err)
	if failure.Code != codec.CodeUnavailable || failure.Data["circuit"] != "open" || runs.Load() != 3 {
		t.Fatalf("the fourth call should fail fast at the open circuit: %+v, runs %d", failure, runs.Load())
	}
	// After the cool-down one trial goes through (and fails, opening the circuit again).
	waitFor(t, 5*time.Second, "the half-open trial to reach the callee", func() bool {
		_, err := c.Call(ctx, name+".always", nil)
		return strings.Contains(asServiceError(t, err).Message, "maintenance")
	})
	if runs.Load() != 4 {
		t.Fatalf("exactly one trial call should reach the callee, runs %d", runs.Load())
	}
	if c.breakers.state(name+".always") != circuitOpen {
		t.Fatalf("a failed trial opens the circuit again, it is %s", c.breakers.state(name+".always"))
	}
}

func TestAReplyOfAnotherTypeFailsTheCallWithInternal(t *testing.T) {
	name := uniqueName("confused")
	// A hand-made worker of svc.<name> that answers a call with a chat reply.
	socket := zmq4.NewDealer(context.Background())
	defer socket.Close()
	if err := socket.Dial(infra.Broker); err != nil {
		t.Fatal(err)
	}
	if err := socket.SendMulti(zmq4.NewMsgFrom(mdp.WorkerHeader, []byte{mdp.Ready}, []byte(brokerService(name)))); err != nil {
		t.Fatal(err)
	}
	stamp, _ := message.NewStamp("confused-1")
	go func() {
		for {
			msg, err := socket.Recv()
			if err != nil {
				return
			}
			command, err := mdp.ParseWorkerCommand(msg.Frames)
			if err != nil || command.Command != mdp.WorkerRequest {
				continue
			}
			request, err := message.Decode(command.Body[0])
			if err != nil {
				continue
			}
			reply, _ := message.Encode(stamp.Envelope("chat.logout.reply", protocol.ChatLogoutReply{RevokedBefore: 1, User: "ana"}, request.ID))
			_ = socket.SendMulti(zmq4.NewMsgFrom(mdp.WorkerHeader, []byte{mdp.WorkerFinal}, command.Client, nil, reply))
		}
	}()
	c := caller(t)
	var failure *Error
	waitFor(t, 10*time.Second, "the broker to route to the hand-made worker", func() bool {
		_, err := c.Call(background(t), name+".anything", nil, WithTimeout(time.Second))
		failure = asServiceError(t, err)
		return failure.Code != codec.CodeTimeout && failure.Code != codec.CodeUnavailable
	})
	if failure.Code != codec.CodeInternal || failure.Retryable || !strings.Contains(failure.Message, "chat.logout.reply") {
		t.Fatalf("a reply of another type: %+v", failure)
	}
}
