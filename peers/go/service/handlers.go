package service

import (
	"context"
	"strings"
)

// ActionHandler serves one action. It returns the result (nil for none; a struct, map, slice or
// scalar without floats) or an error: an *Error travels as is, anything else as INTERNAL. ctx ends
// at the caller's deadline (TIMEOUT is answered then) or when the service stops.
type ActionHandler func(ctx context.Context, call *Call) (any, error)

// Call is one invocation of an action, with the service's Call, Emit and Broadcast for nested work
// (which inherit its meta and, through ctx, its deadline).
type Call struct {
	Messenger
	// Action is the full action name, such as greeter.hello.
	Action string
	// ID is the request id; a retry keeps it.
	ID string
	// Caller is the instance that sent the request.
	Caller string
	// Params in the generic value model; Bind decodes them into a struct.
	Params any
	// Meta is the caller's metadata, without the framework's correio.* keys.
	Meta map[string]string
	// LC and TS are the request's Lamport clock and time.
	LC, TS int64
}

// Bind decodes the params into target (a pointer to a struct with msgpack or json tags); a
// mismatch is a VALIDATION error, which a handler may return as is.
func (c *Call) Bind(target any) error { return bind(c.Params, target, "/body/params") }

// EventHandler handles one event, emitted (its error goes back to the emitter) or broadcast (its
// error is logged).
type EventHandler func(ctx context.Context, event *Event) error

// Delivery says how an event arrived.
type Delivery string

const (
	// Emitted: to one instance of the group, through the broker.
	Emitted Delivery = "emit"
	// Broadcast: to every instance, through the proxy.
	Broadcast Delivery = "broadcast"
)

// Event is one event received.
type Event struct {
	Messenger
	Name     string
	Delivery Delivery
	// Sender is the instance that emitted or broadcast it.
	Sender string
	// Group is the service it was addressed to ("" for a broadcast to all).
	Group string
	// Data in the generic value model; Bind decodes it into a struct.
	Data   any
	ID     string
	LC, TS int64
}

// Bind decodes the data into target; a mismatch is a VALIDATION error.
func (e *Event) Bind(target any) error { return bind(e.Data, target, "/body/data") }

// Typed adapts a handler of typed params and result: params are decoded into P (VALIDATION when
// they do not fit), the R returned is the result.
func Typed[P, R any](handle func(ctx context.Context, call *Call, params P) (R, error)) ActionHandler {
	return func(ctx context.Context, call *Call) (any, error) {
		var params P
		if call.Params != nil {
			if err := call.Bind(&params); err != nil {
				return nil, err
			}
		}
		return handle(ctx, call, params)
	}
}

// TypedEvent adapts an event handler of typed data D.
func TypedEvent[D any](handle func(ctx context.Context, event *Event, data D) error) EventHandler {
	return func(ctx context.Context, event *Event) error {
		var data D
		if event.Data != nil {
			if err := event.Bind(&data); err != nil {
				return err
			}
		}
		return handle(ctx, event, data)
	}
}

// Caller is anything that calls actions: a *Service, a *Call, an *Event, a *TaskContext.
type Caller interface {
	Call(ctx context.Context, action string, params any, options ...CallOption) (any, error)
}

// CallAs calls action and decodes its result into R.
func CallAs[R any](ctx context.Context, caller Caller, action string, params any, options ...CallOption) (R, error) {
	var result R
	value, err := caller.Call(ctx, action, params, options...)
	if err != nil || value == nil {
		return result, err
	}
	err = bind(value, &result, "/body/result")
	return result, err
}

// applicationMeta is meta without the framework's keys.
func applicationMeta(meta map[string]string) map[string]string {
	kept := map[string]string{}
	for key, value := range meta {
		if !strings.HasPrefix(key, frameworkMetaPrefix) {
			kept[key] = value
		}
	}
	return kept
}
