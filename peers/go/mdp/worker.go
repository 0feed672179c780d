package mdp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
)

// Handler serves one validated request and returns the reply body (the request's reply type,
// x-correio-reply); returning a *codec.Error answers with that error, any other error with INTERNAL.
type Handler func(ctx context.Context, request *message.Envelope) (any, error)

// WorkerOptions configure a Worker; zero values take the defaults of FRAMES.md section 1.6.
type WorkerOptions struct {
	Stamp *message.Stamp
	// Heartbeat is the heartbeat interval (default 2.5 s).
	Heartbeat time.Duration
	// Liveness is how many intervals of silence mean the broker is dead (default 3).
	Liveness int
	// ReconnectDelay is the pause before reconnecting (default one heartbeat interval).
	ReconnectDelay time.Duration
	// Concurrency is the number of worker connections, each serving one request at a time (default 1).
	Concurrency int
	Limits      *codec.Limits
	Logger      *slog.Logger
	// Framing frames READY, HEARTBEAT and DISCONNECT (FRAMES.md 1.12): Classic or Packed; empty takes
	// CORREIO_MDP_FRAMING, else Classic. Each reply goes as its REQUEST came.
	Framing Framing
}

// Worker serves one broker service: each connection is a DEALER that sends READY, answers each
// REQUEST with one FINAL carrying the request's id, heartbeats in both directions (also while a
// request is being served), and on DISCONNECT or broker silence starts over with a new socket.
type Worker struct {
	endpoint string
	service  string
	handler  Handler
	options  WorkerOptions
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	// draining is closed by Drain: connections stop taking requests and leave once idle.
	draining  chan struct{}
	drainOnce sync.Once

	served   atomic.Int64
	connects atomic.Int64
	// replyFailures counts requests whose reply path itself failed (contained: logged, no reply sent).
	replyFailures atomic.Int64
	// clampedRequest logs requests clamped to the Lamport bounds without letting a flood of them flood the log.
	clampedRequest rateLimitedWarning
}

// NewWorker returns a Worker for service; Start runs it.
func NewWorker(endpoint, service string, handler Handler, options WorkerOptions) (*Worker, error) {
	if err := CheckService(service); err != nil {
		return nil, err
	}
	if options.Stamp == nil {
		options.Stamp, _ = message.NewStamp(message.NewNodeID("go-worker"))
	}
	if options.Heartbeat <= 0 {
		options.Heartbeat = 2500 * time.Millisecond
	}
	if options.Liveness <= 0 {
		options.Liveness = 3
	}
	if options.ReconnectDelay <= 0 {
		options.ReconnectDelay = options.Heartbeat
	}
	if options.Concurrency <= 0 {
		options.Concurrency = 1
	}
	if options.Limits == nil {
		options.Limits = &codec.DefaultLimits
	}
	if options.Logger == nil {
		options.Logger = slog.Default()
	}
	framing, err := resolveFraming(options.Framing)
	if err != nil {
		return nil, err
	}
	options.Framing = framing
	return &Worker{endpoint: endpoint, service: service, handler: handler, options: options, draining: make(chan struct{})}, nil
}

// Served is the number of requests answered; Connects the number of connections opened.
func (w *Worker) Served() int64   { return w.served.Load() }
func (w *Worker) Connects() int64 { return w.connects.Load() }

// ReplyFailures is the number of requests whose reply could not be built: contained and logged,
// the worker kept serving.
func (w *Worker) ReplyFailures() int64 { return w.replyFailures.Load() }

// Start runs the worker's connections until Stop.
func (w *Worker) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	for i := 0; i < w.options.Concurrency; i++ {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.run(ctx)
		}()
	}
}

// Stop sends DISCONNECT on every connection and waits for them to close.
func (w *Worker) Stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
}

// Drain stops gracefully: idle connections send DISCONNECT at once, a connection serving a request
// finishes it, answers any further REQUEST with UNAVAILABLE (retryable: the caller retries
// elsewhere), and then disconnects. Handlers still running after timeout are cancelled (Stop).
// It reports whether every request finished in time.
func (w *Worker) Drain(timeout time.Duration) bool {
	w.drainOnce.Do(func() { close(w.draining) })
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
		w.Stop()
		return true
	case <-timer.C:
		w.Stop()
		return false
	}
}

func (w *Worker) run(ctx context.Context) {
	for ctx.Err() == nil {
		w.connects.Add(1)
		w.serve(ctx)
		select {
		case <-ctx.Done():
		case <-w.draining:
			return
		case <-time.After(w.options.ReconnectDelay):
		}
	}
}

// serve runs one connection until the broker disconnects it, goes silent, or ctx ends.
func (w *Worker) serve(ctx context.Context) {
	log := w.options.Logger.With("service", w.service)
	// The socket gets its own context: closing it must not wait for ctx, so DISCONNECT can be sent.
	socket := zmq4.NewDealer(context.Background(), zmq4.WithDialerRetry(100*time.Millisecond), zmq4.WithDialerMaxRetries(0), zmq4.WithTimeout(w.options.Heartbeat))
	defer socket.Close()
	if err := socket.Dial(w.endpoint); err != nil {
		log.Debug("cannot reach the broker", "err", err)
		return
	}
	var sendMu sync.Mutex
	send := func(frames ...[]byte) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return socket.SendMulti(zmq4.NewMsgFrom(frames...))
	}
	framing := w.options.Framing
	if err := send(WorkerReady(w.service, framing)...); err != nil {
		log.Debug("READY failed", "err", err)
		return
	}
	connCtx, cancel := context.WithCancel(ctx)
	received := make(chan [][]byte, 16)
	go func() {
		defer close(received)
		for {
			msg, err := socket.Recv()
			if err != nil {
				return
			}
			select {
			case received <- msg.Frames:
			case <-connCtx.Done():
				return
			}
		}
	}()
	heartbeat := time.NewTicker(w.options.Heartbeat)
	defer heartbeat.Stop()
	expiry := w.options.Heartbeat * time.Duration(w.options.Liveness)
	lastHeard := time.Now()
	var serving sync.WaitGroup
	defer func() {
		cancel() // stops a handler still running, then waits for it
		serving.Wait()
	}()
	busy := atomic.Bool{}
	// finished hears that a request was answered: a draining connection leaves then.
	finished := make(chan struct{}, 1)
	draining := w.draining
	leaving := false
	for {
		select {
		case <-ctx.Done():
			_ = send(WorkerSignal(Disconnect, framing)...)
			return
		case <-draining:
			draining, leaving = nil, true
			if !busy.Load() {
				_ = send(WorkerSignal(Disconnect, framing)...)
				return
			}
		case <-finished:
			if leaving && !busy.Load() {
				_ = send(WorkerSignal(Disconnect, framing)...)
				return
			}
		case frames, open := <-received:
			if !open {
				return
			}
			lastHeard = time.Now() // any command is a sign of life
			command, err := ParseWorkerCommand(frames)
			if err != nil {
				log.Warn("dropping a malformed command", "err", err)
				continue
			}
			switch command.Command {
			case Disconnect:
				log.Info("the broker sent DISCONNECT")
				return
			case WorkerRequest:
				select {
				case <-w.draining: // Drain began, even if this loop has not seen it yet
					leaving = true
				default:
				}
				if leaving {
					refusal := w.Refuse(command.Body, codec.Errorf(codec.CodeUnavailable, "the worker is stopping; retry with the same id"))
					_ = send(WorkerReply(WorkerFinal, command.Client, refusal, command.Framing)...)
					continue
				}
				if !busy.CompareAndSwap(false, true) {
					log.Warn("a second REQUEST while serving one; dropped")
					continue
				}
				// Served on its own goroutine, so heartbeats go on while the handler runs.
				serving.Add(1)
				go func() {
					defer serving.Done()
					defer func() {
						// No request may kill the process or wedge the connection: a panic on the
						// reply path is counted and logged, and the connection is idle again.
						if failure := recover(); failure != nil {
							w.replyFailures.Add(1)
							busy.Store(false)
							log.Error("the reply path of a request failed", "panic", fmt.Sprint(failure))
						}
					}()
					reply := w.Handle(connCtx, command.Body)
					// Idle again before FINAL leaves: the broker may send the next REQUEST at once.
					busy.Store(false)
					if err := send(WorkerReply(WorkerFinal, command.Client, reply, command.Framing)...); err == nil {
						w.served.Add(1)
					}
					select {
					case finished <- struct{}{}:
					default:
					}
				}()
			}
		case <-heartbeat.C:
			if time.Since(lastHeard) >= expiry {
				log.Warn("no sign of life from the broker", "for", expiry)
				return
			}
			_ = send(WorkerSignal(Heartbeat, framing)...)
		}
	}
}

// Handle returns the encoded reply to a REQUEST's body frames: the handler's reply, or an error
// envelope whose id is the request's when it can be read, "0" otherwise (FRAMES.md 1.4).
func (w *Worker) Handle(ctx context.Context, body [][]byte) []byte {
	stamp := w.options.Stamp
	requestID := message.UnknownRequestID
	reply, err := func() (*message.Envelope, error) {
		if len(body) == 0 {
			return nil, codec.Errorf(codec.CodeDecode, "a request carries exactly one body frame, got none")
		}
		value, err := codec.DecodeWithLimits(body[0], *w.options.Limits)
		if err != nil {
			return nil, err
		}
		requestID = requestIDOf(value)
		if len(body) != 1 {
			return nil, codec.Errorf(codec.CodeDecode, "a request carries exactly one body frame, got %d", len(body))
		}
		request, err := message.Validate(value)
		if err != nil {
			return nil, err
		}
		// Beyond the Lamport bounds: merged clamped and served, never refused (a refusal let an attacker
		// who had spent this peer's budget cut honest peers off from it, ENCODING.md section 4.1).
		if stamp.ObserveRequest(request) {
			w.clampedRequest.note(w.options.Logger, "a request's lc was beyond the Lamport bounds: merged only up to them, and served",
				"service", w.service, "id", request.ID, "from", request.From, "lc", request.LC)
		}
		info := protocol.Messages[request.Type]
		if info.Pattern != "request" {
			return nil, codec.Errorf(codec.CodeBadRequest, "%s is not a request", request.Type)
		}
		result, err := w.callHandler(ctx, request)
		if err != nil {
			return nil, err
		}
		if stamp.Clock.Exhausted() {
			exhausted := codec.Errorf(codec.CodeUnavailable, "this peer cannot serve: the Lamport clock is at 2^53-1")
			exhausted.Data = map[string]any{"reason": "lamport_exhausted"}
			return nil, exhausted
		}
		return stamp.Envelope(info.Reply, result, requestID), nil
	}()
	if err == nil {
		data, encodeErr := message.Encode(reply)
		if encodeErr == nil {
			return data
		}
		w.options.Logger.Error("the handler returned an invalid reply", "service", w.service, "err", encodeErr)
		err = codec.Errorf(codec.CodeInternal, "the service produced an invalid reply: %v", encodeErr)
	}
	data, encodeErr := message.Encode(stamp.Error(requestID, codec.AsError(err)))
	if encodeErr != nil {
		w.options.Logger.Error("an error reply could not be encoded; sending a plain INTERNAL one", "service", w.service, "err", encodeErr)
		data, encodeErr = message.Encode(stamp.Error(requestID, codec.Errorf(codec.CodeInternal, "the error reply could not be encoded")))
	}
	if encodeErr != nil {
		panic("encoding an error envelope failed: " + encodeErr.Error()) // recovered and counted by the serving goroutine
	}
	return data
}

// Refuse returns an error envelope answering a REQUEST's body frames with err, without serving it:
// its id is the request's when it can be read.
func (w *Worker) Refuse(body [][]byte, err *codec.Error) []byte {
	requestID := message.UnknownRequestID
	if len(body) == 1 {
		if value, decodeErr := codec.DecodeWithLimits(body[0], *w.options.Limits); decodeErr == nil {
			requestID = requestIDOf(value)
		}
	}
	data, encodeErr := message.Encode(w.options.Stamp.Error(requestID, err))
	if encodeErr != nil {
		data, _ = message.Encode(w.options.Stamp.Error(requestID, codec.Errorf(codec.CodeUnavailable, "refused")))
	}
	return data
}

// requestIDOf is the id of a decoded request, or UnknownRequestID when it has none that is valid.
func requestIDOf(value any) string {
	if fields, ok := value.(map[string]any); ok {
		if id, ok := fields["id"].(string); ok && message.IsRequestID(id) {
			return id
		}
	}
	return message.UnknownRequestID
}

// callHandler runs the handler; a panic in it becomes an INTERNAL error reply, as a returned error would.
func (w *Worker) callHandler(ctx context.Context, request *message.Envelope) (result any, err error) {
	defer func() {
		if failure := recover(); failure != nil {
			w.options.Logger.Error("handler panicked", "service", w.service, "type", request.Type, "panic", fmt.Sprint(failure))
			result, err = nil, codec.Errorf(codec.CodeInternal, "the handler failed: %v", failure)
		}
	}()
	return w.handler(ctx, request)
}
