package service

import (
	"context"
	"errors"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/mdp"
	"correio.dev/peers/go/protocol"
	"correio.dev/peers/go/pubsub"
)

// Start connects, registers the workers of svc.<name> at the broker, subscribes to its events and
// the announcements, announces itself and starts its tasks. It returns once the broker lists the
// service (MMI) and the instance has heard its own announcement back through the proxy, so peers
// can call it and it receives what is published to it; UNAVAILABLE after StartTimeout (or when ctx ends).
func (s *Service) Start(ctx context.Context) error {
	if !s.state.CompareAndSwap(int32(Created), int32(Starting)) {
		return errors.New("a service starts once")
	}
	defer close(s.started)
	ctx, cancel := context.WithTimeout(ctx, s.options.StartTimeout)
	defer cancel()
	if err := s.connect(ctx); err != nil {
		s.log.Error("start failed", "err", err.Error())
		s.shutdown()
		s.markStopped()
		return err
	}
	s.state.Store(int32(Running))
	for _, t := range s.tasks {
		t.start(s.root)
	}
	var onConnect func()
	if s.onConnect != nil {
		onConnect = func() { s.onConnect(s.root, s) }
	}
	s.hooks.open(onConnect)
	s.log.Info("service started", "actions", sortedKeys(s.actions), "events", sortedKeys(s.events))
	return nil
}

func (s *Service) connect(ctx context.Context) error {
	o := s.options
	client, err := mdp.Dial(o.Broker, mdp.ClientOptions{Stamp: s.stamp, Timeout: o.CallTimeout, Retries: -1, Logger: s.log})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.client = client
	s.mu.Unlock()
	publisher, err := pubsub.NewPublisher(o.ProxyPub, s.stamp)
	if err != nil {
		return codec.Errorf(codec.CodeUnavailable, "%v", err)
	}
	s.pubMu.Lock()
	s.publisher = publisher
	s.pubMu.Unlock()
	// Events first, then announce/: once our own announcement comes back, the events' subscriptions have arrived too.
	topics := make([]string, 0, len(s.events)+1)
	for _, event := range sortedKeys(s.events) {
		topics = append(topics, eventTopic(event))
		s.events[event].start(s)
	}
	sub, err := pubsub.Subscribe(o.ProxySub, append(topics, announceNamespace)...)
	if err != nil {
		return codec.Errorf(codec.CodeUnavailable, "%v", err)
	}
	self := protocol.ServiceAnnounce{
		Service: o.Name, Version: o.Version, Instance: s.instance,
		Actions: sortedKeys(s.actions), Events: sortedKeys(s.events),
	}
	found := newDiscovery(self, o.AnnounceInterval, o.Liveness, func(a protocol.ServiceAnnounce) error {
		return s.publish(announceTopic(o.Name), "service.announce", a)
	}, s.onDiscoveryChange, s.log)
	s.mu.Lock()
	s.sub, s.found, s.receiving = sub, found, make(chan struct{})
	s.mu.Unlock()
	go s.receive(sub, found)
	if len(s.actions) > 0 || len(s.events) > 0 {
		worker, err := mdp.NewWorker(o.Broker, brokerService(o.Name), s.serve, mdp.WorkerOptions{
			Stamp: s.stamp, Heartbeat: o.Heartbeat, Concurrency: o.Concurrency, Logger: s.log,
		})
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.worker = worker
		s.mu.Unlock()
		worker.Start()
	}
	registered := make(chan error, 1)
	go func() { registered <- s.awaitRegistration(ctx, client) }()
	if err := found.start(ctx); err != nil {
		return err
	}
	return <-registered
}

// awaitRegistration polls the broker's MMI until it lists svc.<name>: our READY has arrived.
func (s *Service) awaitRegistration(ctx context.Context, client *mdp.Client) error {
	if len(s.actions) == 0 && len(s.events) == 0 {
		return nil
	}
	service := brokerService(s.options.Name)
	for attempt := 0; ; attempt++ {
		probe, cancel := context.WithTimeout(ctx, time.Second)
		exists, err := client.ServiceExists(probe, service)
		cancel()
		if err == nil && exists {
			return nil
		}
		if !sleep(ctx, 50*time.Millisecond<<min(attempt, 4)) {
			return codec.Errorf(codec.CodeUnavailable, "the broker at %s did not register %s in time", s.options.Broker, service).
				WithData(map[string]any{"broker": s.options.Broker, "service": service})
		}
	}
}

// Stop drains gracefully: stops taking requests (idle worker connections leave, new requests are
// refused UNAVAILABLE so callers retry elsewhere), lets in-flight actions finish for DrainTimeout
// (then cancels them), cancels tasks (TaskStopTimeout each), announces down, and closes every
// socket. Idempotent; later calls wait for the first.
func (s *Service) Stop() {
	s.stopOnce.Do(func() {
		if s.state.CompareAndSwap(int32(Created), int32(Stopped)) {
			s.cancel()
			s.hooks.close()
			s.markStopped()
			return
		}
		<-s.started // Start ends by its deadline, and cleans up after a failure
		if s.State() == Running {
			s.state.Store(int32(Stopping))
			s.log.Info("service stopping")
			s.shutdown()
			s.log.Info("service stopped")
		}
		s.markStopped()
	})
	<-s.stopped
}

// markStopped closes Done, once: by Stop, or by a Start that failed.
func (s *Service) markStopped() { s.closeOnce.Do(func() { close(s.stopped) }) }

// shutdown tears down whatever exists, in the order of a graceful stop. Never fails.
func (s *Service) shutdown() {
	s.state.Store(int32(Stopping))
	s.mu.Lock()
	worker, found, sub, receiving, client := s.worker, s.found, s.sub, s.receiving, s.client
	s.mu.Unlock()
	if worker != nil && !worker.Drain(s.options.DrainTimeout) {
		s.log.Warn("in-flight requests were cancelled at the drain timeout", "drainTimeout", s.options.DrainTimeout)
	}
	stopTasks(s.tasks, s.options.TaskStopTimeout)
	s.cancel()
	if found != nil {
		found.shutdown(min(time.Second, s.options.AnnounceInterval))
	}
	if sub != nil {
		_ = sub.Close()
		<-receiving
	}
	s.drainBroadcasts()
	s.pubMu.Lock()
	if s.publisher != nil {
		_ = s.publisher.Close()
		s.publisher = nil
	}
	s.pubMu.Unlock()
	if client != nil {
		_ = client.Close()
	}
	s.hooks.close()
	select {
	case <-s.hooks.done:
	case <-time.After(s.options.DrainTimeout):
		s.log.Warn("hooks still running at stop; leaving them behind")
	}
	s.state.Store(int32(Stopped))
}

// drainBroadcasts lets the queued broadcasts be handled, for DrainTimeout at most.
func (s *Service) drainBroadcasts() {
	var wg sync.WaitGroup
	for _, route := range s.events {
		route.close()
		if route.done == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-route.done
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(s.options.DrainTimeout):
		s.log.Warn("broadcast handlers still running at stop; leaving them behind")
	}
}

// Run starts the service, serves until SIGTERM, SIGINT or the end of ctx, then drains it.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	s.Stop()
	return nil
}

// Done is closed once the service has stopped.
func (s *Service) Done() <-chan struct{} { return s.stopped }
