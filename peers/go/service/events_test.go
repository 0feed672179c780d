package service

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
)

// received records the events each instance handled.
type received struct {
	mu     sync.Mutex
	events map[string][]*Event // by instance
}

func (r *received) handler(instance string) EventHandler {
	return func(ctx context.Context, event *Event) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.events == nil {
			r.events = map[string][]*Event{}
		}
		r.events[instance] = append(r.events[instance], event)
		return nil
	}
}

// count is how many events with data equal to marker the instance handled.
func (r *received) count(instance string, marker any) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, event := range r.events[instance] {
		if event.Data == marker {
			n++
		}
	}
	return n
}

// instanceWith starts an instance of group handling event into r.
func instanceWith(t *testing.T, group, event string, r *received) *Service {
	svc := newService(t, group)
	svc.On(event, r.handler(svc.Instance()))
	return start(t, svc)
}

func TestEmitReachesOneInstancePerGroup(t *testing.T) {
	event := "job." + uniqueName("done")
	workers, audit := uniqueName("workers"), uniqueName("audit")
	var r received
	w1, w2 := instanceWith(t, workers, event, &r), instanceWith(t, workers, event, &r)
	a := instanceWith(t, audit, event, &r)
	emitter := caller(t)
	ctx := background(t)
	if err := emitter.WaitFor(ctx, workers, audit); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the emitter to know both workers", func() bool { return len(emitter.Instances(workers)) == 2 })
	for i := range int64(4) {
		report, err := emitter.Emit(ctx, event, i)
		if err != nil || !slices.Equal(report.Delivered, sorted([]string{workers, audit})) || len(report.Failed) != 0 {
			t.Fatalf("emit %d: %+v %v", i, report, err)
		}
		// Emit returns once the handlers ran: exactly one worker and the audit instance have it.
		if got := r.count(w1.Instance(), i) + r.count(w2.Instance(), i); got != 1 {
			t.Fatalf("emit %d reached %d workers, want 1", i, got)
		}
		if r.count(a.Instance(), i) != 1 {
			t.Fatalf("emit %d did not reach the audit instance once", i)
		}
	}
	r.mu.Lock()
	first := r.events[a.Instance()][0]
	r.mu.Unlock()
	if first.Delivery != Emitted || first.Sender != emitter.Instance() || first.Group != audit {
		t.Fatalf("the emitted event says %+v", first)
	}

	// The receiver checks the group and the event.
	client := rawClient(t)
	for _, body := range []protocol.ServiceEmitRequest{
		{Event: event, Group: "someone-else", Sender: "test"},
		{Event: "not.handled", Group: audit, Sender: "test"},
	} {
		if _, err := client.Request(ctx, brokerService(audit), "service.emit.request", body); CodeOf(err) != codec.CodeNotFound {
			t.Fatalf("emit %+v: want NOT_FOUND, got %v", body, err)
		}
	}
}

func TestBroadcastReachesEveryInstanceOnceAndHonoursTheGroup(t *testing.T) {
	event := "news." + uniqueName("flash")
	listeners, others := uniqueName("listeners"), uniqueName("others")
	var r received
	l1, l2 := instanceWith(t, listeners, event, &r), instanceWith(t, listeners, event, &r)
	o := instanceWith(t, others, event, &r)
	sender := caller(t)
	all := []*Service{l1, l2, o}

	if err := sender.Broadcast(event, "to-others", ToGroup(others)); err != nil {
		t.Fatal(err)
	}
	if err := sender.Broadcast(event, "to-all"); err != nil {
		t.Fatal(err)
	}
	// Broadcasts of one event are handled in arrival order, so once "to-all" is in, "to-others" was decided.
	waitFor(t, 10*time.Second, "every instance to handle the broadcast", func() bool {
		for _, svc := range all {
			if r.count(svc.Instance(), "to-all") == 0 {
				return false
			}
		}
		return true
	})
	for _, svc := range all {
		if n := r.count(svc.Instance(), "to-all"); n != 1 {
			t.Errorf("%s handled the broadcast %d times", svc.Instance(), n)
		}
	}
	if r.count(o.Instance(), "to-others") != 1 || r.count(l1.Instance(), "to-others")+r.count(l2.Instance(), "to-others") != 0 {
		t.Fatal("a broadcast to one group must reach only that group")
	}
	r.mu.Lock()
	event0 := r.events[l1.Instance()][0]
	r.mu.Unlock()
	if event0.Delivery != Broadcast || event0.Sender != sender.Instance() {
		t.Fatalf("the broadcast event says %+v", event0)
	}
}

func TestAFailingEventHandlerIsContained(t *testing.T) {
	event := "bad." + uniqueName("news")
	group := uniqueName("fragile")
	svc := newService(t, group)
	var handled atomic.Int64
	svc.On(event, func(ctx context.Context, e *Event) error {
		defer handled.Add(1)
		if e.Data == "panic" {
			panic("handler bug")
		}
		return Errorf(codec.CodeConflict, "refused")
	})
	start(t, svc)
	emitter := caller(t)
	ctx := background(t)
	if err := emitter.WaitFor(ctx, group); err != nil {
		t.Fatal(err)
	}
	report, err := emitter.Emit(ctx, event, "fail")
	if err != nil || len(report.Failed) != 1 || report.Failed[0].Err.Code != codec.CodeConflict {
		t.Fatalf("the emitter should learn the handler's failure: %+v %v", report, err)
	}
	if err := emitter.Broadcast(event, "panic"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the broadcast handler to run", func() bool { return handled.Load() == 2 })
	report, err = emitter.Emit(ctx, event, "fail")
	if err != nil || len(report.Failed) != 1 || report.Failed[0].Err.Code != codec.CodeConflict || svc.State() != Running {
		t.Fatalf("the service should keep running: %+v %v, state %v", report, err, svc.State())
	}
}
