// Command correio-echo is a Go microservice behind a Correio broker: it serves the actions
// <name>.echo (returns its params) and <name>.add (returns the sum of an array of integers) as
// service.call.request on broker service svc.<name>. It prints "ready" once started and runs
// until interrupted.
//
//	go run ./cmd/correio-echo -endpoint tcp://127.0.0.1:5555 -name goecho
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/mdp"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
)

func main() {
	endpoint := flag.String("endpoint", "tcp://127.0.0.1:5555", "the broker's MDP endpoint")
	name := flag.String("name", "goecho", "the microservice name; the broker service is svc.<name>")
	concurrency := flag.Int("concurrency", 2, "worker connections (requests served at once)")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

	handler := func(_ context.Context, request *message.Envelope) (any, error) {
		var call protocol.ServiceCallRequest
		if err := request.BodyAs(&call); err != nil {
			return nil, err
		}
		switch call.Action {
		case *name + ".echo":
			return protocol.ServiceCallReply{Result: call.Params}, nil
		case *name + ".add":
			var items []any
			if call.Params != nil {
				items, _ = (*call.Params).([]any)
			}
			if items == nil {
				return nil, codec.Errorf(codec.CodeBadRequest, "add takes an array of integers")
			}
			var sum int64
			for _, item := range items {
				n, ok := item.(int64)
				if !ok {
					return nil, codec.Errorf(codec.CodeBadRequest, "add takes an array of integers")
				}
				sum += n
			}
			return protocol.ServiceCallReply{Result: protocol.Some[any](sum)}, nil
		}
		return nil, codec.Errorf(codec.CodeNotFound, "svc.%s has no action %s", *name, call.Action)
	}
	worker, err := mdp.NewWorker(*endpoint, "svc."+*name, handler, mdp.WorkerOptions{Concurrency: *concurrency})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	worker.Start()
	fmt.Println("ready")
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	<-signals
	worker.Stop()
}
