package chat

import (
	"context"
	"fmt"
	"net"
	"sort"
	"sync"
	"testing"

	"github.com/go-zeromq/zmq4"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/mdp"
	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
	"correio.dev/peers/go/pubsub"
)

// fakeServer is a broker and a chat server in one, in memory: a ROUTER that answers the chat
// requests of MDP clients itself, and a bound PUB that publishes their events as a proxy's XPUB
// would deliver them. Its Lamport clock merges each request's, so every op is stamped above the
// request that caused it, as the real server does.
type fakeServer struct {
	t       *testing.T
	id      string
	stamp   *message.Stamp
	router  zmq4.Socket
	pub     zmq4.Socket
	broker  string
	proxy   string
	mu      sync.Mutex
	seq     int64
	users   map[string]protocol.UserInfo
	chans   map[string]protocol.ChannelInfo
	history map[string][]protocol.ChatPublication
	directs []protocol.ChatDirect
	next    map[string]int64 // per-topic publication counter
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	stamp, _ := message.NewStamp("srv-fake")
	s := &fakeServer{
		t: t, id: "srv-fake", stamp: stamp,
		router:  zmq4.NewRouter(context.Background(), zmq4.WithID(zmq4.SocketIdentity("fake-broker"))),
		pub:     zmq4.NewPub(context.Background()),
		users:   map[string]protocol.UserInfo{},
		chans:   map[string]protocol.ChannelInfo{},
		history: map[string][]protocol.ChatPublication{},
		next:    map[string]int64{},
	}
	s.broker = listen(t, s.router)
	s.proxy = listen(t, s.pub)
	done := make(chan struct{})
	go s.serve(done)
	t.Cleanup(func() {
		s.router.Close()
		s.pub.Close()
		<-done
	})
	return s
}

func listen(t *testing.T, socket zmq4.Socket) string {
	t.Helper()
	if err := socket.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("tcp://127.0.0.1:%d", socket.Addr().(*net.TCPAddr).Port)
}

func (s *fakeServer) serve(done chan<- struct{}) {
	defer close(done)
	for {
		msg, err := s.router.Recv()
		if err != nil {
			return
		}
		frames := msg.Frames
		if len(frames) != 5 || string(frames[1]) != string(mdp.ClientHeader) || frames[2][0] != mdp.Request {
			continue
		}
		request, err := message.Decode(frames[4])
		if err != nil {
			s.t.Errorf("the client sent an invalid request: %v", err)
			continue
		}
		s.stamp.Observe(request)
		var reply *message.Envelope
		if body, err := s.handle(request); err != nil {
			reply = s.stamp.Error(request.ID, codec.AsError(err))
		} else {
			reply = s.stamp.Envelope(protocol.Messages[request.Type].Reply, body, request.ID)
		}
		data, err := message.Encode(reply)
		if err != nil {
			s.t.Errorf("the fake server built an invalid reply: %v", err)
			continue
		}
		_ = s.router.SendMulti(zmq4.NewMsgFrom(frames[0], mdp.ClientHeader, []byte{mdp.Final}, frames[3], data))
	}
}

func (s *fakeServer) handle(request *message.Envelope) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := message.NowMs()
	switch request.Type {
	case "chat.login.request":
		var body protocol.ChatLoginRequest
		if err := request.BodyAs(&body); err != nil {
			return nil, err
		}
		user, known := s.users[body.User]
		if !known {
			user = protocol.UserInfo{User: body.User, FirstSeen: now}
		}
		user.LastSeen = now
		s.users[body.User] = user
		return protocol.ChatLoginReply{User: body.User, FirstSeen: user.FirstSeen, LastSeen: now, Created: !known}, nil
	case "chat.users.request":
		reply := protocol.ChatUsersReply{Users: []protocol.UserInfo{}}
		for _, user := range s.users {
			reply.Users = append(reply.Users, user)
		}
		sort.Slice(reply.Users, func(i, j int) bool { return reply.Users[i].User < reply.Users[j].User })
		return reply, nil
	case "chat.channel.create.request":
		var body protocol.ChatChannelCreateRequest
		if err := request.BodyAs(&body); err != nil {
			return nil, err
		}
		channel, exists := s.chans[body.Channel]
		if !exists {
			channel = protocol.ChannelInfo{Channel: body.Channel, CreatedBy: *body.User, CreatedAt: now}
			s.chans[body.Channel] = channel
		}
		return protocol.ChatChannelCreateReply{Channel: body.Channel, Created: !exists, CreatedBy: channel.CreatedBy, CreatedAt: channel.CreatedAt}, nil
	case "chat.channels.request":
		reply := protocol.ChatChannelsReply{Channels: []protocol.ChannelInfo{}}
		for _, channel := range s.chans {
			reply.Channels = append(reply.Channels, channel)
		}
		sort.Slice(reply.Channels, func(i, j int) bool { return reply.Channels[i].Channel < reply.Channels[j].Channel })
		return reply, nil
	case "chat.publish.request":
		var body protocol.ChatPublishRequest
		if err := request.BodyAs(&body); err != nil {
			return nil, err
		}
		if _, ok := s.chans[body.Channel]; !ok {
			return nil, codec.Errorf(codec.CodeBadRequest, "there is no channel %s", body.Channel).WithData(map[string]any{"reason": "unknown_channel"})
		}
		s.seq++
		publication := protocol.ChatPublication{Channel: body.Channel, User: *body.User, Text: body.Text, LC: s.stamp.Clock.Tick(), HLC: protocol.HLC{now, 0}, TS: now, Op: protocol.OpID{Origin: s.id, Seq: s.seq}}
		s.history[body.Channel] = append(s.history[body.Channel], publication)
		s.publish("chan/"+body.Channel+"/", "chat.publication", publication)
		return protocol.ChatPublishReply{Channel: body.Channel, LC: publication.LC, Op: publication.Op, TS: now}, nil
	case "chat.direct.request":
		var body protocol.ChatDirectRequest
		if err := request.BodyAs(&body); err != nil {
			return nil, err
		}
		s.seq++
		direct := protocol.ChatDirect{From: *body.User, To: body.To, Text: body.Text, LC: s.stamp.Clock.Tick(), HLC: protocol.HLC{now, 0}, TS: now, Op: protocol.OpID{Origin: s.id, Seq: s.seq}}
		s.directs = append(s.directs, direct)
		s.publish("user/"+body.To+"/", "chat.direct", direct)
		return protocol.ChatDirectReply{To: body.To, LC: direct.LC, Op: direct.Op, TS: now}, nil
	case "chat.history.request":
		var body protocol.ChatHistoryRequest
		if err := request.BodyAs(&body); err != nil {
			return nil, err
		}
		messages, ok := s.history[body.Channel]
		if !ok {
			return nil, codec.Errorf(codec.CodeNotFound, "there is no channel %s", body.Channel)
		}
		return protocol.ChatHistoryReply{Messages: append([]protocol.ChatPublication{}, messages...)}, nil
	case "chat.conversation.request":
		var body protocol.ChatConversationRequest
		if err := request.BodyAs(&body); err != nil {
			return nil, err
		}
		reply := protocol.ChatConversationReply{Messages: []protocol.ChatDirect{}}
		for _, direct := range s.directs {
			if (direct.From == *body.User && direct.To == body.Peer) || (direct.From == body.Peer && direct.To == *body.User) {
				reply.Messages = append(reply.Messages, direct)
			}
		}
		return reply, nil
	}
	return nil, codec.Errorf(codec.CodeBadRequest, "not served here: %s", request.Type)
}

// publish sends one event on topic with the next number of that topic.
func (s *fakeServer) publish(topic, messageType string, body any) {
	s.next[topic]++
	s.publishNumbered(topic, s.next[topic], messageType, body)
}

// publishNumbered sends one event numbered seq, whatever the counter says (to fake a loss).
func (s *fakeServer) publishNumbered(topic string, seq int64, messageType string, body any) {
	header, err := codec.Encode(pubsub.Header{N: 1, P: s.id, S: seq})
	if err != nil {
		s.t.Fatal(err)
	}
	data, err := message.Encode(s.stamp.Envelope(messageType, body, ""))
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.pub.SendMulti(zmq4.NewMsgFrom([]byte(topic), header, data)); err != nil {
		s.t.Fatal(err)
	}
	if seq > s.next[topic] {
		s.next[topic] = seq
	}
}
