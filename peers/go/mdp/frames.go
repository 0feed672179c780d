// Package mdp speaks MDP/0.2 (ZeroMQ RFC 18, protocol/FRAMES.md section 1) through a Majordomo
// broker: a Client that keeps many requests in flight on one DEALER, and a Worker that serves one
// broker service with heartbeats and reconnects. Sockets are github.com/go-zeromq/zmq4 (pure Go,
// so neither build nor CI needs libzmq).
package mdp

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
)

// Framing says how MDP headers are framed: Classic is RFC 18's header, command and service or
// client address in frames of their own; Packed (revision 1.10, FRAMES.md section 1.12) puts them
// in one frame, which costs each ZeroMQ peer fewer frames per message. Older and other RFC 18
// brokers know only Classic.
type Framing string

const (
	Classic Framing = "classic"
	Packed  Framing = "packed"
)

// resolveFraming returns framing, or when it is empty CORREIO_MDP_FRAMING, else Classic.
func resolveFraming(framing Framing) (Framing, error) {
	if framing == "" {
		framing = Framing(os.Getenv("CORREIO_MDP_FRAMING"))
		if framing == "" {
			return Classic, nil
		}
	}
	if framing != Classic && framing != Packed {
		return "", fmt.Errorf("CORREIO_MDP_FRAMING (or the Framing option) must be packed or classic, not %q", string(framing))
	}
	return framing, nil
}

// packedHeader is one packed header frame: the protocol header, the command, then tail (a service or client address).
func packedHeader(header []byte, command byte, tail []byte) []byte {
	frame := make([]byte, 0, len(header)+1+len(tail))
	frame = append(append(append(frame, header...), command), tail...)
	return frame
}

// splitPacked returns the command and tail of a packed header frame of header's protocol; ok is false for anything else.
func splitPacked(frames [][]byte, header []byte) (command byte, tail []byte, ok bool) {
	if len(frames) == 0 || len(frames[0]) <= len(header) || !bytes.Equal(frames[0][:len(header)], header) {
		return 0, nil, false
	}
	return frames[0][len(header)], frames[0][len(header)+1:], true
}

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
	return ClientRequestFramed(service, body, Classic)
}

// ClientRequestFramed is ClientRequest in either framing: packed, ["MDPC02" 0x01 service, body].
func ClientRequestFramed(service string, body []byte, framing Framing) [][]byte {
	if framing == Packed {
		return [][]byte{packedHeader(ClientHeader, Request, []byte(service)), body}
	}
	return [][]byte{ClientHeader, {Request}, []byte(service), body}
}

// WorkerReady is READY ["MDPW02", 0x01, service], packed ["MDPW02" 0x01 service].
func WorkerReady(service string, framing Framing) [][]byte {
	if framing == Packed {
		return [][]byte{packedHeader(WorkerHeader, Ready, []byte(service))}
	}
	return [][]byte{WorkerHeader, {Ready}, []byte(service)}
}

// WorkerSignal is HEARTBEAT or DISCONNECT: ["MDPW02", command], packed ["MDPW02" command].
func WorkerSignal(command byte, framing Framing) [][]byte {
	if framing == Packed {
		return [][]byte{packedHeader(WorkerHeader, command, nil)}
	}
	return [][]byte{WorkerHeader, {command}}
}

// WorkerReply is FINAL (or PARTIAL) ["MDPW02", command, client, "", body], packed ["MDPW02" command client, body].
func WorkerReply(command byte, client, body []byte, framing Framing) [][]byte {
	if framing == Packed {
		return [][]byte{packedHeader(WorkerHeader, command, client), body}
	}
	return [][]byte{WorkerHeader, {command}, client, nil, body}
}

// ClientReply is a PARTIAL or FINAL received by a client.
type ClientReply struct {
	Final   bool
	Service string
	Body    [][]byte
}

// ParseClientReply parses ["MDPC02", 0x02|0x03, service, body...], or its packed form.
func ParseClientReply(frames [][]byte) (ClientReply, error) {
	if command, service, ok := splitPacked(frames, ClientHeader); ok {
		if len(frames) < 2 || (command != Partial && command != Final) {
			return ClientReply{}, fmt.Errorf("not an MDP/0.2 client reply (packed command 0x%02x, %d frames)", command, len(frames))
		}
		if !servicePattern.Match(service) {
			return ClientReply{}, fmt.Errorf("malformed service name")
		}
		return ClientReply{Final: command == Final, Service: string(service), Body: frames[1:]}, nil
	}
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
	// Framing is the framing it came in: a worker answers a REQUEST in the same.
	Framing Framing
}

// ParseWorkerCommand parses REQUEST ["MDPW02", 0x02, client, "", body...], HEARTBEAT and DISCONNECT,
// in either framing.
func ParseWorkerCommand(frames [][]byte) (WorkerCommand, error) {
	if command, tail, ok := splitPacked(frames, WorkerHeader); ok {
		switch command {
		case WorkerRequest:
			// As in the classic framing, a missing body is answered with DECODE (FRAMES.md 1.4).
			if len(tail) == 0 || len(tail) > 255 {
				return WorkerCommand{}, fmt.Errorf("malformed packed REQUEST: the client address must be 1-255 bytes")
			}
			return WorkerCommand{Command: command, Client: tail, Body: frames[1:], Framing: Packed}, nil
		case Heartbeat, Disconnect:
			if len(tail) == 0 && len(frames) == 1 {
				return WorkerCommand{Command: command, Framing: Packed}, nil
			}
		}
		return WorkerCommand{}, fmt.Errorf("unexpected packed worker command 0x%02x with %d frames", command, len(frames))
	}
	if len(frames) < 2 || string(frames[0]) != string(WorkerHeader) || len(frames[1]) != 1 {
		return WorkerCommand{}, fmt.Errorf("not an MDP/0.2 worker command (%d frames)", len(frames))
	}
	switch command := frames[1][0]; command {
	case WorkerRequest:
		// A missing or split body is answered with DECODE (FRAMES.md 1.4), so it is not an error here.
		if len(frames) < 4 || len(frames[2]) == 0 || len(frames[2]) > 255 || len(frames[3]) != 0 {
			return WorkerCommand{}, fmt.Errorf("malformed REQUEST")
		}
		return WorkerCommand{Command: command, Client: frames[2], Body: frames[4:], Framing: Classic}, nil
	case Heartbeat, Disconnect:
		if len(frames) == 2 {
			return WorkerCommand{Command: command, Framing: Classic}, nil
		}
	}
	return WorkerCommand{}, fmt.Errorf("unexpected worker command 0x%02x with %d frames", frames[1][0], len(frames))
}
