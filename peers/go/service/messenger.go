package service

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/mdp"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
)

// timeoutMeta is the call metadata carrying the caller's per-attempt timeout in ms: the callee's
// deadline. Keys starting with frameworkMetaPrefix are the framework's and hidden from handlers.
const (
	frameworkMetaPrefix = "correio."
	timeoutMeta         = "correio.timeout"
)

// CallOption adjusts one Call or Emit.
type CallOption func(*callSettings)

type callSettings struct {
	timeout time.Duration
	retries int
	meta    map[string]string
}

// attemptTimeout is the time one attempt waits: the call's timeout, cut short by ctx's deadline.
func (s callSettings) attemptTimeout(ctx context.Context) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return max(time.Millisecond, min(s.timeout, time.Until(deadline)))
	}
	return s.timeout
}

// WithTimeout sets the time one attempt waits (default Options.CallTimeout, 5 s), cut short by ctx's deadline.
func WithTimeout(timeout time.Duration) CallOption {
	return func(s *callSettings) { s.timeout = timeout }
}

// WithRetries sets how many more attempts follow a retryable failure, with the same request id.
func WithRetries(retries int) CallOption {
	return func(s *callSettings) { s.retries = max(0, retries) }
}

// WithMeta adds call metadata, passed to the callee's handler (and on to its nested calls).
func WithMeta(key, value string) CallOption {
	return func(s *callSettings) {
		s.meta = maps.Clone(s.meta)
		if s.meta == nil {
			s.meta = map[string]string{}
		}
		s.meta[key] = value
	}
}

// Messenger calls, emits and broadcasts on behalf of a service, a handler or a task: nested calls
// of an action inherit its meta, and its deadline through ctx.
type Messenger struct {
	svc  *Service
	meta map[string]string
}

// EmitReport says which groups handled an emitted event and which failed.
type EmitReport struct {
	Event     string
	Delivered []string
	Failed    []EmitFailure
}

// EmitFailure is a group an event could not be delivered to.
type EmitFailure struct {
	Group string
	Err   *Error
}

// Call calls action ("greeter.hello") with params and returns its result (nil when it returned
// nothing), in the generic value model (int64, string, []any, map[string]any, …; see CallAs for
// typed results). Failures are *Error: the callee's, TIMEOUT, or UNAVAILABLE.
func (m Messenger) Call(ctx context.Context, action string, params any, options ...CallOption) (any, error) {
	s := m.svc
	settings := callSettings{timeout: s.options.CallTimeout, retries: s.options.CallRetries, meta: m.meta}
	for _, option := range options {
		option(&settings)
	}
	service, err := serviceOf(action)
	if err != nil {
		return nil, err
	}
	wireParams, err := toWire(params)
	if err != nil {
		return nil, err
	}
	client := s.clientOrNil()
	if client == nil {
		return nil, codec.Errorf(codec.CodeUnavailable, "service %s is not started", s.options.Name)
	}
	id := message.NewRequestID()
	for attempt := 1; ; attempt++ {
		result, err := m.attempt(ctx, client, service, action, wireParams, id, settings)
		if err == nil {
			return result, nil
		}
		failure := asError(err)
		if attempt > settings.retries || !failure.Retryable || ctx.Err() != nil {
			return nil, failure
		}
		delay := s.options.CallBackoff.delay(attempt)
		s.log.Debug("retrying call", "action", action, "id", id, "attempt", attempt, "code", failure.Code, "delay", delay)
		if !sleep(ctx, delay) {
			return nil, failure // given up while waiting: the last real failure says more
		}
	}
}

// attempt sends one service.call.request, through the action's circuit.
func (m Messenger) attempt(ctx context.Context, client *mdp.Client, service, action string, params any, id string, settings callSettings) (any, error) {
	s := m.svc
	trial, err := s.breakers.acquire(action)
	if err != nil {
		return nil, err
	}
	timeout := settings.attemptTimeout(ctx)
	meta := maps.Clone(settings.meta)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[timeoutMeta] = strconv.FormatInt(max(1, timeout.Milliseconds()), 10)
	body := protocol.ServiceCallRequest{Action: action, Meta: meta}
	if params != nil {
		body.Params = &params
	}
	reply, err := client.Request(ctx, brokerService(service), "service.call.request", body, mdp.WithID(id), mdp.WithTimeout(timeout), mdp.WithRetries(0))
	if err != nil {
		if ctx.Err() == context.Canceled {
			s.breakers.release(action, trial)
			return nil, codec.Errorf(codec.CodeUnavailable, "%s: the caller gave up the call", action).WithData(map[string]any{"aborted": true})
		}
		failure := asError(err)
		if failure.Code == codec.CodeValidation && failure.Data["got"] != nil {
			failure = internal("%s was answered with %v, not service.call.reply", action, failure.Data["got"])
		}
		s.breakers.record(action, trial, failure.Retryable || failure.Code == codec.CodeInternal)
		return nil, failure
	}
	s.breakers.record(action, trial, false)
	var result protocol.ServiceCallReply
	if err := reply.BodyAs(&result); err != nil {
		return nil, err
	}
	if result.Result == nil {
		return nil, nil
	}
	return *result.Result, nil
}

// Emit delivers event to one instance of each service (group) whose live instances handle it, and
// returns once each has run its handler (or failed).
func (m Messenger) Emit(ctx context.Context, event string, data any, options ...CallOption) (EmitReport, error) {
	s := m.svc
	settings := callSettings{timeout: s.options.CallTimeout, retries: s.options.CallRetries}
	for _, option := range options {
		option(&settings)
	}
	report := EmitReport{Event: event, Delivered: []string{}, Failed: []EmitFailure{}}
	if err := checkEventName(event); err != nil {
		return report, err
	}
	wireData, err := toWire(data)
	if err != nil {
		return report, err
	}
	client, found := s.clientOrNil(), s.discoveryOrNil()
	if client == nil || found == nil {
		return report, codec.Errorf(codec.CodeUnavailable, "service %s is not started", s.options.Name)
	}
	groups := found.subscribers(event)
	failures := make([]*Error, len(groups))
	var wg sync.WaitGroup
	for i, group := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := protocol.ServiceEmitRequest{Event: event, Group: group, Sender: s.instance}
			if wireData != nil {
				body.Data = &wireData
			}
			_, err := client.Request(ctx, brokerService(group), "service.emit.request", body, mdp.WithTimeout(settings.attemptTimeout(ctx)), mdp.WithRetries(settings.retries))
			if err != nil {
				failures[i] = asError(err)
			}
		}()
	}
	wg.Wait()
	for i, group := range groups {
		if failures[i] == nil {
			report.Delivered = append(report.Delivered, group)
			continue
		}
		report.Failed = append(report.Failed, EmitFailure{Group: group, Err: failures[i]})
		s.log.Warn("emit failed", "event", event, "group", group, "code", failures[i].Code, "err", failures[i].Message)
	}
	return report, nil
}

// BroadcastOption adjusts one Broadcast.
type BroadcastOption func(*protocol.ServiceEvent)

// ToGroup limits a broadcast to the instances of one service; the others ignore it.
func ToGroup(group string) BroadcastOption {
	return func(e *protocol.ServiceEvent) { e.Group = &group }
}

// Broadcast publishes event to every instance subscribed to it, through the proxy; it returns once
// the event is handed to the socket (no delivery is confirmed).
func (m Messenger) Broadcast(event string, data any, options ...BroadcastOption) error {
	s := m.svc
	if err := checkEventName(event); err != nil {
		return err
	}
	wireData, err := toWire(data)
	if err != nil {
		return err
	}
	body := protocol.ServiceEvent{Event: event, Sender: s.instance}
	if wireData != nil {
		body.Data = &wireData
	}
	for _, option := range options {
		option(&body)
	}
	return s.publish(eventTopic(event), "service.event", body)
}
