// Command correio-service is the Go driver of tools/interop/SERVICE-DRIVER.md: a microservice
// written with package service (actions echo, add, fail, slow, relay; event mixed.ping; task
// heartbeat), driven by JSON commands on stdin and reporting JSON lines on stdout. Logs go to stderr.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
	"correio.dev/peers/go/service"
)

func main() {
	name := flag.String("name", "", "the service name (required)")
	instance := flag.String("instance", "", "the instance id (default: the framework's)")
	broker := flag.String("broker", "", "the broker endpoint (required)")
	proxyPub := flag.String("proxy-pub", "", "the proxy's XSUB endpoint (required)")
	proxySub := flag.String("proxy-sub", "", "the proxy's XPUB endpoint (required)")
	concurrency := flag.Int("concurrency", 0, "worker connections (default: the framework's)")
	announceMs := flag.Int("announce-interval", 0, "the announce interval in ms (default 2000)")
	flag.Parse()
	if *name == "" || *broker == "" || *proxyPub == "" || *proxySub == "" {
		fmt.Fprintln(os.Stderr, "usage: correio-service --name NAME --broker ENDPOINT --proxy-pub ENDPOINT --proxy-sub ENDPOINT [--instance ID] [--concurrency N] [--announce-interval MS]")
		os.Exit(2)
	}
	svc, err := service.New(service.Options{
		Name: *name, Instance: *instance, Broker: *broker, ProxyPub: *proxyPub, ProxySub: *proxySub,
		Concurrency: *concurrency, AnnounceInterval: time.Duration(*announceMs) * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := &output{writer: bufio.NewWriter(os.Stdout)}
	serveDriverService(svc, out)
	if err := svc.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "start failed:", err)
		os.Exit(1)
	}
	out.line(map[string]any{"op": "ready", "service": svc.Name(), "instance": svc.Instance()})

	stop := make(chan struct{}, 1)
	requestStop := func() {
		select {
		case stop <- struct{}{}:
		default:
		}
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		requestStop()
	}()
	var commands sync.WaitGroup
	go func() {
		readCommands(svc, out, &commands, requestStop)
		requestStop() // stdin ended
	}()
	<-stop
	svc.Stop()
	out.line(map[string]any{"op": "stopped"})
	os.Exit(0)
}

// serveDriverService registers the driver's actions, event, task and hooks.
func serveDriverService(svc *service.Service, out *output) {
	by := svc.Instance()
	svc.Action("echo", func(ctx context.Context, call *service.Call) (any, error) { return call.Params, nil })
	svc.Action("add", func(ctx context.Context, call *service.Call) (any, error) {
		params, _ := call.Params.(map[string]any)
		a, okA := params["a"].(int64)
		b, okB := params["b"].(int64)
		if !okA || !okB {
			field := map[bool]string{true: "b", false: "a"}[okA]
			return nil, service.Errorf(codec.CodeValidation, "add takes {a: number, b: number}: %s is not a number", field).
				WithData(map[string]any{"path": "/body/params/" + field})
		}
		return map[string]any{"sum": a + b, "by": by}, nil
	})
	svc.Action("fail", service.Typed(func(ctx context.Context, call *service.Call, p struct {
		Code    *string `json:"code"`
		Message *string `json:"message"`
	}) (any, error) {
		if p.Code == nil || p.Message == nil {
			return nil, service.Errorf(codec.CodeValidation, "fail takes {code: string, message: string}")
		}
		if !slices.Contains(protocol.ErrorCodes, *p.Code) {
			return nil, service.Errorf(codec.CodeValidation, "params.code: %s is not a protocol error code", *p.Code).WithData(map[string]any{"path": "/body/params/code"})
		}
		retryable := slices.Contains([]string{codec.CodeUnavailable, codec.CodeTimeout, codec.CodeOverloaded}, *p.Code)
		return nil, &service.Error{Code: *p.Code, Message: *p.Message, Retryable: retryable}
	}))
	svc.Action("slow", service.Typed(func(ctx context.Context, call *service.Call, p struct {
		Ms *int64 `json:"ms"`
	}) (any, error) {
		if p.Ms == nil || *p.Ms < 0 || *p.Ms > 600_000 {
			return nil, service.Errorf(codec.CodeValidation, "slow takes {ms: 0..600000}")
		}
		out.line(map[string]any{"op": "slow", "ms": *p.Ms, "by": by})
		select {
		case <-time.After(time.Duration(*p.Ms) * time.Millisecond):
			return map[string]any{"slept": *p.Ms, "by": by}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}))
	svc.Action("relay", service.Typed(func(ctx context.Context, call *service.Call, p struct {
		Action string `json:"action"`
		Params any    `json:"params"`
	}) (any, error) {
		if p.Action == "" {
			return nil, service.Errorf(codec.CodeValidation, "relay takes {action: string, params?: any}")
		}
		return call.Call(ctx, p.Action, p.Params)
	}))
	svc.On("mixed.ping", func(ctx context.Context, event *service.Event) error {
		line := map[string]any{"op": "event", "event": event.Name, "delivery": string(event.Delivery), "sender": event.Sender}
		if event.Data != nil {
			line["data"] = event.Data
		}
		out.line(line)
		return nil
	})
	svc.Every("heartbeat", time.Second, func(ctx context.Context, t *service.TaskContext) error {
		return t.Broadcast("mixed.heartbeat", map[string]any{"instance": by})
	})
	svc.OnServiceUp(func(info service.InstanceInfo) {
		out.line(map[string]any{"op": "up", "service": info.Service, "instance": info.Instance})
	})
	svc.OnServiceDown(func(info service.InstanceInfo, reason service.DownReason) {
		out.line(map[string]any{"op": "down", "service": info.Service, "instance": info.Instance, "reason": string(reason)})
	})
}
