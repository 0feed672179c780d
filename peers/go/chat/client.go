// Package chat is a Correio chat client: one user's session with the chat service. Requests
// (chat.*.request, protocol/schemas/v1) go through the broker with MDP/0.2; publications to joined
// channels and direct messages to the user arrive live through the proxy (FRAMES.md sections 3
// and 4.1). One Lamport clock stamps every request and merges every reply, event and stored
// message received.
//
// Identity (protocol revision 1.1): Register once, then Login with the password (an empty one on
// servers running --auth open). The client keeps the tokens of the reply; every later request
// carries the access token as the envelope's auth and no body user (the server takes the user
// from the token). The access token is refreshed (chat.refresh.request) when less than
// Options.RefreshMargin of it is left, judged by the expires_at the server sent; Logout revokes
// every token of the user.
package chat

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/mdp"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
	"correio.dev/peers/go/pubsub"
)

// Service is the broker service of every chat request (FRAMES.md section 4.2).
const Service = "chat"

// ErrNoProxy is returned by Join and Leave on a client dialled without a proxy endpoint.
var ErrNoProxy = errors.New("this chat client was dialled without a proxy endpoint: it receives nothing live")

// Options configure a Client; zero values take the defaults.
type Options struct {
	// Service is the broker service requests go to: "chat" (load-balanced over every server, the
	// default) or "srv.<id>" to talk to one server, as a sticky client does.
	Service string
	// Sender is the node id in every envelope's from; "go-chat-<user>-<random>" by default.
	Sender string
	// Timeout is how long one request attempt waits for its reply (default 5 s).
	Timeout time.Duration
	// Retries is how many times a timed-out request is sent again with the same id (default 1;
	// negative for none).
	Retries int
	// Buffer is how many events wait in Events() for the reader (default 256). While it is full,
	// further events queue in the subscriber socket.
	Buffer int
	// Logger receives warnings about events dropped (default slog.Default()).
	Logger *slog.Logger
	// RefreshMargin: a request refreshes the access token first when less than this is left of
	// it (default 1 minute).
	RefreshMargin time.Duration
}

// Client is one user's chat session. Request methods return the reply body, or a *codec.Error:
// the one the server answered with (BAD_REQUEST, NOT_FOUND, …), TIMEOUT, UNAVAILABLE. Safe for
// concurrent use.
type Client struct {
	user       string
	service    string
	stamp      *message.Stamp
	requests   *mdp.Client
	subscriber *pubsub.Subscriber
	events     chan Event
	log        *slog.Logger
	closing    chan struct{}
	pumped     chan struct{}
	closeOnce  sync.Once
	unexpected atomic.Int64

	refreshMargin time.Duration
	tokensMu      sync.Mutex // guards tokens; held across a refresh so that concurrent requests refresh once
	tokens        *Tokens
}

// Dial opens a session for user: a request client on the broker's endpoint and, unless proxy is
// empty, a subscriber on the proxy's XPUB endpoint, already subscribed to the user's own topic
// (user/<user>/) so that no direct message sent after Login is missed.
func Dial(broker, proxy, user string, options Options) (*Client, error) {
	if options.Service == "" {
		options.Service = Service
	}
	if err := mdp.CheckService(options.Service); err != nil {
		return nil, err
	}
	if options.Sender == "" {
		options.Sender = message.NewNodeID("go-chat-" + user)
	}
	stamp, err := message.NewStamp(options.Sender)
	if err != nil {
		return nil, err
	}
	if options.Buffer <= 0 {
		options.Buffer = 256
	}
	if options.Logger == nil {
		options.Logger = slog.Default()
	}
	if options.RefreshMargin <= 0 {
		options.RefreshMargin = time.Minute
	}
	ownTopic, err := pubsub.UserTopic(user)
	if err != nil {
		return nil, err
	}
	requests, err := mdp.Dial(broker, mdp.ClientOptions{Stamp: stamp, Timeout: options.Timeout, Retries: options.Retries, Logger: options.Logger})
	if err != nil {
		return nil, err
	}
	c := &Client{
		user: user, service: options.Service, stamp: stamp, requests: requests,
		events: make(chan Event, options.Buffer), log: options.Logger,
		closing: make(chan struct{}), pumped: make(chan struct{}), refreshMargin: options.RefreshMargin,
	}
	if proxy == "" {
		close(c.events)
		close(c.pumped)
		return c, nil
	}
	// Subscribe first, read state after (FRAMES.md section 3.6).
	subscriber, err := pubsub.Subscribe(proxy, ownTopic)
	if err != nil {
		requests.Close()
		return nil, err
	}
	c.subscriber = subscriber
	go c.pump()
	return c, nil
}

// User is the user this session acts as.
func (c *Client) User() string { return c.user }

// Sender is the node id in the from of this client's envelopes.
func (c *Client) Sender() string { return c.stamp.Sender }

// LC is the client's Lamport clock: the latest value it sent or merged.
func (c *Client) LC() int64 { return c.stamp.Clock.Value() }

// Unexpected counts valid envelopes received on a chat topic that were not that topic's event type.
func (c *Client) Unexpected() int64 { return c.unexpected.Load() }

// Close ends the session: requests in flight fail with UNAVAILABLE and Events() is closed.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closing)
		err = c.requests.Close()
		if c.subscriber != nil {
			if closeErr := c.subscriber.Close(); err == nil {
				err = closeErr
			}
		}
		<-c.pumped
	})
	return err
}

// call sends a request acting as this user: with the access token (refreshed first when it is
// about to expire) once logged in; otherwise as it is, the body naming the user (open mode).
func (c *Client) call(ctx context.Context, messageType string, body, reply any) error {
	token, err := c.accessToken(ctx)
	if err != nil {
		return err
	}
	return c.requests.Call(ctx, c.service, messageType, body, reply, mdp.WithAuth(token))
}

// anonymous sends register, login and refresh: they never carry a token.
func (c *Client) anonymous(ctx context.Context, messageType string, body, reply any) error {
	return c.requests.Call(ctx, c.service, messageType, body, reply)
}

// actingUser is the body user of a request that names its acting user: none once logged in, the
// token says who acts.
func (c *Client) actingUser() *protocol.UserName {
	if c.Tokens() != nil {
		return nil
	}
	return &c.user
}

// Tokens are the tokens kept from the latest login or refresh; nil before a login and after a logout.
func (c *Client) Tokens() *Tokens {
	c.tokensMu.Lock()
	defer c.tokensMu.Unlock()
	return c.tokens
}

func (c *Client) setTokens(tokens *Tokens) {
	c.tokensMu.Lock()
	c.tokens = tokens
	c.tokensMu.Unlock()
}

// accessToken is the access token to send ("" when not logged in), refreshed first when due.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.tokensMu.Lock()
	defer c.tokensMu.Unlock()
	if c.tokens == nil {
		return "", nil
	}
	if c.tokens.ExpiresWithin(c.refreshMargin) {
		tokens, err := c.exchange(ctx, c.tokens.Refresh)
		if err != nil {
			return "", err
		}
		c.tokens = tokens
	}
	return c.tokens.Access, nil
}

func (c *Client) exchange(ctx context.Context, refreshToken string) (*Tokens, error) {
	var reply protocol.ChatRefreshReply
	if err := c.anonymous(ctx, "chat.refresh.request", protocol.ChatRefreshRequest{RefreshToken: refreshToken}, &reply); err != nil {
		return nil, err
	}
	return &Tokens{Access: reply.Token, Refresh: reply.RefreshToken, ExpiresAt: reply.ExpiresAt, RefreshExpiresAt: reply.RefreshExpiresAt}, nil
}

// Register registers the user with password (CONFLICT if the name is taken); Login after.
func (c *Client) Register(ctx context.Context, password string) (protocol.ChatRegisterReply, error) {
	var reply protocol.ChatRegisterReply
	err := c.anonymous(ctx, "chat.register.request", protocol.ChatRegisterRequest{User: c.user, Password: password}, &reply)
	return reply, err
}

// Login logs the user in with password and keeps the tokens of the reply; logging in again only
// refreshes last_seen. An empty password: servers running --auth open only.
func (c *Client) Login(ctx context.Context, password string) (protocol.ChatLoginReply, error) {
	var reply protocol.ChatLoginReply
	if err := c.anonymous(ctx, "chat.login.request", protocol.ChatLoginRequest{User: c.user, Password: optional(password)}, &reply); err != nil {
		return reply, err
	}
	c.setTokens(tokensOfLogin(reply))
	return reply, nil
}

// Refresh exchanges the refresh token for new tokens now (requests do it by themselves when due).
func (c *Client) Refresh(ctx context.Context) (*Tokens, error) {
	c.tokensMu.Lock()
	defer c.tokensMu.Unlock()
	if c.tokens == nil {
		return nil, codec.Errorf(codec.CodeUnauthenticated, "not logged in: no refresh token")
	}
	tokens, err := c.exchange(ctx, c.tokens.Refresh)
	if err != nil {
		return nil, err
	}
	c.tokens = tokens
	return tokens, nil
}

// Logout revokes every token of the user, on every server once replicated, and forgets them.
func (c *Client) Logout(ctx context.Context) (protocol.ChatLogoutReply, error) {
	var reply protocol.ChatLogoutReply
	if err := c.call(ctx, "chat.logout.request", protocol.ChatLogoutRequest{}, &reply); err != nil {
		return reply, err
	}
	c.setTokens(nil)
	return reply, nil
}

// ChangePassword changes the user's password; every token issued before stops verifying, so the
// client forgets them: Login again with the new password.
func (c *Client) ChangePassword(ctx context.Context, password, newPassword string) (protocol.ChatPasswordReply, error) {
	var reply protocol.ChatPasswordReply
	if err := c.call(ctx, "chat.password.request", protocol.ChatPasswordRequest{Password: password, NewPassword: newPassword}, &reply); err != nil {
		return reply, err
	}
	c.setTokens(nil)
	return reply, nil
}

// Users reads one page of users in name order. limit 0 takes the server's page size; after is
// the previous page's Next ("" for the first page).
func (c *Client) Users(ctx context.Context, limit int64, after string) (protocol.ChatUsersReply, error) {
	request := protocol.ChatUsersRequest{Limit: optional(limit), After: optional(after)}
	var reply protocol.ChatUsersReply
	err := c.call(ctx, "chat.users.request", request, &reply)
	return reply, err
}

// Channels reads one page of channels in name order, paged like Users.
func (c *Client) Channels(ctx context.Context, limit int64, after string) (protocol.ChatChannelsReply, error) {
	request := protocol.ChatChannelsRequest{Limit: optional(limit), After: optional(after)}
	var reply protocol.ChatChannelsReply
	err := c.call(ctx, "chat.channels.request", request, &reply)
	return reply, err
}

// CreateChannel creates channel as this user; creating one that exists answers Created false.
func (c *Client) CreateChannel(ctx context.Context, channel string) (protocol.ChatChannelCreateReply, error) {
	var reply protocol.ChatChannelCreateReply
	err := c.call(ctx, "chat.channel.create.request", protocol.ChatChannelCreateRequest{User: c.actingUser(), Channel: channel}, &reply)
	return reply, err
}

// Publish publishes text on channel as this user. A retry (same request id) publishes once.
func (c *Client) Publish(ctx context.Context, channel, text string) (protocol.ChatPublishReply, error) {
	var reply protocol.ChatPublishReply
	err := c.call(ctx, "chat.publish.request", protocol.ChatPublishRequest{User: c.actingUser(), Channel: channel, Text: text}, &reply)
	return reply, err
}

// Direct sends text to the user to. A retry (same request id) sends once.
func (c *Client) Direct(ctx context.Context, to, text string) (protocol.ChatDirectReply, error) {
	var reply protocol.ChatDirectReply
	err := c.call(ctx, "chat.direct.request", protocol.ChatDirectRequest{User: c.actingUser(), To: to, Text: text}, &reply)
	return reply, err
}

// History reads the latest page of channel's publications (oldest first within the page);
// before is the previous page's Next. Each stored publication's clock is merged like a received
// message's.
func (c *Client) History(ctx context.Context, channel string, limit int64, before string) (protocol.ChatHistoryReply, error) {
	request := protocol.ChatHistoryRequest{Channel: channel, Limit: optional(limit), Before: optional(before)}
	var reply protocol.ChatHistoryReply
	if err := c.call(ctx, "chat.history.request", request, &reply); err != nil {
		return reply, err
	}
	for _, publication := range reply.Messages {
		c.stamp.Clock.Observe(publication.LC)
	}
	return reply, nil
}

// Conversation reads the latest page of the direct messages between this user and peer, paged
// and merged like History.
func (c *Client) Conversation(ctx context.Context, peer string, limit int64, before string) (protocol.ChatConversationReply, error) {
	request := protocol.ChatConversationRequest{User: c.actingUser(), Peer: peer, Limit: optional(limit), Before: optional(before)}
	var reply protocol.ChatConversationReply
	if err := c.call(ctx, "chat.conversation.request", request, &reply); err != nil {
		return reply, err
	}
	for _, direct := range reply.Messages {
		c.stamp.Clock.Observe(direct.LC)
	}
	return reply, nil
}

// Join receives channel's publications from now on: the subscription takes a moment to reach the
// publishers, so join first and read History after.
func (c *Client) Join(channel string) error {
	if c.subscriber == nil {
		return ErrNoProxy
	}
	topic, err := pubsub.ChannelTopic(channel)
	if err != nil {
		return err
	}
	return c.subscriber.Add(topic)
}

// Leave stops receiving channel's publications.
func (c *Client) Leave(channel string) error {
	if c.subscriber == nil {
		return ErrNoProxy
	}
	topic, err := pubsub.ChannelTopic(channel)
	if err != nil {
		return err
	}
	return c.subscriber.Remove(topic)
}

// Requests is the underlying MDP client, for requests to other services with the same clock.
func (c *Client) Requests() *mdp.Client { return c.requests }

// optional is nil for the zero value (an absent optional field), else a pointer to v.
func optional[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}
