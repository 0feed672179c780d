package main

import (
	"context"
	"encoding/json"
	"strings"

	"correio.dev/peers/go/chat"
	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/internal/jsonvalue"
	"correio.dev/peers/go/protocol"
)

// command is one input line; each operation reads the fields it needs.
type command struct {
	N       int64           `json:"n"`
	Op      string          `json:"op"`
	Channel string          `json:"channel"`
	Text    string          `json:"text"`
	To      string          `json:"to"`
	Peer    string          `json:"peer"`
	Limit   int64           `json:"limit"`
	After   string          `json:"after"`
	Before  string          `json:"before"`
	Action  string          `json:"action"`
	Params  json.RawMessage `json:"params"`
	Service string          `json:"service"`
	// Password and NewPassword: register, login (none for an open-mode login), change_password.
	Password    string `json:"password"`
	NewPassword string `json:"new_password"`
}

type session struct {
	client *chat.Client
	out    *lines
}

// run executes one command line and writes its reply; false ends the session.
func (s *session) run(line []byte) bool {
	if strings.TrimSpace(string(line)) == "" {
		return true
	}
	var cmd command
	if err := json.Unmarshal(line, &cmd); err != nil {
		s.reply(cmd.N, nil, codec.Errorf(codec.CodeBadRequest, "not a command line: %v", err))
		return true
	}
	if cmd.Op == "quit" {
		return false
	}
	result, err := s.execute(context.Background(), cmd)
	s.reply(cmd.N, result, err)
	return true
}

func (s *session) reply(n int64, result any, err error) {
	line := map[string]any{"n": n, "ok": err == nil, "lc": s.client.LC()}
	if err != nil {
		line["error"] = codec.AsError(err).Wire()
	} else {
		line["result"] = result
	}
	s.out.write(line)
}

func (s *session) execute(ctx context.Context, cmd command) (any, error) {
	c := s.client
	switch cmd.Op {
	case "register":
		return c.Register(ctx, cmd.Password)
	case "login":
		return c.Login(ctx, cmd.Password) // no password: servers running --auth open
	case "refresh":
		return c.Refresh(ctx)
	case "logout":
		return c.Logout(ctx)
	case "change_password":
		return c.ChangePassword(ctx, cmd.Password, cmd.NewPassword)
	case "users":
		return c.Users(ctx, cmd.Limit, cmd.After)
	case "channels":
		return c.Channels(ctx, cmd.Limit, cmd.After)
	case "create_channel":
		return c.CreateChannel(ctx, cmd.Channel)
	case "join":
		return subscription(c.Join(cmd.Channel))
	case "leave":
		return subscription(c.Leave(cmd.Channel))
	case "publish":
		return c.Publish(ctx, cmd.Channel, cmd.Text)
	case "direct":
		return c.Direct(ctx, cmd.To, cmd.Text)
	case "history":
		return c.History(ctx, cmd.Channel, cmd.Limit, cmd.Before)
	case "conversation":
		return c.Conversation(ctx, cmd.Peer, cmd.Limit, cmd.Before)
	case "call":
		return s.call(ctx, cmd)
	case "exists":
		exists, err := c.Requests().ServiceExists(ctx, cmd.Service)
		return map[string]any{"exists": exists}, err
	case "lc":
		return map[string]any{"lc": c.LC()}, nil
	}
	return nil, codec.Errorf(codec.CodeBadRequest, "unknown op %q", cmd.Op)
}

// subscription is the reply to join and leave: they fail only on the client's side (no proxy, a
// name that makes no topic), which is the caller's mistake.
func subscription(err error) (any, error) {
	if err != nil {
		return nil, codec.Errorf(codec.CodeBadRequest, "%v", err)
	}
	return map[string]any{}, nil
}

// call sends a service.call.request for action to svc.<service>, the broker service of the
// action (the action name up to its last dot).
func (s *session) call(ctx context.Context, cmd command) (any, error) {
	dot := strings.LastIndex(cmd.Action, ".")
	if dot <= 0 {
		return nil, codec.Errorf(codec.CodeBadRequest, "an action is <service>.<method>, got %q", cmd.Action)
	}
	request := protocol.ServiceCallRequest{Action: cmd.Action}
	if len(cmd.Params) > 0 {
		params, err := jsonvalue.Parse(cmd.Params)
		if err != nil {
			return nil, codec.Errorf(codec.CodeBadRequest, "params: %v", err)
		}
		request.Params = protocol.Some(params)
	}
	var reply protocol.ServiceCallReply
	if err := s.client.Requests().Call(ctx, "svc."+cmd.Action[:dot], "service.call.request", request, &reply); err != nil {
		return nil, err
	}
	return reply, nil
}
