package service

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
	"correio.dev/peers/go/pubsub"
)

// hookLog records the hooks a service ran, in order.
type hookLog struct {
	mu    sync.Mutex
	lines []string
}

func (h *hookLog) add(line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, line)
}

func (h *hookLog) has(line string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.lines, line)
}

func (h *hookLog) snapshot() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.lines)
}

func watcher(t *testing.T, log *hookLog) *Service {
	svc := newService(t, uniqueName("watcher"))
	svc.OnConnect(func(_ context.Context, s *Service) { log.add("connect") })
	svc.OnServiceUp(func(info InstanceInfo) { log.add("up " + info.Instance) })
	svc.OnServiceDown(func(info InstanceInfo, reason DownReason) { log.add("down " + info.Instance + " " + string(reason)) })
	svc.OnServiceChanged(func(info, previous InstanceInfo) {
		log.add("changed " + info.Instance + " " + strings.Join(previous.Actions, ",") + " -> " + strings.Join(info.Actions, ","))
	})
	return start(t, svc)
}

func TestDiscoveryHooksUpChangedAndDownAnnounced(t *testing.T) {
	var log hookLog
	w := watcher(t, &log)
	waitFor(t, 5*time.Second, "the watcher to see itself up", func() bool { return log.has("up " + w.Instance()) })
	if first := log.snapshot()[0]; first != "connect" {
		t.Fatalf("OnConnect runs first, got %v", log.snapshot())
	}

	peer := newService(t, uniqueName("peer"))
	peer.Action("a", func(ctx context.Context, call *Call) (any, error) { return nil, nil })
	start(t, peer)
	waitFor(t, 10*time.Second, "up of the peer", func() bool { return log.has("up " + peer.Instance()) })
	if instances := w.Instances(peer.Name()); len(instances) != 1 || !slices.Equal(instances[0].Actions, []string{peer.Name() + ".a"}) {
		t.Fatalf("the watcher knows %+v", instances)
	}
	peer.Stop()
	waitFor(t, 10*time.Second, "down (announced) of the peer", func() bool { return log.has("down " + peer.Instance() + " announced") })

	// An instance that changes what it serves: hand-made announcements of one instance id.
	stamp, _ := message.NewStamp("forger-1")
	publisher, err := pubsub.NewPublisher(infra.ProxyPub, stamp)
	if err != nil {
		t.Fatal(err)
	}
	defer publisher.Close()
	service := uniqueName("shifty")
	announce := func(actions ...string) {
		_, err := publisher.Publish(announceTopic(service), "service.announce", protocol.ServiceAnnounce{
			Actions: actions, At: message.NowMs(), Events: []string{}, Instance: "shifty-1", Service: service, State: "up", Version: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "up of the forged instance", func() bool {
		announce(service + ".a")
		return log.has("up shifty-1")
	})
	waitFor(t, 10*time.Second, "changed of the forged instance", func() bool {
		announce(service+".a", service+".b")
		return log.has("changed shifty-1 " + service + ".a -> " + service + ".a," + service + ".b")
	})
	// Then it falls silent: down, expired, after liveness × interval.
	waitFor(t, 10*time.Second, "down (expired) of the silent instance", func() bool { return log.has("down shifty-1 expired") })

	w.Stop()
	if !log.has("down " + w.Instance() + " stopped") {
		t.Fatalf("a stopping instance reports itself down (stopped): %v", log.snapshot())
	}
}

func TestAnInstanceWhoseSocketsVanishExpires(t *testing.T) {
	var log hookLog
	w := watcher(t, &log)
	name := uniqueName("doomed")
	driver := exec.Command(filepath.Join(binDir, "correio-service"), "--name", name, "--broker", infra.Broker,
		"--proxy-pub", infra.ProxyPub, "--proxy-sub", infra.Proxy, "--announce-interval", "200")
	stdin, _ := driver.StdinPipe()
	stdout, _ := driver.StdoutPipe()
	if err := driver.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	defer driver.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var ready struct {
		Op, Instance string
	}
	for lines.Scan() {
		if json.Unmarshal(lines.Bytes(), &ready) == nil && ready.Op == "ready" {
			break
		}
	}
	if ready.Op != "ready" {
		t.Fatal("the driver printed no ready line")
	}
	waitFor(t, 10*time.Second, "up of the driver", func() bool { return log.has("up " + ready.Instance) })
	if err := driver.Process.Kill(); err != nil { // abrupt: no down announcement, no DISCONNECT
		t.Fatal(err)
	}
	_ = driver.Wait()
	waitFor(t, 10*time.Second, "down (expired) of the killed driver", func() bool { return log.has("down " + ready.Instance + " expired") })
	if w.State() != Running {
		t.Fatal("the watcher stopped")
	}
}

func TestWaitForNamesTheMissingServices(t *testing.T) {
	svc := caller(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := svc.WaitFor(ctx, svc.Name(), "ghost-a", "ghost-b")
	failure := asServiceError(t, err)
	if failure.Code != codec.CodeTimeout || !strings.Contains(failure.Message, "ghost-a, ghost-b") || strings.Contains(failure.Message, svc.Name()) {
		t.Fatalf("WaitFor: %+v", failure)
	}
	if missing, _ := failure.Data["missing"].([]any); len(missing) != 2 {
		t.Fatalf("data.missing: %v", failure.Data)
	}
	if err := svc.WaitFor(background(t), svc.Name()); err != nil {
		t.Fatalf("an instance knows itself at once: %v", err)
	}
}
