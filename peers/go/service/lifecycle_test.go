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
	"correio.dev/peers/go/pubsub"
)

func TestAFailingTaskIsRestartedWithBackoff(t *testing.T) {
	svc := newService(t, uniqueName("tasker"))
	var mu sync.Mutex
	var starts []time.Time
	var stopped atomic.Bool
	svc.Task("loop", func(ctx context.Context, task *TaskContext) error {
		mu.Lock()
		starts = append(starts, time.Now())
		run := len(starts)
		mu.Unlock()
		if run != task.Run {
			t.Errorf("run %d says it is run %d", run, task.Run)
		}
		switch run {
		case 1:
			return errors.New("first run fails")
		case 2:
			panic("second run panics")
		}
		<-ctx.Done() // the third one runs until the service stops
		stopped.Store(true)
		return nil
	})
	var ticks atomic.Int64
	svc.Every("tick", 50*time.Millisecond, func(ctx context.Context, task *TaskContext) error {
		ticks.Add(1)
		return task.Broadcast("tick.tock", nil)
	})
	start(t, svc)
	waitFor(t, 10*time.Second, "the third run", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(starts) == 3
	})
	waitFor(t, 10*time.Second, "periodic ticks", func() bool { return ticks.Load() >= 3 })
	mu.Lock()
	// Backoff: 100 ms, then 200 ms, each with up to half taken off by jitter.
	if first, second := starts[1].Sub(starts[0]), starts[2].Sub(starts[1]); first < 50*time.Millisecond || second < 100*time.Millisecond {
		t.Errorf("restarts came after %s and %s, want backoff of at least 50ms and 100ms", first, second)
	}
	mu.Unlock()
	svc.Stop()
	if !stopped.Load() {
		t.Fatal("Stop should cancel the running task and wait for it")
	}
	for _, task := range svc.tasks {
		select {
		case <-task.done: // Stop waited for every task to end: nothing ticks after it
		default:
			t.Fatalf("task %s still runs after Stop", task.name)
		}
	}
}

func TestStopDrainsInFlightCallsAndRefusesNewOnes(t *testing.T) {
	name := uniqueName("drainer")
	svc := newService(t, name, func(o *Options) { o.Concurrency = 2 })
	entered, release := make(chan struct{}, 1), make(chan struct{})
	svc.Action("work", func(ctx context.Context, call *Call) (any, error) {
		entered <- struct{}{}
		select {
		case <-release:
			return "finished", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	start(t, svc)
	c := caller(t)
	ctx := background(t)
	inFlight := make(chan error, 1)
	var result atomic.Value
	go func() {
		value, err := c.Call(ctx, name+".work", nil, WithTimeout(10*time.Second))
		result.Store(value)
		inFlight <- err
	}()
	<-entered
	stopped := make(chan struct{})
	go func() {
		svc.Stop()
		close(stopped)
	}()
	waitFor(t, 5*time.Second, "the service to be stopping", func() bool { return svc.State() == Stopping })
	// A new call is not served any more: refused or left for another instance, retryable either way.
	_, err := c.Call(ctx, name+".work", nil, WithTimeout(300*time.Millisecond))
	if failure := asServiceError(t, err); !failure.Retryable {
		t.Fatalf("a call during the drain should fail retryable, got %+v", failure)
	}
	select {
	case <-stopped:
		t.Fatal("Stop returned while a call was in flight")
	default:
	}
	close(release)
	if err := <-inFlight; err != nil || result.Load() != "finished" {
		t.Fatalf("the in-flight call should finish: %v %v", result.Load(), err)
	}
	<-stopped
	if svc.State() != Stopped {
		t.Fatalf("state %v after Stop", svc.State())
	}
	// The service's own serve path refuses once stopping, as its worker connections do.
	if _, err := svc.serve(ctx, nil); CodeOf(err) != codec.CodeUnavailable || !asServiceError(t, err).Retryable {
		t.Fatalf("serve after stop: %v", err)
	}
}

func TestHostileInputNeverKillsTheService(t *testing.T) {
	name := uniqueName("sturdy")
	event := "poke." + uniqueName("event")
	svc := newService(t, name)
	var handled atomic.Int64
	svc.On(event, func(ctx context.Context, e *Event) error { handled.Add(1); return nil })
	svc.Action("ping", func(ctx context.Context, call *Call) (any, error) { return "pong", nil })
	start(t, svc)
	ctx := background(t)

	// Requests that are not valid envelopes, or not the service's messages, get an error reply.
	socket := zmq4.NewDealer(ctx)
	defer socket.Close()
	if err := socket.Dial(infra.Broker); err != nil {
		t.Fatal(err)
	}
	for _, body := range [][]byte{{0xc1}, []byte("not msgpack at all"), {0x80}, {0x81, 0xa1, 'v', 0x01}} {
		if err := socket.SendMulti(zmq4.NewMsgFrom(mdp.ClientRequest(brokerService(name), body)...)); err != nil {
			t.Fatal(err)
		}
		reply, err := socket.Recv()
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := mdp.ParseClientReply(reply.Frames)
		if err != nil || !parsed.Final {
			t.Fatalf("a hostile request got %v %v", parsed, err)
		}
	}
	client := rawClient(t)
	if _, err := client.Request(ctx, brokerService(name), "chat.users.request", map[string]any{}); CodeOf(err) != codec.CodeBadRequest {
		t.Fatalf("another service's message type: %v", err)
	}

	// Publications that are not valid: broken frames, bodies of the wrong shape, forged announcements.
	publisher := zmq4.NewPub(ctx)
	defer publisher.Close()
	if err := publisher.Dial(infra.ProxyPub); err != nil {
		t.Fatal(err)
	}
	header, _ := codec.Encode(pubsub.Header{N: 1, P: "hostile-1", S: 1})
	junk := [][][]byte{
		{[]byte(eventTopic(event)), header, {0xc1}},
		{[]byte(eventTopic(event)), {0x90}, {0x80}},
		{[]byte(announceNamespace + "x/"), header, []byte("garbage")},
		{[]byte(eventTopic(event))},
	}
	stamp := svc.stamp
	forged, _ := codec.Encode(stamp.Envelope("service.announce", map[string]any{"service": "x"}, "")) // fails the schema
	junk = append(junk, [][]byte{[]byte(announceNamespace + "x/"), header, forged})
	// Until a valid broadcast after the junk is handled, everything before it was dealt with.
	var sequence int64 = 1
	waitFor(t, 10*time.Second, "a broadcast after the junk", func() bool {
		for _, frames := range junk {
			_ = publisher.SendMulti(zmq4.NewMsgFrom(frames...))
		}
		sequence++
		valid, _ := codec.Encode(stamp.Envelope("service.event", map[string]any{"event": event, "sender": "hostile-1"}, ""))
		next, _ := codec.Encode(pubsub.Header{N: 1, P: "hostile-1", S: sequence})
		_ = publisher.SendMulti(zmq4.NewMsgFrom([]byte(eventTopic(event)), next, valid))
		return handled.Load() > 0
	})
	if svc.State() != Running {
		t.Fatalf("the service is %v", svc.State())
	}
	if result, err := caller(t).Call(ctx, name+".ping", nil); err != nil || result != "pong" {
		t.Fatalf("the service should still answer: %v %v", result, err)
	}
	if svc.Malformed() == 0 {
		t.Fatal("the junk should have been counted")
	}
}

func TestTheDrainTimeoutCancelsActionsThatDoNotFinish(t *testing.T) {
	name := uniqueName("stubborn")
	svc := newService(t, name, func(o *Options) { o.DrainTimeout = 200 * time.Millisecond })
	entered, cancelled := make(chan struct{}, 1), make(chan struct{})
	svc.Action("forever", func(ctx context.Context, call *Call) (any, error) {
		entered <- struct{}{}
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	})
	start(t, svc)
	c := caller(t)
	go func() { _, _ = c.Call(background(t), name+".forever", nil, WithTimeout(20*time.Second)) }()
	<-entered
	svc.Stop()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the action's ctx did not end at the drain timeout")
	}
}

func TestBroadcastsBeyondTheQueueBoundAreDroppedAndCounted(t *testing.T) {
	event := "flood." + uniqueName("event")
	svc := newService(t, uniqueName("flooded"))
	release := make(chan struct{})
	var handled atomic.Int64
	svc.On(event, func(ctx context.Context, e *Event) error {
		<-release
		handled.Add(1)
		return nil
	})
	start(t, svc)
	stamp, _ := message.NewStamp("flooder-1")
	publisher, err := pubsub.NewPublisher(infra.ProxyPub, stamp)
	if err != nil {
		t.Fatal(err)
	}
	defer publisher.Close()
	waitFor(t, 10*time.Second, "the proxy to forward the event's topic", func() bool { return publisher.Subscribed(eventTopic(event)) })
	// Two messages of 750 broadcasts each: one handler blocked, 1,000 queued, the rest dropped.
	bodies := make([]any, 750)
	for i := range bodies {
		bodies[i] = protocol.ServiceEvent{Event: event, Sender: "flooder-1"}
	}
	for range 2 {
		if _, err := publisher.Publish(eventTopic(event), "service.event", bodies...); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "the flood to be dropped beyond the bound", func() bool { return svc.DroppedBroadcasts() >= 499 })
	close(release)
	waitFor(t, 10*time.Second, "the queued broadcasts to be handled", func() bool { return handled.Load()+svc.DroppedBroadcasts() == 1500 })
	if dropped := svc.DroppedBroadcasts(); dropped > 500 {
		t.Fatalf("%d dropped: the queue holds 1,000 (and one in the handler)", dropped)
	}
}

func TestRunServesUntilItsContextEndsThenDrains(t *testing.T) {
	svc := newService(t, uniqueName("runner"))
	svc.Action("ping", func(ctx context.Context, call *Call) (any, error) { return "pong", nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx) }()
	waitFor(t, 30*time.Second, "Run to start the service", func() bool { return svc.State() == Running })
	if result, err := caller(t).Call(background(t), svc.Name()+".ping", nil); err != nil || result != "pong" {
		t.Fatalf("the running service should answer: %v %v", result, err)
	}
	cancel()
	select {
	case err := <-ran:
		if err != nil || svc.State() != Stopped {
			t.Fatalf("Run returned %v in state %v", err, svc.State())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	select {
	case <-svc.Done():
	default:
		t.Fatal("Done is not closed after Run")
	}
}

func TestAFailedStartCleansUpAndStopReturns(t *testing.T) {
	svc := newService(t, uniqueName("lonely"), func(o *Options) {
		o.ProxySub = "tcp://127.0.0.1:1" // nothing listens there
		o.StartTimeout = 500 * time.Millisecond
	})
	svc.Action("ping", func(ctx context.Context, call *Call) (any, error) { return nil, nil })
	stopped := make(chan struct{})
	go func() {
		for svc.State() == Created { // bounded by the start below, which leaves Created at once
			time.Sleep(time.Millisecond)
		}
		svc.Stop() // while starting: waits for Start to give up
		close(stopped)
	}()
	err := svc.Start(context.Background())
	if failure := asServiceError(t, err); failure.Code != codec.CodeUnavailable || !strings.Contains(failure.Message, "127.0.0.1:1") {
		t.Fatalf("start: %+v", failure)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return after a failed start")
	}
	if svc.State() != Stopped {
		t.Fatalf("state %v after a failed start", svc.State())
	}
}
