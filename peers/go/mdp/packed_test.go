package mdp

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"correio.dev/peers/go/message"
	"correio.dev/peers/go/protocol"
)

// expectPacked returns the next message whose frame after the identity is a packed header of header and command.
func (r *router) expectPacked(header []byte, command byte) [][]byte {
	r.t.Helper()
	return r.next(fmt.Sprintf("packed %s 0x%02x", header, command), func(frames [][]byte) bool {
		return len(frames) >= 2 && len(frames[1]) > len(header) && bytes.Equal(frames[1][:len(header)], header) && frames[1][len(header)] == command
	})
}

var clientAddress = []byte{0x00, 0x6b, 0x8b, 0x45, 0x67}

func TestPackedFramesAreTheBytesOfFramesSection1_12(t *testing.T) {
	for _, c := range []struct {
		frames [][]byte
		want   []string // each frame in hex
	}{
		{ClientRequestFramed("chat", []byte("b"), Packed), []string{"4d44504330320163686174", "62"}},
		{WorkerReady("chat", Packed), []string{"4d44505730320163686174"}},
		{WorkerReply(WorkerFinal, clientAddress, []byte("b"), Packed), []string{"4d445057303204006b8b4567", "62"}},
		{WorkerSignal(Heartbeat, Packed), []string{"4d445057303205"}},
		{WorkerSignal(Disconnect, Packed), []string{"4d445057303206"}},
		{ClientRequest("chat", []byte("b")), []string{"4d4450433032", "01", "63686174", "62"}},
	} {
		var got []string
		for _, frame := range c.frames {
			got = append(got, hex.EncodeToString(frame))
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("got %v, want %v", got, c.want)
		}
	}
}

func TestParsersReadBothFramingsAndRefuseMalformedPackedCommands(t *testing.T) {
	for _, framing := range []Framing{Classic, Packed} {
		command, err := ParseWorkerCommand(WorkerReply(WorkerRequest, clientAddress, []byte("body"), framing))
		if err != nil || command.Command != WorkerRequest || !bytes.Equal(command.Client, clientAddress) || command.Framing != framing || len(command.Body) != 1 {
			t.Fatalf("%s REQUEST parsed as %+v, %v", framing, command, err)
		}
		heartbeat, err := ParseWorkerCommand(WorkerSignal(Heartbeat, framing))
		if err != nil || heartbeat.Framing != framing {
			t.Fatalf("%s HEARTBEAT parsed as %+v, %v", framing, heartbeat, err)
		}
	}
	packed := func(command byte, tail string) []byte { return packedHeader(WorkerHeader, command, []byte(tail)) }
	for name, frames := range map[string][][]byte{
		"REQUEST without a client address": {packed(WorkerRequest, ""), []byte("body")},
		"REQUEST with a 256-byte address":  {packed(WorkerRequest, string(bytes.Repeat([]byte("c"), 256))), []byte("body")},
		"HEARTBEAT with a tail":            {packed(Heartbeat, "x")},
		"DISCONNECT with a frame after it": {packed(Disconnect, ""), []byte("x")},
		"unknown command":                  {packed(0x42, "c"), []byte("body")},
		"READY sent to a worker":           {packed(Ready, "chat")},
	} {
		if _, err := ParseWorkerCommand(frames); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	for name, frames := range map[string][][]byte{
		"FINAL without a body": {packedHeader(ClientHeader, Final, []byte("chat"))},
		"unknown command":      {packedHeader(ClientHeader, 0x09, []byte("chat")), []byte("env")},
		"invalid service name": {packedHeader(ClientHeader, Final, []byte("bad service")), []byte("env")},
		"no service at all":    {packedHeader(ClientHeader, Final, nil), []byte("env")},
		"REQUEST to a client":  {packedHeader(ClientHeader, Request, []byte("chat")), []byte("env")},
	} {
		if _, err := ParseClientReply(frames); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestFramingFromTheEnvironment(t *testing.T) {
	t.Setenv("CORREIO_MDP_FRAMING", "packed")
	if framing, err := resolveFraming(""); err != nil || framing != Packed {
		t.Fatalf("got %q, %v", framing, err)
	}
	if framing, err := resolveFraming(Classic); err != nil || framing != Classic {
		t.Fatalf("an explicit framing must win: got %q, %v", framing, err)
	}
	t.Setenv("CORREIO_MDP_FRAMING", "compact")
	if _, err := Dial("tcp://127.0.0.1:1", ClientOptions{}); err == nil {
		t.Fatal("Dial accepted CORREIO_MDP_FRAMING=compact")
	}
}

func TestPackedWorkerAndClientAgainstAScriptedRouter(t *testing.T) {
	r := newRouter(t)
	startWorker(t, r.url, func(ctx context.Context, request *message.Envelope) (any, error) {
		return protocol.ChatLoginReply{User: "ann", FirstSeen: 1, LastSeen: 2}, nil
	}, WorkerOptions{Heartbeat: 100 * time.Millisecond, Liveness: 1000, Framing: Packed})
	ready := r.expectPacked(WorkerHeader, Ready)
	if !bytes.Equal(ready[1], packedHeader(WorkerHeader, Ready, []byte("chat"))) || len(ready) != 2 {
		t.Fatalf("READY %x", ready[1:])
	}
	identity := ready[0]
	if beat := r.expectPacked(WorkerHeader, Heartbeat); len(beat[1]) != 7 {
		t.Fatalf("HEARTBEAT %x", beat[1:])
	}
	stamp, _ := message.NewStamp("cli-test")
	request := stamp.Envelope("chat.login.request", protocol.ChatLoginRequest{User: "ann"}, "")
	r.send(identity, packedHeader(WorkerHeader, WorkerRequest, clientAddress), mustEncode(t, request))
	final := r.expectPacked(WorkerHeader, WorkerFinal)
	if !bytes.Equal(final[1], packedHeader(WorkerHeader, WorkerFinal, clientAddress)) {
		t.Fatalf("FINAL header %x", final[1])
	}
	if reply, err := message.Decode(final[2]); err != nil || reply.ID != request.ID {
		t.Fatalf("FINAL body %+v, %v", reply, err)
	}
	// A classic REQUEST on the same connection is answered classic.
	classic := stamp.Envelope("chat.login.request", protocol.ChatLoginRequest{User: "bob"}, "")
	r.send(identity, WorkerHeader, []byte{WorkerRequest}, clientAddress, nil, mustEncode(t, classic))
	if frames := r.expect(WorkerHeader, WorkerFinal); !bytes.Equal(frames[3], clientAddress) || len(frames[4]) != 0 {
		t.Fatalf("classic FINAL %x", frames[1:])
	}

	client, err := Dial(r.url, ClientOptions{Timeout: 10 * time.Second, Framing: Packed})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	done := make(chan error, 1)
	go func() {
		var reply protocol.ChatLoginReply
		done <- client.Call(context.Background(), "chat", "chat.login.request", protocol.ChatLoginRequest{User: "cid"}, &reply)
	}()
	sent := r.expectPacked(ClientHeader, Request)
	if !bytes.Equal(sent[1], packedHeader(ClientHeader, Request, []byte("chat"))) || len(sent) != 3 {
		t.Fatalf("REQUEST %x", sent[1:])
	}
	asked, err := message.Decode(sent[2])
	if err != nil {
		t.Fatal(err)
	}
	r.send(sent[0], packedHeader(ClientHeader, Final, []byte("chat")), loginReply(t, asked, "cid"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
