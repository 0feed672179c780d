// The hello service in Go: one action, one heartbeat task, and the hooks that watch the other
// languages' hello services come and go. The same service exists in TypeScript and Python
// (examples/hello/ts, examples/hello/python); run all three and they greet each other.
//
//	cd examples/hello/go && go run . --peers hello-ts,hello-py
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"correio.dev/peers/go/service"
)

type helloParams struct {
	Name string `json:"name"`
}

type helloReply struct {
	Greeting string `json:"greeting"`
	By       string `json:"by"`
}

func main() {
	broker := flag.String("broker", env("CORREIO_BROKER", "tcp://127.0.0.1:5555"), "the broker endpoint")
	proxyPub := flag.String("proxy-pub", env("CORREIO_PROXY_PUB", "tcp://127.0.0.1:5570"), "the proxy's XSUB endpoint")
	proxySub := flag.String("proxy-sub", env("CORREIO_PROXY_SUB", "tcp://127.0.0.1:5571"), "the proxy's XPUB endpoint")
	peers := flag.String("peers", "", "hello services to greet once they are up, such as hello-ts,hello-py")
	heartbeatMs := flag.Int("heartbeat-ms", 5000, "the heartbeat period in ms")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	svc, err := service.New(service.Options{Name: "hello-go", Broker: *broker, ProxyPub: *proxyPub, ProxySub: *proxySub, Logger: log})
	if err != nil {
		log.Error("bad options", "err", err)
		os.Exit(2)
	}
	// hello-go.hello {name} -> a greeting, and which instance gave it.
	svc.Action("hello", service.Typed(func(ctx context.Context, call *service.Call, p helloParams) (helloReply, error) {
		log.Info("hello called", "caller", call.Caller, "name", p.Name)
		return helloReply{Greeting: "hello " + p.Name + ", from Go", By: svc.Instance()}, nil
	}))
	// Tells every hello service, in every language, that this one is alive.
	svc.Every("heartbeat", time.Duration(*heartbeatMs)*time.Millisecond, func(ctx context.Context, t *service.TaskContext) error {
		return t.Broadcast("hello.heartbeat", map[string]string{"instance": svc.Instance(), "lang": "go"})
	})
	svc.On("hello.heartbeat", func(ctx context.Context, event *service.Event) error {
		log.Info("heartbeat heard", "from", event.Sender, "data", event.Data)
		return nil
	})
	svc.OnServiceUp(func(info service.InstanceInfo) {
		log.Info("service up", "service", info.Service, "instance", info.Instance)
	})
	svc.OnServiceDown(func(info service.InstanceInfo, reason service.DownReason) {
		log.Info("service down", "service", info.Service, "instance", info.Instance, "reason", reason)
	})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := svc.Start(ctx); err != nil {
		log.Error("start failed", "err", err)
		os.Exit(1)
	}
	defer svc.Stop() // a graceful drain
	if err := greet(ctx, svc, strings.Split(*peers, ",")); err != nil {
		log.Error("greeting failed", "err", err)
	}
	<-ctx.Done() // until SIGTERM or SIGINT
}

// greet waits for the peers, then calls each one's hello and prints the reply as a JSON line.
func greet(ctx context.Context, svc *service.Service, peers []string) error {
	var named []string
	for _, peer := range peers {
		if peer != "" {
			named = append(named, peer)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := svc.WaitFor(waitCtx, named...); err != nil {
		return err
	}
	for _, peer := range named {
		reply, err := service.CallAs[helloReply](ctx, svc, peer+".hello", helloParams{Name: "hello-go"})
		if err != nil {
			return err
		}
		line, _ := json.Marshal(map[string]any{"peer": peer, "reply": reply})
		fmt.Println(string(line))
	}
	return nil
}

func env(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
