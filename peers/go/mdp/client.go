package mdp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
)

// ClientOptions configure a Client; zero values take the defaults.
type ClientOptions struct {
	// Stamp stamps requests; a fresh node id "go-client-…" by default.
	Stamp *message.Stamp
	// Timeout is how long one attempt waits for its FINAL (default 5 s).
	Timeout time.Duration
	// Retries is how many times a timed-out request is sent again with the same id (default 1;
	// negative for none).
	Retries int
	// Limits apply to replies (default codec.DefaultLimits).
	Limits *codec.Limits
	// Logger receives warnings about malformed replies (default slog.Default()).
	Logger *slog.Logger
	// Framing frames requests (FRAMES.md 1.12): Classic or Packed; empty takes CORREIO_MDP_FRAMING,
	// else Classic. Replies are accepted in either framing.
	Framing Framing
}

// Client sends requests through a Majordomo broker over one DEALER socket. Many requests may be in
// flight at once; each reply is matched to its request by envelope id, never by order, and replies
// nobody waits for any more are dropped. Safe for concurrent use.
type Client struct {
	socket  zmq4.Socket
	stamp   *message.Stamp
	timeout time.Duration
	retries int
	limits  codec.Limits
	log     *slog.Logger
	framing Framing
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}

	sendMu  sync.Mutex
	mu      sync.Mutex
	pending map[string]chan *message.Envelope
	mmi     []chan string // MMI replies carry no id: the broker answers them in order
}

// Dial connects a Client to the broker at endpoint (retrying while the broker is not up yet,
// and reconnecting if the connection is lost).
func Dial(endpoint string, options ClientOptions) (*Client, error) {
	if options.Stamp == nil {
		options.Stamp, _ = message.NewStamp(message.NewNodeID("go-client"))
	}
	if options.Timeout <= 0 {
		options.Timeout = 5 * time.Second
	}
	if options.Retries == 0 {
		options.Retries = 1
	} else if options.Retries < 0 {
		options.Retries = 0
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
	ctx, cancel := context.WithCancel(context.Background())
	socket := zmq4.NewDealer(ctx, zmq4.WithDialerRetry(100*time.Millisecond), zmq4.WithDialerMaxRetries(50), zmq4.WithAutomaticReconnect(true), zmq4.WithTimeout(options.Timeout))
	if err := socket.Dial(endpoint); err != nil {
		cancel()
		socket.Close()
		return nil, codec.Errorf(codec.CodeUnavailable, "cannot reach the broker at %s: %v", endpoint, err)
	}
	c := &Client{
		socket: socket, stamp: options.Stamp, timeout: options.Timeout, retries: options.Retries,
		limits: *options.Limits, log: options.Logger, framing: framing, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		pending: map[string]chan *message.Envelope{},
	}
	go c.receiveLoop()
	return c, nil
}

// Stamp is the client's stamp (sender id and Lamport clock).
func (c *Client) Stamp() *message.Stamp { return c.stamp }

// Close closes the socket; requests in flight fail with UNAVAILABLE.
func (c *Client) Close() error {
	c.cancel()
	err := c.socket.Close()
	<-c.done
	return err
}

// Request sends one request and returns the reply envelope (of the request's reply type). The
// error is a *codec.Error: the one a peer answered with, TIMEOUT when every attempt timed out,
// VALIDATION when body does not match the request's schema, UNAVAILABLE when the client closed.
func (c *Client) Request(ctx context.Context, service, messageType string, body any, options ...RequestOption) (*message.Envelope, error) {
	var settings requestSettings
	for _, option := range options {
		option(&settings)
	}
	info, ok := protocol.Messages[messageType]
	if !ok || info.Pattern != "request" {
		return nil, fmt.Errorf("%q is not a request type", messageType)
	}
	if err := CheckService(service); err != nil {
		return nil, err
	}
	timeout, retries := c.timeout, c.retries
	if settings.timeout > 0 {
		timeout = settings.timeout
	}
	if settings.retries != nil {
		retries = max(0, *settings.retries)
	}
	if settings.id != "" && !message.IsRequestID(settings.id) {
		return nil, codec.Errorf(codec.CodeValidation, "%q is not a request id", settings.id)
	}
	envelope := c.stamp.Envelope(messageType, body, settings.id)
	envelope.Auth = settings.auth
	replies := make(chan *message.Envelope, 1)
	c.mu.Lock()
	if _, taken := c.pending[envelope.ID]; taken {
		c.mu.Unlock()
		return nil, codec.Errorf(codec.CodeConflict, "a request with id %s is already in flight on this client", envelope.ID)
	}
	c.pending[envelope.ID] = replies
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, envelope.ID)
		c.mu.Unlock()
	}()
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			// A retry keeps the id; only the clock reading is new.
			envelope = c.stamp.Envelope(messageType, body, envelope.ID)
			envelope.Auth = settings.auth
		}
		data, err := message.Encode(envelope)
		if err != nil {
			return nil, err
		}
		if err := c.send(ClientRequestFramed(service, data, c.framing)); err != nil {
			return nil, codec.Errorf(codec.CodeUnavailable, "sending to the broker: %v", err)
		}
		timer := time.NewTimer(timeout)
		select {
		case reply := <-replies:
			timer.Stop()
			if reply.Type == "error" {
				fields, _ := reply.Body.(map[string]any)
				return nil, codec.FromWire(fields)
			}
			if reply.Type != info.Reply {
				return nil, codec.Errorf(codec.CodeValidation, "expected %s in reply to %s, got %s", info.Reply, messageType, reply.Type).
					WithData(map[string]any{"expected": info.Reply, "got": reply.Type})
			}
			return reply, nil
		case <-timer.C:
			c.log.Debug("request timed out", "type", messageType, "id", envelope.ID, "attempt", attempt+1)
		case <-ctx.Done():
			timer.Stop()
			return nil, codec.Errorf(codec.CodeTimeout, "%s %s: %v", messageType, envelope.ID, ctx.Err())
		case <-c.done:
			timer.Stop()
			return nil, codec.Errorf(codec.CodeUnavailable, "the client was closed")
		}
	}
	return nil, codec.Errorf(codec.CodeTimeout, "no reply to %s %s from %s after %d attempt(s) of %s", messageType, envelope.ID, service, retries+1, timeout)
}

// Call is Request that converts the reply body into reply, a pointer to the generated struct.
func (c *Client) Call(ctx context.Context, service, messageType string, body, reply any, options ...RequestOption) error {
	envelope, err := c.Request(ctx, service, messageType, body, options...)
	if err != nil {
		return err
	}
	return envelope.BodyAs(reply)
}

// ServiceExists asks the broker (MMI) whether a live worker serves service.
func (c *Client) ServiceExists(ctx context.Context, service string) (bool, error) {
	replies := make(chan string, 1)
	c.mu.Lock()
	c.mmi = append(c.mmi, replies)
	c.mu.Unlock()
	if err := c.send(ClientRequestFramed(MMIService, []byte(service), c.framing)); err != nil {
		return false, codec.Errorf(codec.CodeUnavailable, "sending to the broker: %v", err)
	}
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case code := <-replies:
		return code == "200", nil
	case <-timer.C:
		return false, codec.Errorf(codec.CodeTimeout, "no MMI reply for %s", service)
	case <-ctx.Done():
		return false, codec.Errorf(codec.CodeTimeout, "MMI for %s: %v", service, ctx.Err())
	}
}

func (c *Client) send(frames [][]byte) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.socket.SendMulti(zmq4.NewMsgFrom(frames...))
}

func (c *Client) receiveLoop() {
	defer close(c.done)
	for {
		msg, err := c.socket.Recv()
		if err != nil {
			if c.ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return
			}
			c.log.Debug("receive failed", "err", err)
			time.Sleep(10 * time.Millisecond) // the socket reconnects by itself
			continue
		}
		if err := c.dispatch(msg.Frames); err != nil {
			c.log.Warn("dropping a malformed reply", "err", err)
		}
	}
}

func (c *Client) dispatch(frames [][]byte) error {
	reply, err := ParseClientReply(frames)
	if err != nil {
		return err
	}
	if len(reply.Service) > 4 && reply.Service[:4] == "mmi." {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.mmi) > 0 {
			c.mmi[0] <- string(reply.Body[0])
			c.mmi = c.mmi[1:]
		}
		return nil
	}
	if len(reply.Body) != 1 {
		return fmt.Errorf("a reply carries exactly one body frame, got %d", len(reply.Body))
	}
	envelope, err := message.DecodeWithLimits(reply.Body[0], c.limits)
	if err != nil {
		return err
	}
	c.stamp.Observe(envelope)
	if !reply.Final {
		return nil // v1 services never stream; a PARTIAL is accepted and ignored
	}
	c.mu.Lock()
	replies, waiting := c.pending[envelope.ID]
	c.mu.Unlock()
	if !waiting {
		c.log.Debug("dropping a reply nobody waits for", "type", envelope.Type, "id", envelope.ID)
		return nil
	}
	select {
	case replies <- envelope:
	default: // a duplicate FINAL (the retry's answer): the first one won
	}
	return nil
}
