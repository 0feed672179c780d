// Command correio-tasks-worker is a Go task-queue worker (package tasks) for interop and manual
// runs: it takes jobs of the given queues and handles four tasks —
//
//	echo   returns its args
//	add    returns the sum of an array of integers (a non-integer fails for good: InvalidArgs)
//	sleep  {"ms": n}: reports progress, waits n ms (stopping when the job is cancelled), returns n
//	fail   {"type": t, "message": m, "permanent": b}: fails with that error (for good if permanent)
//
// It prints "ready <worker id>" and runs until SIGTERM or SIGINT, then stops gracefully (running
// jobs get -grace to finish; the rest are given back).
//
//	go run ./cmd/correio-tasks-worker -broker tcp://127.0.0.1:5555 -queues email,reports
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"correio.dev/peers/go/tasks"
)

type sleepArgs struct {
	Ms int64 `json:"ms"`
}

type failArgs struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Permanent bool   `json:"permanent"`
}

func main() {
	broker := flag.String("broker", "tcp://127.0.0.1:5555", "the broker's MDP endpoint")
	queues := flag.String("queues", "", "the queues to take jobs from, comma-separated")
	id := flag.String("id", "", "the worker's id (default go-<host>-<pid>-<random>)")
	concurrency := flag.Int("concurrency", 4, "jobs run at once")
	poll := flag.Duration("poll", 20*time.Second, "how long a lease request waits for a job")
	grace := flag.Duration("grace", 10*time.Second, "how long running jobs may finish at stop")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *queues == "" {
		fmt.Fprintln(os.Stderr, "usage: correio-tasks-worker -broker ENDPOINT -queues QUEUE[,QUEUE…]")
		os.Exit(2)
	}

	worker := tasks.NewWorker(*broker, tasks.WorkerOptions{
		ID: *id, Queues: strings.Split(*queues, ","), Concurrency: *concurrency, Poll: *poll, Grace: *grace, Logger: log,
	})
	worker.Handle("echo", func(ctx context.Context, job tasks.Job) (any, error) {
		if job.Args == nil {
			return nil, nil
		}
		return *job.Args, nil
	})
	worker.Handle("add", tasks.Typed(func(ctx context.Context, job tasks.Job, numbers []int64) (int64, error) {
		var sum int64
		for _, n := range numbers {
			sum += n
		}
		return sum, nil
	}))
	worker.Handle("sleep", tasks.Typed(func(ctx context.Context, job tasks.Job, args sleepArgs) (int64, error) {
		if err := tasks.Progress(ctx, map[string]any{"sleeping_ms": args.Ms}); err != nil {
			return 0, err
		}
		timer := time.NewTimer(time.Duration(args.Ms) * time.Millisecond)
		defer timer.Stop()
		select {
		case <-timer.C:
			return args.Ms, nil
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
	}))
	worker.Handle("fail", tasks.Typed(func(ctx context.Context, job tasks.Job, args failArgs) (any, error) {
		err := tasks.Errorf(args.Type, "%s", args.Message)
		if args.Permanent {
			err = tasks.Permanent(err)
		}
		return nil, err
	}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fmt.Println("ready", worker.ID())
	if err := worker.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
