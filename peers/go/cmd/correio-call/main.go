// Command correio-call calls one microservice action through a Correio broker and prints the
// result as JSON, or the error code and message (exit status 1).
//
//	go run ./cmd/correio-call -endpoint tcp://127.0.0.1:5555 -action goecho.echo -params '{"hi":1}'
//	go run ./cmd/correio-call -endpoint tcp://127.0.0.1:5555 -exists chat
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/internal/jsonvalue"
	"correio.dev/peers/go/mdp"
	"correio.dev/peers/go/protocol"
)

func main() {
	endpoint := flag.String("endpoint", "tcp://127.0.0.1:5555", "the broker's MDP endpoint")
	action := flag.String("action", "", "the action to call, <service>.<method>")
	params := flag.String("params", "", "the action's parameters as JSON (integers only)")
	exists := flag.String("exists", "", "instead of calling, ask the broker (MMI) whether this service has a worker")
	timeout := flag.Duration("timeout", 5*time.Second, "how long one attempt waits")
	flag.Parse()

	client, err := mdp.Dial(*endpoint, mdp.ClientOptions{Timeout: *timeout})
	if err != nil {
		fail(err)
	}
	defer client.Close()
	ctx := context.Background()
	if *exists != "" {
		found, err := client.ServiceExists(ctx, *exists)
		if err != nil {
			fail(err)
		}
		fmt.Println(found)
		return
	}
	body := protocol.ServiceCallRequest{Action: *action}
	if *params != "" {
		value, err := jsonvalue.Parse([]byte(*params))
		if err != nil {
			fail(err)
		}
		body.Params = protocol.Some(value)
	}
	service := "svc." + (*action)[:max(strings.LastIndex(*action, "."), 0)]
	var reply protocol.ServiceCallReply
	if err := client.Call(ctx, service, "service.call.request", body, &reply); err != nil {
		fail(err)
	}
	out, _ := json.Marshal(reply.Result)
	fmt.Println(string(out))
}

func fail(err error) {
	e := codec.AsError(err)
	fmt.Fprintf(os.Stderr, "%s: %s\n", e.Code, e.Message)
	os.Exit(1)
}
