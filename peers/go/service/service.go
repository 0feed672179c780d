// Package service is Correio's microservice framework in Go, wire-compatible with @correio/service
// (TypeScript) and correio.service (Python): actions served as MDP workers of svc.<name>, events
// emitted through the broker (one instance per group) or broadcast through the proxy (every
// instance), supervised tasks, announce-based discovery with hooks, retries with the same request
// id, deduplication, a circuit breaker per action, and a graceful drain.
//
//	svc, _ := service.New(service.Options{Name: "hello", Broker: broker, ProxyPub: pub, ProxySub: sub})
//	svc.Action("hello", func(ctx context.Context, call *service.Call) (any, error) { return "hi", nil })
//	svc.Every("heartbeat", 5*time.Second, func(ctx context.Context, t *service.TaskContext) error { return nil })
//	err := svc.Run(context.Background()) // start, wait for SIGTERM/SIGINT, drain
package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/mdp"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/pubsub"
)

// Options configure a Service; zero values take the defaults of @correio/service.
type Options struct {
	// Name is the service name: the greeter of greeter.hello.
	Name string
	// Version is announced to peers (default 1).
	Version int64
	// Instance is this instance's id, unique among all instances (default <name>-<pid>-<random>).
	Instance string
	// Broker is the broker endpoint; ProxyPub the proxy's XSUB (publishers connect there), ProxySub its XPUB.
	Broker, ProxyPub, ProxySub string
	// Concurrency is the number of worker connections: actions and emitted events served at once (default 4).
	Concurrency int
	// ActionTimeout bounds one action invocation, cut short by the caller's correio.timeout (default 30 s).
	ActionTimeout time.Duration
	// CallTimeout is one attempt of an outgoing call (default 5 s); CallRetries the further attempts (default 0).
	CallTimeout time.Duration
	CallRetries int
	// CallBackoff is the delay between attempts (default 100 ms doubling to 5 s, jitter 0.5).
	CallBackoff Backoff
	// Breaker is the circuit breaker of outgoing calls (off unless Breaker.Enabled: then 5 failures
	// in 10 s open it, for a cool-down of 5 s).
	Breaker BreakerOptions
	// AnnounceInterval is how often the instance announces itself (default 2 s); an instance silent
	// for Liveness intervals (default 3) is down.
	AnnounceInterval time.Duration
	Liveness         int
	// DrainTimeout is how long Stop lets in-flight actions finish (default 5 s); TaskStopTimeout how
	// long it waits for each cancelled task (default 2 s); StartTimeout bounds Start (default 30 s).
	DrainTimeout, TaskStopTimeout, StartTimeout time.Duration
	// Heartbeat is the MDP heartbeat interval with the broker (default 2.5 s).
	Heartbeat time.Duration
	// Logger receives structured logs (default: JSON on stderr, warnings and errors only).
	Logger *slog.Logger
}

// State is a Service's lifecycle stage.
type State int32

const (
	Created State = iota
	Starting
	Running
	Stopping
	Stopped
)

// maxQueuedBroadcasts bounds the broadcasts of one event waiting for their handler.
const maxQueuedBroadcasts = 1000

// Service is one running instance of a Correio microservice. Register handlers and hooks, then
// Start (or Run); Stop drains it. Safe for concurrent use once started.
type Service struct {
	options  Options
	instance string
	log      *slog.Logger
	stamp    *message.Stamp
	breakers *breakers
	dedup    *dedup
	hooks    *hookQueue

	actions                 map[string]ActionHandler // by full action name
	events                  map[string]*eventRoute
	tasks                   []*task
	onUp, onDown, onChanged []func(change) // see OnServiceUp, OnServiceDown, OnServiceChanged
	onConnect               func(ctx context.Context, s *Service)

	state     atomic.Int32
	root      context.Context // cancelled when the service stops: outgoing calls, broadcast handlers, tasks
	cancel    context.CancelFunc
	mu        sync.Mutex // guards the sockets below while they open and close
	client    *mdp.Client
	publisher *pubsub.Publisher
	pubMu     sync.Mutex
	sub       *pubsub.Subscriber
	worker    *mdp.Worker
	found     *discovery
	receiving chan struct{}
	started   chan struct{} // closed when Start returns, whether it succeeded or not
	stopOnce  sync.Once
	closeOnce sync.Once
	stopped   chan struct{}

	inFlight        atomic.Int64 // requests being served
	malformed       atomic.Int64
	subscriberDrops atomic.Int64
	missed          atomic.Int64
}

// New returns a Service; register its actions, events, tasks and hooks before Start.
func New(options Options) (*Service, error) {
	if err := checkServiceName(options.Name); err != nil {
		return nil, err
	}
	if options.Instance == "" {
		var suffix [3]byte
		_, _ = rand.Read(suffix[:])
		options.Instance = fmt.Sprintf("%s-%d-%s", options.Name, os.Getpid(), hex.EncodeToString(suffix[:]))
	}
	if !instancePattern.MatchString(options.Instance) {
		return nil, fmt.Errorf("instance id must be 1-128 printable ASCII characters, got %q", options.Instance)
	}
	if options.Broker == "" || options.ProxyPub == "" || options.ProxySub == "" {
		return nil, fmt.Errorf("service %s needs Broker, ProxyPub and ProxySub endpoints", options.Name)
	}
	defaults(&options)
	stamp, err := message.NewStamp(options.Instance)
	if err != nil {
		return nil, err
	}
	log := options.Logger.With("service", options.Name, "instance", options.Instance)
	root, cancel := context.WithCancel(context.Background())
	return &Service{
		options: options, instance: options.Instance, log: log, stamp: stamp,
		breakers: newBreakers(options.Breaker), dedup: newDedup(60*time.Second, 10_000), hooks: newHookQueue(log),
		actions: map[string]ActionHandler{}, events: map[string]*eventRoute{},
		root: root, cancel: cancel, started: make(chan struct{}), stopped: make(chan struct{}),
	}, nil
}

func defaults(o *Options) {
	orDefault := func(value *time.Duration, fallback time.Duration) {
		if *value <= 0 {
			*value = fallback
		}
	}
	if o.Version <= 0 {
		o.Version = 1
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Liveness <= 0 {
		o.Liveness = 3
	}
	o.CallRetries = max(0, o.CallRetries)
	orDefault(&o.ActionTimeout, 30*time.Second)
	orDefault(&o.CallTimeout, 5*time.Second)
	orDefault(&o.AnnounceInterval, 2*time.Second)
	orDefault(&o.DrainTimeout, 5*time.Second)
	orDefault(&o.TaskStopTimeout, 2*time.Second)
	orDefault(&o.StartTimeout, 30*time.Second)
	orDefault(&o.Heartbeat, 2500*time.Millisecond)
	o.CallBackoff = o.CallBackoff.withDefaults(100*time.Millisecond, 5*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
}

// Name is the service name; Instance this instance's id.
func (s *Service) Name() string     { return s.options.Name }
func (s *Service) Instance() string { return s.instance }

// State is the lifecycle stage.
func (s *Service) State() State { return State(s.state.Load()) }

// Clock is the instance's Lamport clock, which stamps everything it sends and merges everything it receives.
func (s *Service) Clock() *message.LamportClock { return s.stamp.Clock }

// Logger is the service's logger, for handlers.
func (s *Service) Logger() *slog.Logger { return s.log }

// Action registers method (the hello of <name>.hello). It panics on an invalid name, a duplicate,
// or after Start: these are programming errors.
func (s *Service) Action(method string, handler ActionHandler) {
	s.mustBeCreated()
	action, err := actionName(s.options.Name, method)
	if err != nil {
		panic(err)
	}
	if _, taken := s.actions[action]; taken {
		panic(fmt.Sprintf("action %s is registered twice", action))
	}
	s.actions[action] = handler
}

// On registers the handler of event, both emitted and broadcast.
func (s *Service) On(event string, handler EventHandler) {
	s.mustBeCreated()
	if err := checkEventName(event); err != nil {
		panic(err)
	}
	if _, taken := s.events[event]; taken {
		panic(fmt.Sprintf("event %s is handled twice", event))
	}
	s.events[event] = &eventRoute{name: event, handler: handler}
}

// Task registers a long-running task: it runs from Start until its ctx ends at Stop, restarted
// with backoff when it fails.
func (s *Service) Task(name string, fn TaskFunc) { s.addTask(name, 0, fn) }

// Every registers a periodic task: one round every interval (the first one interval after Start).
func (s *Service) Every(name string, interval time.Duration, fn TaskFunc) {
	if interval <= 0 {
		panic(fmt.Sprintf("task %s: the interval must be more than 0", name))
	}
	s.addTask(name, interval, fn)
}

func (s *Service) addTask(name string, every time.Duration, fn TaskFunc) {
	s.mustBeCreated()
	for _, t := range s.tasks {
		if t.name == name {
			panic(fmt.Sprintf("task %s is registered twice", name))
		}
	}
	s.tasks = append(s.tasks, &task{name: name, every: every, fn: fn, log: s.log, scope: Messenger{svc: s}})
}

// OnConnect runs once Start has finished, before any other hook.
func (s *Service) OnConnect(hook func(ctx context.Context, s *Service)) {
	s.mustBeCreated()
	s.onConnect = hook
}

// OnServiceUp runs when an instance (this one included) comes up. Hooks run one at a time, in order.
func (s *Service) OnServiceUp(hook func(info InstanceInfo)) {
	s.mustBeCreated()
	s.onUp = append(s.onUp, func(c change) { hook(c.info) })
}

// OnServiceDown runs when an instance announced down (DownAnnounced), went silent (DownExpired),
// or when this instance stopped (DownStopped).
func (s *Service) OnServiceDown(hook func(info InstanceInfo, reason DownReason)) {
	s.mustBeCreated()
	s.onDown = append(s.onDown, func(c change) { hook(c.info, c.reason) })
}

// OnServiceChanged runs when an instance changes the actions or events it serves.
func (s *Service) OnServiceChanged(hook func(info, previous InstanceInfo)) {
	s.mustBeCreated()
	s.onChanged = append(s.onChanged, func(c change) { hook(c.info, c.previous) })
}

func (s *Service) mustBeCreated() {
	if s.State() != Created {
		panic("handlers and hooks are registered before Start")
	}
}

// Call calls an action (see Messenger.Call).
func (s *Service) Call(ctx context.Context, action string, params any, options ...CallOption) (any, error) {
	return Messenger{svc: s}.Call(ctx, action, params, options...)
}

// Emit delivers an event to one instance of each subscribing group (see Messenger.Emit).
func (s *Service) Emit(ctx context.Context, event string, data any, options ...CallOption) (EmitReport, error) {
	return Messenger{svc: s}.Emit(ctx, event, data, options...)
}

// Broadcast publishes an event to every subscribed instance (see Messenger.Broadcast).
func (s *Service) Broadcast(event string, data any, options ...BroadcastOption) error {
	return Messenger{svc: s}.Broadcast(event, data, options...)
}

// WaitFor returns once every named service has a live instance; when ctx ends first (30 s when it
// has no deadline) it fails with TIMEOUT naming the missing services (data.missing).
func (s *Service) WaitFor(ctx context.Context, services ...string) error {
	found := s.discoveryOrNil()
	if found == nil {
		return codec.Errorf(codec.CodeUnavailable, "service %s is not started", s.options.Name)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	return found.waitFor(ctx, services)
}

// Instances lists the live instances discovery knows (of service, or all for ""), this one included.
func (s *Service) Instances(service string) []InstanceInfo {
	if found := s.discoveryOrNil(); found != nil {
		return found.instances(service)
	}
	return nil
}

// InFlight is the number of requests (calls and emitted events) being served now.
func (s *Service) InFlight() int64 { return s.inFlight.Load() }

// Malformed counts publications dropped as malformed (broken messages, invalid envelopes, service
// messages of the wrong shape); Missed the publications lost on proxy topics (sequence gaps).
func (s *Service) Malformed() int64 { return s.malformed.Load() + s.subscriberDrops.Load() }
func (s *Service) Missed() int64    { return s.missed.Load() }

// DroppedBroadcasts counts broadcasts dropped because maxQueuedBroadcasts (1,000) of their event
// were already waiting for the handler.
func (s *Service) DroppedBroadcasts() int64 {
	var dropped int64
	for _, route := range s.events {
		route.mu.Lock()
		dropped += route.dropped
		route.mu.Unlock()
	}
	return dropped
}

func (s *Service) clientOrNil() *mdp.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}

func (s *Service) discoveryOrNil() *discovery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.found
}

// publish sends one event envelope on topic through the proxy (the publisher is not concurrent).
func (s *Service) publish(topic, messageType string, body any) error {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if s.publisher == nil {
		return codec.Errorf(codec.CodeUnavailable, "service %s is not running", s.options.Name)
	}
	_, err := s.publisher.Publish(topic, messageType, body)
	return err
}

// sortedKeys are a map's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}

// onDiscoveryChange queues the hooks of a change (called in order, under discovery's lock).
func (s *Service) onDiscoveryChange(c change) {
	var hooks []func(change)
	switch c.kind {
	case changeUp:
		hooks = s.onUp
	case changeDown:
		hooks = s.onDown
	case changeChanged:
		hooks = s.onChanged
	}
	for _, hook := range hooks {
		s.hooks.push("discovery", func() { hook(c) })
	}
}
