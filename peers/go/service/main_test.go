package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"correio.dev/peers/go/internal/cluster"
	"correio.dev/peers/go/mdp"
)

// The real TypeScript broker and proxy, started once for the package; every test uses service
// names of its own, so tests do not hear each other.
var (
	infra   *cluster.Cluster
	binDir  string
	nameSeq atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dataDir, err := os.MkdirTemp("", "correio-go-service-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dataDir)
	infra, err = cluster.StartBrokerAndProxy(dataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the broker and proxy:", err)
		return 1
	}
	defer infra.Stop()
	binDir = filepath.Join(dataDir, "bin")
	build := exec.Command("go", "build", "-o", binDir+string(filepath.Separator), "../cmd/correio-service")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building correio-service:", err)
		return 1
	}
	return m.Run()
}

// uniqueName is a service name no other test uses.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, nameSeq.Add(1))
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newService returns a service on the shared broker and proxy with fast discovery; register
// handlers on it, then call start.
func newService(t *testing.T, name string, adjust ...func(*Options)) *Service {
	t.Helper()
	options := Options{
		Name: name, Broker: infra.Broker, ProxyPub: infra.ProxyPub, ProxySub: infra.Proxy,
		AnnounceInterval: 200 * time.Millisecond, Heartbeat: 500 * time.Millisecond, Logger: quiet,
	}
	for _, apply := range adjust {
		apply(&options)
	}
	svc, err := New(options)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	return svc
}

func start(t *testing.T, svc *Service) *Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		t.Fatalf("start %s: %v", svc.Name(), err)
	}
	return svc
}

// caller is a started service with no handlers, to call others.
func caller(t *testing.T, adjust ...func(*Options)) *Service {
	return start(t, newService(t, uniqueName("caller"), adjust...))
}

// rawClient is a plain MDP client, to send hand-made requests.
func rawClient(t *testing.T) *mdp.Client {
	t.Helper()
	client, err := mdp.Dial(infra.Broker, mdp.ClientOptions{Timeout: 5 * time.Second, Retries: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// waitFor polls condition until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, condition func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !condition() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func asServiceError(t *testing.T, err error) *Error {
	t.Helper()
	var typed *Error
	if !errorsAs(err, &typed) {
		t.Fatalf("expected a *service.Error, got %T %v", err, err)
	}
	return typed
}

func background(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
