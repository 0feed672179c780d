// Package mdp speaks MDP/0.2 (ZeroMQ RFC 18, protocol/FRAMES.md section 1) through a Majordomo
// broker: a Client that keeps many requests in flight on one DEALER, and a Worker that serves one
// broker service with heartbeats and reconnects. Sockets are github.com/go-zeromq/zmq4 (pure Go,
// so neither build nor CI needs libzmq).
package mdp

import (
	"fmt"
	"regexp"
)

// Frame headers and commands.
var (
	ClientHeader = []byte("MDPC02")
	WorkerHeader = []byte("MDPW02")
)

// Client commands.
const (
	Request byte = 0x01
	Partial byte = 0x02
	Final   byte = 0x03
)

// Worker commands.
const (
	Ready         byte = 0x01
	WorkerRequest byte = 0x02
	WorkerPartial byte = 0x03
	WorkerFinal   byte = 0x04
	Heartbeat     byte = 0x05
	Disconnect    byte = 0x06
)

// MMIService is the broker's own service-discovery service (RFC 8).
const MMIService = "mmi.service"

var servicePattern = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// CheckService reports an error unless service is 1-255 bytes of printable ASCII.
func CheckService(service string) error {
	if !servicePattern.MatchString(service) {
		return fmt.Errorf("a broker service name is 1-255 printable ASCII bytes, got %q", service)
	}
	return nil
}

// ClientRequest is ["MDPC02", 0x01, service, body].
func ClientRequest(service string, body []byte) [][]byte {
	return [][]byte{ClientHeader, {Request}, []byte(service), body}
}

// ClientReply is a PARTIAL or FINAL received by a client.
type ClientReply struct {
	Final   bool
	Service string
	Body    [][]byte
}

// ParseClientReply parses ["MDPC02", 0x02|0x03, service, body...].
func ParseClientReply(frames [][]byte) (ClientReply, error) {
	if len(frames) < 4 || string(frames[0]) != string(ClientHeader) || len(frames[1]) != 1 || (frames[1][0] != Partial && frames[1][0] != Final) {
		return ClientReply{}, fmt.Errorf("not an MDP/0.2 client reply (%d frames)", len(frames))
	}
	if !servicePattern.Match(frames[2]) {
		return ClientReply{}, fmt.Errorf("malformed service frame")
	}
	return ClientReply{Final: frames[1][0] == Final, Service: string(frames[2]), Body: frames[3:]}, nil
}

// WorkerCommand is a command received by a worker.
type WorkerCommand struct {
	Command byte
	// Client and Body are set for REQUEST.
	Client []byte
	Body   [][]byte
}

// ParseWorkerCommand parses REQUEST ["MDPW02", 0x02, client, "", body...], HEARTBEAT and DISCONNECT.
func ParseWorkerCommand(frames [][]byte) (WorkerCommand, error) {
	if len(frames) < 2 || string(frames[0]) != string(WorkerHeader) || len(frames[1]) != 1 {
		return WorkerCommand{}, fmt.Errorf("not an MDP/0.2 worker command (%d frames)", len(frames))
	}
	switch command := frames[1][0]; command {
	case WorkerRequest:
		// A missing or split body is answered with DECODE (FRAMES.md 1.4), so it is not an error here.
		if len(frames) < 4 || len(frames[2]) == 0 || len(frames[2]) > 255 || len(frames[3]) != 0 {
			return WorkerCommand{}, fmt.Errorf("malformed REQUEST")
		}
		return WorkerCommand{Command: command, Client: frames[2], Body: frames[4:]}, nil
	case Heartbeat, Disconnect:
		if len(frames) == 2 {
			return WorkerCommand{Command: command}, nil
		}
	}
	return WorkerCommand{}, fmt.Errorf("unexpected worker command 0x%02x with %d frames", frames[1][0], len(frames))
}
