// Command correio-pubsub subscribes or publishes on Correio's pub/sub (protocol/FRAMES.md section
// 3) for the cross-language tests (tools/interop): JSON lines on stdout, logs on stderr.
//
//	go run ./cmd/correio-pubsub subscribe --endpoint tcp://127.0.0.1:5571 --topic chan/general/ --count 6
//	go run ./cmd/correio-pubsub publish --endpoint tcp://127.0.0.1:5570 --topic chan/general/ --batches 2 --size 3
//
// subscribe connects a SUB to a PUB endpoint or the proxy's XPUB and prints {"ready":true} once
// connected and subscribed, then {"topic":…,"publisher":…,"seq":…,"type":…,"body":{…}} per
// publication and {"gap":{"topic":…,"publisher":…,"first":…,"last":…,"restarted":…}} per gap; it
// exits 0 after count publications.
//
// publish connects a PUB to the proxy's XSUB (or a bound SUB), waits for a line "go" on stdin,
// then publishes batches messages of size chat.publication bodies each (texts "b<i>-<j>", i and j
// from 1), prints {"published":<batches×size>} and exits 0. Before publishing it waits (--wait)
// for a subscription to reach it, since a PUB drops what no subscriber has asked for yet; after,
// it lingers (--linger) so that its send queue drains before the process exits.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
	"correio.dev/peers/go/pubsub"
)

const usage = `usage:
  correio-pubsub subscribe --endpoint E --topic T --count N
  correio-pubsub publish --endpoint E --topic T --batches B --size K [--type chat.publication]
Run a subcommand with --help for its options.
`

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "subscribe":
		subscribe(os.Args[2:])
	case "publish":
		publish(os.Args[2:])
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "correio-pubsub: unknown subcommand %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
}

// out writes one JSON object per line. os.Stdout is unbuffered and Encode makes one Write per
// value, so every line reaches the reader as soon as it is written.
var out = json.NewEncoder(os.Stdout)

func subscribe(args []string) {
	flags := flag.NewFlagSet("correio-pubsub subscribe", flag.ExitOnError)
	endpoint := flags.String("endpoint", "tcp://127.0.0.1:5571", "a PUB endpoint or the proxy's subscriber (XPUB) endpoint")
	topic := flags.String("topic", "", "the topic prefix to subscribe to, e.g. chan/general/")
	count := flags.Int("count", 1, "exit after this many publications")
	_ = flags.Parse(args)
	if *topic == "" || *count < 1 {
		fail(2, "subscribe needs --topic and a --count of at least 1")
	}

	subscriber, err := pubsub.Subscribe(*endpoint, *topic)
	if err != nil {
		fail(1, err)
	}
	defer subscriber.Close()
	_ = out.Encode(map[string]any{"ready": true})
	for received := 0; received < *count; {
		delivery, err := subscriber.Receive()
		if err != nil {
			fail(1, err)
		}
		if gap := delivery.Gap; gap != nil {
			_ = out.Encode(map[string]any{"gap": map[string]any{
				"topic": gap.Topic, "publisher": gap.Publisher, "first": gap.First, "last": gap.Last, "restarted": gap.Restarted,
			}})
			continue
		}
		p := delivery.Publication
		_ = out.Encode(map[string]any{"topic": p.Topic, "publisher": p.Publisher, "seq": p.Seq, "type": p.Envelope.Type, "body": p.Envelope.Body})
		received++
	}
	if subscriber.Dropped > 0 || subscriber.DroppedBodies > 0 {
		slog.Warn("dropped", "messages", subscriber.Dropped, "bodies", subscriber.DroppedBodies)
	}
}

// channelPattern is defs.json's channelName: the body's channel is the topic's name if it is one.
var channelPattern = regexp.MustCompile(`^chan/([A-Za-z0-9_.-]{1,64})/$`)

func publish(args []string) {
	flags := flag.NewFlagSet("correio-pubsub publish", flag.ExitOnError)
	endpoint := flags.String("endpoint", "tcp://127.0.0.1:5570", "the proxy's publisher (XSUB) endpoint, or a bound SUB")
	topic := flags.String("topic", "", "the topic to publish on, e.g. chan/general/")
	batches := flags.Int("batches", 1, "how many messages to publish")
	size := flags.Int("size", 1, "bodies per message, 1-1000")
	messageType := flags.String("type", "chat.publication", "the bodies' type (only chat.publication is built)")
	id := flags.String("id", message.NewNodeID("go-pubsub"), "the publisher id (the header's p and the envelopes' from)")
	wait := flags.Duration("wait", 5*time.Second, `after "go", how long to wait for a subscription to reach this publisher`)
	linger := flags.Duration("linger", 500*time.Millisecond, "how long to let the send queue drain before exiting")
	_ = flags.Parse(args)
	if *topic == "" || *batches < 1 || *size < 1 || *size > 1000 {
		fail(2, "publish needs --topic, --batches of at least 1 and a --size of 1 to 1000")
	}
	if *messageType != "chat.publication" {
		fail(2, "only chat.publication bodies are built, not "+*messageType)
	}
	channel := "general"
	if m := channelPattern.FindStringSubmatch(*topic); m != nil {
		channel = m[1]
	}

	stamp, err := message.NewStamp(*id)
	if err != nil {
		fail(2, err)
	}
	publisher, err := pubsub.NewPublisher(*endpoint, stamp)
	if err != nil {
		fail(1, err)
	}
	defer publisher.Close()

	if !readGo(os.Stdin) {
		fail(1, `stdin ended before a line "go"`)
	}
	for deadline := time.Now().Add(*wait); !publisher.Subscribed(*topic); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			slog.Warn("no subscription reached this publisher: publishing anyway", "topic", *topic, "waited", *wait)
			break
		}
	}

	for i := 1; i <= *batches; i++ {
		bodies := make([]any, *size)
		for j := range bodies {
			now := message.NowMs()
			k := int64((i-1)*(*size) + j + 1) // this body's number over the whole run
			bodies[j] = protocol.ChatPublication{
				Channel: channel, User: "gopub", Text: fmt.Sprintf("b%d-%d", i, j+1),
				LC: k, HLC: protocol.HLC{now, k}, TS: now, Op: protocol.OpID{Origin: *id, Seq: k},
			}
		}
		if _, err := publisher.Publish(*topic, *messageType, bodies...); err != nil {
			fail(1, err)
		}
	}
	time.Sleep(*linger) // zmq4 has no linger option: Close drops what is still queued
	_ = out.Encode(map[string]any{"published": *batches * *size})
}

// readGo reads lines until one is "go"; false if the input ends first.
func readGo(input io.Reader) bool {
	lines := bufio.NewScanner(input)
	for lines.Scan() {
		if strings.TrimSpace(lines.Text()) == "go" {
			return true
		}
	}
	return false
}

func fail(status int, reason any) {
	fmt.Fprintln(os.Stderr, "correio-pubsub:", reason)
	os.Exit(status)
}
