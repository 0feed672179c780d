package service

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The hello example (examples/hello/go, the first thing peers/go/README.md shows) is a module of
// its own that imports this one through a replace: it must vet, build and run against a real
// broker and proxy, greet the peers it is given and heartbeat to everyone.
func TestTheHelloExampleModuleBuildsAndRuns(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "examples", "hello", "go"))
	if err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(t.TempDir(), "hello-go")
	for _, args := range [][]string{{"vet", "."}, {"build", "-o", binary, "."}} {
		command := exec.Command("go", args...)
		command.Dir = dir
		command.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOPROXY=off")
		if output, err := command.CombinedOutput(); err != nil {
			t.Fatalf("go %v in examples/hello/go: %v\n%s", args, err, output)
		}
	}

	// A listener of the example's heartbeats, and its hooks.
	var mu sync.Mutex
	var beats []map[string]any
	var log hookLog
	listener := newService(t, uniqueName("listener"))
	listener.On("hello.heartbeat", func(ctx context.Context, e *Event) error {
		mu.Lock()
		defer mu.Unlock()
		if data, ok := e.Data.(map[string]any); ok {
			beats = append(beats, data)
		}
		return nil
	})
	listener.OnServiceDown(func(info InstanceInfo, reason DownReason) { log.add("down " + info.Service + " " + string(reason)) })
	start(t, listener)

	example := exec.Command(binary, "--broker", infra.Broker, "--proxy-pub", infra.ProxyPub, "--proxy-sub", infra.Proxy,
		"--peers", "hello-go", "--heartbeat-ms", "200")
	stdout, _ := example.StdoutPipe()
	if err := example.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = example.Process.Kill()
		<-exited
	})
	lines := make(chan string, 16)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
		exited <- example.Wait()
	}()

	// It greets itself, the one peer named: {"peer", "reply": {greeting, by}}.
	var greeting struct {
		Peer  string `json:"peer"`
		Reply struct {
			Greeting string `json:"greeting"`
			By       string `json:"by"`
		} `json:"reply"`
	}
	select {
	case line := <-lines:
		if err := json.Unmarshal([]byte(line), &greeting); err != nil || greeting.Peer != "hello-go" || greeting.Reply.Greeting != "hello hello-go, from Go" {
			t.Fatalf("the greeting line: %q", line)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the example printed no greeting")
	}
	reply, err := CallAs[map[string]any](background(t), listener, "hello-go.hello", map[string]any{"name": "tester"})
	if err != nil || reply["greeting"] != "hello tester, from Go" || reply["by"] != greeting.Reply.By {
		t.Fatalf("hello-go.hello: %v %v", reply, err)
	}
	waitFor(t, 10*time.Second, "a heartbeat of the example", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, beat := range beats {
			if beat["instance"] == greeting.Reply.By && beat["lang"] == "go" {
				return true
			}
		}
		return false
	})

	// SIGTERM drains it: it announces down and exits 0.
	if err := example.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("the example exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the example did not stop on SIGTERM")
	}
	waitFor(t, 5*time.Second, "down (announced) of the example", func() bool { return log.has("down hello-go announced") })
}
