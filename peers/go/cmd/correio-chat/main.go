// Command correio-chat is a scriptable chat session in Go: commands as JSON lines on stdin, replies
// and live events as JSON lines on stdout (nothing else is written there), logs on stderr. The
// interoperability tests (tools/interop) drive it, and peers/python/interop/chat_driver.py speaks
// the same lines.
//
//	go run ./cmd/correio-chat -broker tcp://127.0.0.1:5555 -proxy tcp://127.0.0.1:5571 -user ana
//
// Once connected it prints {"ready":true,"user":…,"from":…,"lc":0}. Then each command
// {"n":1,"op":"publish","channel":"general","text":"hi"} is answered, in order, with
// {"n":1,"ok":true,"result":{…reply body…},"lc":…} or {"n":1,"ok":false,"error":{"code":…,
// "message":…,"retryable":…},"lc":…}, lc being the session's Lamport clock after the reply.
// Events arrive in between as {"event":"publication"|"direct","topic":…,"publisher":…,"seq":…,
// "message":{…},"lc":…} and {"event":"gap","topic":…,"publisher":…,"first":…,"last":…,
// "restarted":…,"lc":…}. The end of stdin, or {"op":"quit"}, ends the session.
//
// Operations: register (password); login (password; none on servers running --auth open), which
// keeps the tokens that every later request carries; refresh; logout; change_password (password,
// new_password); users and channels (limit, after); create_channel, join, leave (channel);
// publish (channel, text); direct (to, text); history (channel, limit, before); conversation
// (peer, limit, before); call (action, params: a service.call.request to svc.<service>); exists
// (service: MMI); lc.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"correio.dev/peers/go/chat"
)

func main() {
	broker := flag.String("broker", "tcp://127.0.0.1:5555", "the broker's MDP endpoint")
	proxy := flag.String("proxy", "tcp://127.0.0.1:5571", `the proxy's subscriber (XPUB) endpoint; "" for none`)
	user := flag.String("user", "", "the user this session acts as")
	service := flag.String("service", chat.Service, `the broker service of chat requests: "chat" or "srv.<id>"`)
	timeout := flag.Duration("timeout", 5*time.Second, "how long one request attempt waits")
	retries := flag.Int("retries", 1, "further attempts with the same request id after a time-out")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if *user == "" {
		fmt.Fprintln(os.Stderr, "correio-chat: -user is required")
		os.Exit(2)
	}
	if *retries == 0 {
		*retries = -1 // chat.Options: 0 means the default, negative means none
	}

	client, err := chat.Dial(*broker, *proxy, *user, chat.Options{Service: *service, Timeout: *timeout, Retries: *retries})
	if err != nil {
		fmt.Fprintln(os.Stderr, "correio-chat:", err)
		os.Exit(1)
	}
	out := newLines(os.Stdout)
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for event := range client.Events() {
			out.write(eventLine(event))
		}
	}()
	out.write(map[string]any{"ready": true, "user": client.User(), "from": client.Sender(), "lc": client.LC()})

	session := &session{client: client, out: out}
	input := bufio.NewScanner(os.Stdin)
	input.Buffer(make([]byte, 64*1024), 2*1024*1024)
	for input.Scan() {
		if !session.run(input.Bytes()) {
			break
		}
	}
	client.Close()
	<-forwarded
}
