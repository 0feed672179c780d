package service

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
)

// maxInstances bounds the instances discovery tracks: anyone can publish announcements.
const maxInstances = 10_000

// discovery is announce-based discovery (FRAMES.md section 4.1, libs/service AnnounceDiscovery.ts):
// every instance publishes service.announce on announce/<service>/ at start (until it hears itself
// back), every interval while it runs and with state down when it stops; everyone listens to
// announce/ and keeps a peerTable, where an instance silent for liveness × interval is down.
// When a new peer appears, this instance announces early (at most once per half interval).
type discovery struct {
	self     protocol.ServiceAnnounce
	interval time.Duration
	publish  func(protocol.ServiceAnnounce) error
	// onChange is told every change, in order, under mu: it must not block or call back.
	onChange func(change)
	log      *slog.Logger

	mu           sync.Mutex
	table        *peerTable
	running      bool
	lastAnnounce time.Time
	early        *time.Timer
	changed      chan struct{} // closed and replaced on every change, for WaitFor
	echoed       chan struct{}
	echoedOnce   sync.Once
	farewell     chan struct{} // our own down announcement came back
	farewellOnce sync.Once
	stop         chan struct{}
	loops        sync.WaitGroup
}

func newDiscovery(self protocol.ServiceAnnounce, interval time.Duration, liveness int, publish func(protocol.ServiceAnnounce) error, onChange func(change), log *slog.Logger) *discovery {
	return &discovery{
		self: self, interval: interval, publish: publish, onChange: onChange, log: log,
		table: newPeerTable(interval*time.Duration(liveness), maxInstances), changed: make(chan struct{}),
		echoed: make(chan struct{}), farewell: make(chan struct{}), stop: make(chan struct{}),
	}
}

// start announces until the instance hears its own announcement back through the proxy (then the
// proxy has our subscriptions and peers hear us), then heartbeats every interval.
func (d *discovery) start(ctx context.Context) error {
	d.mu.Lock()
	d.running = true
	up := d.self
	up.State, up.At = protocol.ServiceAnnounceStateUp, message.NowMs()
	d.emit(d.table.apply(up, time.Now())) // known to itself at once
	d.mu.Unlock()
	d.loops.Add(1)
	go d.every(max(10*time.Millisecond, d.interval/2), func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.emit(d.table.expire(time.Now()))
	})
	for attempt := 0; ; attempt++ {
		d.announce(protocol.ServiceAnnounceStateUp)
		wait := min(d.interval, 50*time.Millisecond<<min(attempt, 3))
		select {
		case <-d.echoed:
			d.loops.Add(1)
			go d.every(d.interval, func() { d.announce(protocol.ServiceAnnounceStateUp) })
			return nil
		case <-ctx.Done():
			return codec.Errorf(codec.CodeUnavailable, "no announcement of %s came back through the proxy in time: is the proxy running?", d.self.Instance)
		case <-time.After(wait):
		}
	}
}

// every runs fn every period until stop.
func (d *discovery) every(period time.Duration, fn func()) {
	defer d.loops.Done()
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-ticker.C:
			fn()
		}
	}
}

// shutdown announces down, waits (up to wait) for that announcement to come back through the proxy
// (so it has left this process before the socket closes), and reports itself down (stopped).
func (d *discovery) shutdown(wait time.Duration) {
	d.mu.Lock()
	if !d.running {
		d.mu.Unlock()
		return
	}
	d.running = false
	if d.early != nil {
		d.early.Stop()
	}
	d.mu.Unlock()
	close(d.stop)
	d.loops.Wait()
	d.announce(protocol.ServiceAnnounceStateDown)
	select {
	case <-d.farewell:
	case <-time.After(wait):
		d.log.Debug("our down announcement did not come back in time")
	}
	d.mu.Lock()
	d.emit(d.table.clear(d.self.Instance, time.Now()))
	d.mu.Unlock()
}

// receive applies an announcement heard on the proxy.
func (d *discovery) receive(a protocol.ServiceAnnounce) {
	if a.Instance == d.self.Instance {
		d.echoedOnce.Do(func() { close(d.echoed) })
		if a.State == protocol.ServiceAnnounceStateDown {
			d.farewellOnce.Do(func() { close(d.farewell) })
			return // our own farewell (also of an earlier run) is not news
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running {
		return
	}
	isNew := a.State == protocol.ServiceAnnounceStateUp && !d.table.has(a.Instance)
	d.emit(d.table.apply(a, time.Now()))
	if isNew && a.Instance != d.self.Instance {
		d.announceSoon()
	}
}

// announceSoon announces early so a newcomer learns about us, at most once per half interval. Called with mu held.
func (d *discovery) announceSoon() {
	if d.early != nil {
		return
	}
	wait := max(0, time.Until(d.lastAnnounce.Add(d.interval/2)))
	d.early = time.AfterFunc(wait, func() {
		d.mu.Lock()
		d.early = nil
		running := d.running
		d.mu.Unlock()
		if running {
			d.announce(protocol.ServiceAnnounceStateUp)
		}
	})
}

func (d *discovery) announce(state string) {
	a := d.self
	a.State, a.At = state, message.NowMs()
	d.mu.Lock()
	d.lastAnnounce = time.Now()
	d.mu.Unlock()
	if err := d.publish(a); err != nil {
		d.log.Warn("announcement not sent", "state", state, "err", err)
	}
}

// emit tells onChange and the waiters about changes. Called with mu held.
func (d *discovery) emit(changes []change) {
	if len(changes) == 0 {
		return
	}
	for _, c := range changes {
		d.onChange(c)
	}
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *discovery) instances(service string) []InstanceInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.table.instances(service)
}

func (d *discovery) subscribers(event string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.table.subscribers(event)
}

// waitFor returns once every service has a live instance, or TIMEOUT naming the missing ones when ctx ends.
func (d *discovery) waitFor(ctx context.Context, services []string) error {
	for {
		d.mu.Lock()
		var missing []string
		for _, service := range services {
			if !d.table.isUp(service) {
				missing = append(missing, service)
			}
		}
		changed := d.changed
		d.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return codec.Errorf(codec.CodeTimeout, "services not up in time: %s", strings.Join(missing, ", ")).
				WithData(map[string]any{"missing": toAnySlice(missing)})
		}
	}
}

func toAnySlice(items []string) []any {
	values := make([]any, len(items))
	for i, item := range items {
		values[i] = item
	}
	return values
}
