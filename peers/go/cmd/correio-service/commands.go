package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"correio.dev/peers/go/internal/jsonvalue"
	"correio.dev/peers/go/service"
)

// output writes one JSON object per line to stdout, whole lines only.
type output struct {
	mu     sync.Mutex
	writer *bufio.Writer
	closed bool // after "stopped", the last line, nothing more is written
}

func (o *output) line(fields map[string]any) {
	data, err := json.Marshal(fields)
	if err != nil {
		data, _ = json.Marshal(map[string]any{"op": "error", "id": fields["id"], "code": "INTERNAL", "message": err.Error(), "retryable": false})
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.closed = fields["op"] == "stopped"
	_, _ = o.writer.Write(append(data, '\n'))
	_ = o.writer.Flush()
}

// command is one line of stdin.
type command struct {
	Op        string          `json:"op"`
	ID        any             `json:"id"`
	Action    string          `json:"action"`
	Event     string          `json:"event"`
	Params    json.RawMessage `json:"params"`
	Data      json.RawMessage `json:"data"`
	TimeoutMs *int64          `json:"timeout_ms"`
	Retries   *int            `json:"retries"`
	Count     int             `json:"count"`
	Inflight  int             `json:"inflight"`
}

// readCommands runs each stdin command (calls at once, each on its own goroutine) until stdin
// ends or a stop command; then it waits for the commands still running.
func readCommands(svc *service.Service, out *output, running *sync.WaitGroup, stop func()) {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for scanner.Scan() {
		text := bytes.TrimSpace(scanner.Bytes())
		if len(text) == 0 {
			continue
		}
		var c command
		if err := json.Unmarshal(text, &c); err != nil {
			fmt.Fprintln(os.Stderr, "ignoring a line that is not a command:", err)
			continue
		}
		if c.Op == "stop" {
			stop()
			return
		}
		running.Add(1)
		go func() {
			defer running.Done()
			run(svc, out, c)
		}()
	}
}

func run(svc *service.Service, out *output, c command) {
	ctx := context.Background()
	switch c.Op {
	case "call":
		params, err := jsonValue(c.Params)
		if err != nil {
			out.line(errorLine(c.ID, err))
			return
		}
		var options []service.CallOption
		if c.TimeoutMs != nil {
			options = append(options, service.WithTimeout(time.Duration(*c.TimeoutMs)*time.Millisecond))
		}
		if c.Retries != nil {
			options = append(options, service.WithRetries(*c.Retries))
		}
		result, err := svc.Call(ctx, c.Action, params, options...)
		if err != nil {
			out.line(errorLine(c.ID, err))
			return
		}
		line := map[string]any{"op": "result", "id": c.ID}
		if result != nil {
			line["result"] = result
		}
		out.line(line)
	case "emit":
		data, err := jsonValue(c.Data)
		if err != nil {
			out.line(errorLine(c.ID, err))
			return
		}
		report, err := svc.Emit(ctx, c.Event, data)
		if err != nil {
			out.line(errorLine(c.ID, err))
			return
		}
		failed := []string{}
		for _, failure := range report.Failed {
			failed = append(failed, failure.Group)
		}
		out.line(map[string]any{"op": "emitted", "id": c.ID, "delivered": report.Delivered, "failed": failed})
	case "broadcast":
		data, err := jsonValue(c.Data)
		if err == nil {
			err = svc.Broadcast(c.Event, data)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "broadcast failed:", err)
		}
	case "bench":
		params, err := jsonValue(c.Params)
		if err != nil {
			out.line(errorLine(c.ID, err))
			return
		}
		out.line(bench(ctx, svc, c, params))
	default:
		fmt.Fprintln(os.Stderr, "ignoring an unknown command:", c.Op)
	}
}

// bench calls c.Action c.Count times, at most c.Inflight at once, and reports latencies in ms.
func bench(ctx context.Context, svc *service.Service, c command, params any) map[string]any {
	count, inflight := max(0, c.Count), max(1, c.Inflight)
	latencies := make([]float64, count)
	failures := make([]bool, count)
	next := make(chan int)
	var wg sync.WaitGroup
	started := time.Now()
	for range min(inflight, max(1, count)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				began := time.Now()
				_, err := svc.Call(ctx, c.Action, params)
				latencies[i] = float64(time.Since(began).Microseconds()) / 1000
				failures[i] = err != nil
			}
		}()
	}
	for i := range count {
		next <- i
	}
	close(next)
	wg.Wait()
	seconds := time.Since(started).Seconds()
	errorCount := 0
	for _, failed := range failures {
		if failed {
			errorCount++
		}
	}
	slices.Sort(latencies)
	return map[string]any{
		"op": "bench", "id": c.ID, "count": count, "errors": errorCount, "seconds": seconds,
		"p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99),
	}
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func errorLine(id any, err error) map[string]any {
	var typed *service.Error
	if !errors.As(err, &typed) {
		typed = service.Errorf("INTERNAL", "%v", err)
	}
	return map[string]any{"op": "error", "id": id, "code": typed.Code, "message": typed.Message, "retryable": typed.Retryable}
}

// jsonValue reads a JSON value with integers as int64 (v1 has no floats: a fraction is refused as
// VALIDATION); nil for an absent value.
func jsonValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	value, err := jsonvalue.Parse(raw)
	if err != nil {
		return nil, service.Errorf("VALIDATION", "not a v1 JSON value: %v", err)
	}
	return value, nil
}
