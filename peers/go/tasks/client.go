// Package tasks is the Go side of Correio's durable task queue (protocol README, revision 1.6;
// protocol/schemas/v1/tasks.*.json), as @correio/tasks is the TypeScript one: a Client enqueues
// jobs, waits for their results, cancels, lists and replays them; a Worker leases jobs of some
// queues, runs a handler per task name, heartbeats the running ones and settles each with its
// result or error. Every request goes through the broker to the `tasks` service, which the
// cluster's elected coordinator serves; while it fails over, requests are resent.
package tasks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"sync"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/mdp"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
)

// Service is the broker service of the task queue (protocol/FRAMES.md section 4.3).
const Service = "tasks"

const (
	// requestSlack is how long one request may take beyond the long poll it asks for.
	requestSlack = 5 * time.Second
	// maxGetWait is the longest wait_ms a tasks.get may ask for (the schema's maximum).
	maxGetWait = 60 * time.Second
	// maxBackoff bounds the pause between resends of a retryable failure.
	maxBackoff = 2 * time.Second
	// maxResends bounds the resends of one request, whatever its deadline.
	maxResends = 1_000
	// maxWaitRounds bounds the long polls of one Wait.
	maxWaitRounds = 100_000
)

// ClientOptions configure a Client; zero values take the defaults.
type ClientOptions struct {
	// Sender is the node id in every envelope's from; "go-tasks-<random>" by default.
	Sender string
	// RetryFor is how long one call keeps resending while the queue answers retryably
	// (UNAVAILABLE while its coordinator fails over, TIMEOUT); the context's deadline, when
	// sooner, ends it first. Default 30 s. Enqueues are safe to resend: each carries its job id.
	RetryFor time.Duration
	// Auth returns the access token of the user the requests act for (a server in password mode
	// needs one); nil or "" sends none.
	Auth func() string
	// Logger receives the MDP client's warnings (default slog.Default()).
	Logger *slog.Logger
}

// Client is a producer's and an operator's side of the task queue. Failures are *codec.Error
// (NOT_FOUND, CONFLICT, VALIDATION, TIMEOUT, …) except Result's *FailedError. Safe for concurrent
// use.
type Client struct {
	requests  *mdp.Client
	retryFor  time.Duration
	auth      func() string
	closed    chan struct{}
	closeOnce sync.Once
}

// Dial connects a Client to the broker at endpoint.
func Dial(broker string, options ClientOptions) (*Client, error) {
	if options.Sender == "" {
		options.Sender = message.NewNodeID("go-tasks")
	}
	stamp, err := message.NewStamp(options.Sender)
	if err != nil {
		return nil, err
	}
	if options.RetryFor <= 0 {
		options.RetryFor = 30 * time.Second
	}
	if options.Logger == nil {
		options.Logger = slog.Default()
	}
	requests, err := mdp.Dial(broker, mdp.ClientOptions{Stamp: stamp, Timeout: 10 * time.Second, Retries: -1, Logger: options.Logger})
	if err != nil {
		return nil, err
	}
	return &Client{requests: requests, retryFor: options.RetryFor, auth: options.Auth, closed: make(chan struct{})}, nil
}

// Close closes the connection; calls in flight fail with UNAVAILABLE.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.requests.Close()
	})
	return err
}

// Enqueue adds a job of task to queue with args (nil: none; a struct is sent by its json tags)
// and returns it once it is durable. created is false when a job of that id existed: it is
// returned as it is. Without WithID the id is generated here, so that a resend after a lost reply
// finds the job rather than making another.
func (c *Client) Enqueue(ctx context.Context, queue, task string, args any, options ...EnqueueOption) (Job, bool, error) {
	wire, err := some(args)
	if err != nil {
		return Job{}, false, err
	}
	request := protocol.TasksEnqueueRequest{Queue: queue, Task: task, Args: wire}
	for _, option := range options {
		option(&request)
	}
	if request.ID == nil {
		request.ID = protocol.Some(newJobID())
	}
	var reply protocol.TasksEnqueueReply
	if err := c.call(ctx, "tasks.enqueue.request", request, &reply, 0); err != nil {
		return Job{}, false, err
	}
	return Job{reply.Job}, reply.Created, nil
}

// Get returns the job as the queue holds it now; NOT_FOUND for an unknown (or expired) id.
func (c *Client) Get(ctx context.Context, id string) (Job, error) {
	return c.get(ctx, id, 0)
}

func (c *Client) get(ctx context.Context, id string, wait time.Duration) (Job, error) {
	request := protocol.TasksGetRequest{ID: id}
	if wait > 0 {
		request.WaitMs = protocol.Some(wait.Milliseconds())
	}
	var reply protocol.TasksGetReply
	if err := c.call(ctx, "tasks.get.request", request, &reply, wait); err != nil {
		return Job{}, err
	}
	return Job{reply.Job}, nil
}

// waitMargin is kept between a long poll's end and the context's deadline, so that the reply
// arrives before the context ends.
const waitMargin = 250 * time.Millisecond

// Wait returns the job once it is finished (succeeded, dead or cancelled), asking the queue to
// hold each tasks.get until then (at most a minute a round). It waits until ctx ends: then it
// fails with TIMEOUT and returns the job as last seen.
func (c *Client) Wait(ctx context.Context, id string) (Job, error) {
	var last Job
	for round := 0; round < maxWaitRounds; round++ {
		wait := maxGetWait
		if deadline, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(deadline)-waitMargin)
		}
		wait = max(wait, 0)
		job, err := c.get(ctx, id, wait)
		if err != nil {
			return last, err
		}
		last = job
		if job.Finished() {
			return job, nil
		}
		if wait == 0 {
			break
		}
	}
	return last, codec.Errorf(codec.CodeTimeout, "job %s did not finish in time (it is %s)", id, last.State).WithData(map[string]any{"id": id})
}

// Result waits for the job (as Wait does) and returns its result (nil when it has none); a
// *FailedError when it is dead or cancelled.
func (c *Client) Result(ctx context.Context, id string) (any, error) {
	job, err := c.Wait(ctx, id)
	if err != nil {
		return nil, err
	}
	if job.State != protocol.TaskStateSucceeded {
		return nil, &FailedError{Job: job}
	}
	if job.Result == nil {
		return nil, nil
	}
	return *job.Result, nil
}

// ResultAs is Result decoded into a T (json or msgpack tags).
func ResultAs[T any](ctx context.Context, c *Client, id string) (T, error) {
	var result T
	job, err := c.Wait(ctx, id)
	if err != nil {
		return result, err
	}
	if job.State != protocol.TaskStateSucceeded {
		return result, &FailedError{Job: job}
	}
	err = job.BindResult(&result)
	return result, err
}

// Cancel cancels a job: at once unless it runs, else its worker is told at its next heartbeat
// (the job is cancel_requested until the worker settles it). A finished job comes back as is.
func (c *Client) Cancel(ctx context.Context, id string) (Job, error) {
	var reply protocol.TasksCancelReply
	err := c.call(ctx, "tasks.cancel.request", protocol.TasksCancelRequest{ID: id}, &reply, 0)
	return Job{reply.Job}, err
}

// Retry replays a dead (or cancelled) job: queued again, its attempts counted from 0. Any other
// state is CONFLICT.
func (c *Client) Retry(ctx context.Context, id string) (Job, error) {
	var reply protocol.TasksRetryReply
	err := c.call(ctx, "tasks.retry.request", protocol.TasksRetryRequest{ID: id}, &reply, 0)
	return Job{reply.Job}, err
}

// ListOptions select a page of List; zero values select everything, in pages of the server's size.
type ListOptions struct {
	Queue string
	State string
	Limit int
	// After is the previous page's Next.
	After string
}

// Page is one page of jobs, ordered by id, with the counts per queue and state of every job the
// coordinator holds.
type Page struct {
	Server string
	Jobs   []Job
	// Next is the After of the next page; "" on the last one.
	Next   string
	Counts map[string]map[string]int64
}

// List returns a page of jobs.
func (c *Client) List(ctx context.Context, options ListOptions) (Page, error) {
	var request protocol.TasksListRequest
	if options.Queue != "" {
		request.Queue = protocol.Some(options.Queue)
	}
	if options.State != "" {
		request.State = protocol.Some(options.State)
	}
	if options.Limit > 0 {
		request.Limit = protocol.Some(int64(options.Limit))
	}
	if options.After != "" {
		request.After = protocol.Some(options.After)
	}
	var reply protocol.TasksListReply
	if err := c.call(ctx, "tasks.list.request", request, &reply, 0); err != nil {
		return Page{}, err
	}
	page := Page{Server: reply.Server, Jobs: make([]Job, len(reply.Jobs)), Counts: reply.Counts}
	for i, job := range reply.Jobs {
		page.Jobs[i] = Job{job}
	}
	if reply.Next != nil {
		page.Next = *reply.Next
	}
	return page, nil
}

// call sends one request to the tasks service and converts its reply into reply. A retryable
// failure (UNAVAILABLE while the coordinator fails over, TIMEOUT) is resent with the same request
// id, after a backoff of 100 ms doubling to 2 s, until RetryFor has passed or ctx ends. poll is
// the long poll the request asks for: an attempt waits that long plus requestSlack.
func (c *Client) call(ctx context.Context, messageType string, request, reply any, poll time.Duration) error {
	deadline := time.Now().Add(c.retryFor)
	id := message.NewRequestID()
	var err error
	for attempt := 0; attempt < maxResends; attempt++ {
		options := []mdp.RequestOption{mdp.WithID(id), mdp.WithTimeout(poll + requestSlack), mdp.WithRetries(0)}
		if c.auth != nil {
			options = append(options, mdp.WithAuth(c.auth())) // read again: a token may have been refreshed
		}
		err = c.requests.Call(ctx, Service, messageType, request, reply, options...)
		if err == nil || !retryable(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		pause := time.NewTimer(min(maxBackoff, 100*time.Millisecond<<min(attempt, 5)))
		select {
		case <-pause.C:
		case <-ctx.Done():
			pause.Stop()
			return err
		case <-c.closed:
			pause.Stop()
			return codec.Errorf(codec.CodeUnavailable, "the tasks client was closed")
		}
	}
	return err
}

func retryable(err error) bool {
	var typed *codec.Error
	return errors.As(err, &typed) && typed.Retryable
}

// newJobID is "j_" and 16 random URL-safe characters, as @correio/tasks makes them.
func newJobID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return "j_" + base64.RawURLEncoding.EncodeToString(b[:])
}
