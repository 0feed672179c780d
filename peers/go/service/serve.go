package service

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
	"correio.dev/peers/go/pubsub"
)

// serve answers one request the broker routed to svc.<name>: a call of an action or an emitted event.
func (s *Service) serve(ctx context.Context, request *message.Envelope) (any, error) {
	if s.State() >= Stopping {
		return nil, codec.Errorf(codec.CodeUnavailable, "service %s is stopping; retry with the same id", s.options.Name)
	}
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	switch request.Type {
	case "service.call.request":
		var body protocol.ServiceCallRequest
		if err := request.BodyAs(&body); err != nil {
			return nil, err
		}
		key := request.From + "\x00" + body.Action + "\x00" + request.ID
		return s.dedup.do(key, func() (any, error) { return s.invoke(ctx, request, body) })
	case "service.emit.request":
		var body protocol.ServiceEmitRequest
		if err := request.BodyAs(&body); err != nil {
			return nil, err
		}
		return s.handleEmit(ctx, request, body)
	}
	return nil, codec.Errorf(codec.CodeBadRequest, "%s serves service.call.request and service.emit.request, not %s", brokerService(s.options.Name), request.Type).
		WithData(map[string]any{"type": request.Type, "service": brokerService(s.options.Name)})
}

// invoke runs an action under its deadline: the service's ActionTimeout, cut short by the caller's
// correio.timeout. At the deadline the caller gets TIMEOUT and the handler's ctx ends.
func (s *Service) invoke(ctx context.Context, request *message.Envelope, body protocol.ServiceCallRequest) (any, error) {
	service, err := serviceOf(body.Action)
	if err != nil {
		return nil, err
	}
	if service != s.options.Name {
		return nil, codec.Errorf(codec.CodeBadRequest, "%s belongs to service %s, but this is %s", body.Action, service, s.options.Name).
			WithData(map[string]any{"action": body.Action})
	}
	handler, found := s.actions[body.Action]
	if !found {
		return nil, codec.Errorf(codec.CodeNotFound, "%s has no action %s", s.options.Name, body.Action).
			WithData(map[string]any{"action": body.Action, "actions": toAnySlice(sortedKeys(s.actions))})
	}
	limit := s.options.ActionTimeout
	if callerMs, err := strconv.ParseInt(body.Meta[timeoutMeta], 10, 64); err == nil && callerMs > 0 {
		limit = min(limit, time.Duration(callerMs)*time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	meta := applicationMeta(body.Meta)
	call := &Call{
		Messenger: Messenger{svc: s, meta: meta}, Action: body.Action, ID: request.ID, Caller: request.From,
		Meta: meta, LC: request.LC, TS: request.TS,
	}
	if body.Params != nil {
		call.Params = *body.Params
	}
	result, err := s.runGuarded(ctx, func() (any, error) { return handler(ctx, call) })
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, codec.Errorf(codec.CodeTimeout, "%s did not finish within %dms", body.Action, limit.Milliseconds()).
				WithData(map[string]any{"action": body.Action, "timeout": limit.Milliseconds()})
		}
		failure := asError(err)
		if failure.Code == codec.CodeInternal {
			s.log.Error("action failed", "action", body.Action, "err", err.Error())
		}
		return nil, failure
	}
	wire, err := toWire(result)
	if err != nil {
		s.log.Error("action returned a value v1 cannot carry", "action", body.Action, "err", err.Error())
		return nil, internal("%s returned a value that cannot be sent: %v", body.Action, err)
	}
	if wire == nil {
		return protocol.ServiceCallReply{}, nil
	}
	return protocol.ServiceCallReply{Result: &wire}, nil
}

// runGuarded runs fn until it returns or ctx ends (whichever first); a panic is an INTERNAL error.
func (s *Service) runGuarded(ctx context.Context, fn func() (any, error)) (any, error) {
	type outcome struct {
		result any
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if failure := recover(); failure != nil {
				s.log.Error("handler panicked", "panic", fmt.Sprint(failure))
				done <- outcome{err: internal("the handler failed: %v", failure)}
			}
		}()
		result, err := fn()
		done <- outcome{result, err}
	}()
	select {
	case o := <-done:
		return o.result, o.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// handleEmit runs the handler of an emitted event and answers once it has run.
func (s *Service) handleEmit(ctx context.Context, request *message.Envelope, body protocol.ServiceEmitRequest) (any, error) {
	if body.Group != s.options.Name {
		return nil, codec.Errorf(codec.CodeNotFound, "event %s was addressed to group %s, but this is %s", body.Event, body.Group, s.options.Name).
			WithData(map[string]any{"event": body.Event, "group": body.Group})
	}
	route, found := s.events[body.Event]
	if !found {
		return nil, codec.Errorf(codec.CodeNotFound, "%s does not handle event %s", s.options.Name, body.Event).WithData(map[string]any{"event": body.Event})
	}
	event := &Event{Messenger: Messenger{svc: s}, Name: body.Event, Delivery: Emitted, Sender: body.Sender, Group: body.Group, ID: request.ID, LC: request.LC, TS: request.TS}
	if body.Data != nil {
		event.Data = *body.Data
	}
	if _, err := s.runGuarded(ctx, func() (any, error) { return nil, route.handler(ctx, event) }); err != nil {
		failure := asError(err)
		s.log.Warn("event handler failed", "event", body.Event, "delivery", Emitted, "sender", body.Sender, "code", failure.Code, "err", failure.Message)
		return nil, failure
	}
	return protocol.ServiceEmitReply{Instance: s.instance}, nil
}

// eventRoute is an event's handler and the queue of its broadcasts, handled one after another in
// the order they arrived by one goroutine; beyond maxQueuedBroadcasts they are dropped and counted.
type eventRoute struct {
	name    string
	handler EventHandler
	mu      sync.Mutex
	queue   chan *Event
	closed  bool
	dropped int64
	done    chan struct{}
}

func (r *eventRoute) start(s *Service) {
	r.queue, r.done = make(chan *Event, maxQueuedBroadcasts), make(chan struct{})
	go func() {
		defer close(r.done)
		for event := range r.queue {
			if _, err := s.runGuarded(s.root, func() (any, error) { return nil, r.handler(s.root, event) }); err != nil {
				failure := asError(err)
				s.log.Warn("event handler failed", "event", r.name, "delivery", Broadcast, "sender", event.Sender, "code", failure.Code, "err", failure.Message)
			}
		}
	}()
}

// enqueue queues a broadcast; false when it was dropped (queue full or closed).
func (r *eventRoute) enqueue(event *Event) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	select {
	case r.queue <- event:
		return true
	default:
		r.dropped++
		return false
	}
}

func (r *eventRoute) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed && r.queue != nil {
		r.closed = true
		close(r.queue)
	}
}

// receive reads the proxy until the subscriber closes: broadcasts for the event routes,
// announcements for discovery. A bad publication is counted and dropped, never fatal.
func (s *Service) receive(sub *pubsub.Subscriber, found *discovery) {
	defer close(s.receiving)
	for {
		delivery, err := sub.Receive()
		s.subscriberDrops.Store(int64(sub.Dropped + sub.DroppedBodies)) // read here, on the subscriber's goroutine
		if err != nil {
			if s.State() >= Stopping {
				return
			}
			s.log.Debug("subscriber receive failed", "err", err)
			if !sleep(s.root, 10*time.Millisecond) {
				return
			}
			continue
		}
		if delivery.Gap != nil {
			s.missed.Add(delivery.Gap.Count())
			s.log.Warn("publications lost on a proxy topic", "topic", delivery.Gap.Topic, "publisher", delivery.Gap.Publisher, "missed", delivery.Gap.Count())
			continue
		}
		s.dispatch(delivery.Publication, found)
	}
}

func (s *Service) dispatch(publication *pubsub.Publication, found *discovery) {
	envelope := publication.Envelope
	s.stamp.Observe(envelope)
	switch envelope.Type {
	case "service.event":
		var body protocol.ServiceEvent
		if err := envelope.BodyAs(&body); err != nil {
			s.malformed.Add(1)
			s.log.Debug("dropping a malformed service.event", "err", err)
			return
		}
		if body.Group != nil && *body.Group != s.options.Name {
			return
		}
		route, handled := s.events[body.Event]
		if !handled {
			return
		}
		event := &Event{Messenger: Messenger{svc: s}, Name: body.Event, Delivery: Broadcast, Sender: body.Sender, ID: envelope.ID, LC: envelope.LC, TS: envelope.TS}
		if body.Group != nil {
			event.Group = *body.Group
		}
		if body.Data != nil {
			event.Data = *body.Data
		}
		if !route.enqueue(event) {
			s.log.Warn("broadcast dropped: too many waiting for the handler", "event", body.Event)
		}
	case "service.announce":
		var body protocol.ServiceAnnounce
		if err := envelope.BodyAs(&body); err != nil || len(publication.Topic) < len(announceNamespace) || publication.Topic[:len(announceNamespace)] != announceNamespace {
			s.malformed.Add(1)
			s.log.Debug("dropping a malformed announcement", "topic", publication.Topic)
			return
		}
		found.receive(body)
	default:
		s.log.Debug("ignored a publication of an unexpected type", "topic", publication.Topic, "type", envelope.Type)
	}
}
