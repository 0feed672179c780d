package service

import (
	"fmt"
	"regexp"
	"strings"

	"correio.dev/peers/go/codec"
)

// The patterns of protocol/schemas/v1/defs.json, so a bad name fails when it is registered, not on the wire.
var (
	serviceNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){0,2}$`)
	methodNamePattern  = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)
	actionNamePattern  = regexp.MustCompile(`^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){0,2}\.[a-z][a-zA-Z0-9_]*$`)
	eventNamePattern   = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*(\.[a-z][a-zA-Z0-9_]*){0,7}$`)
	instancePattern    = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)
)

// announceNamespace is the proxy namespace of announcements (FRAMES.md section 4.1).
const announceNamespace = "announce/"

func checkServiceName(name string) error {
	if len(name) > 64 || !serviceNamePattern.MatchString(name) {
		return fmt.Errorf("invalid service name %q: use 1 to 3 lower-case dot-separated segments such as \"users\" or \"chat.rooms\"", name)
	}
	return nil
}

func checkEventName(name string) error {
	if len(name) > 128 || !eventNamePattern.MatchString(name) {
		return codec.Errorf(codec.CodeValidation, "invalid event name %q: use 1 to 8 dot-separated segments such as \"user.joined\"", name)
	}
	return nil
}

// actionName is the full name of a service's method, or an error when the method name is not one.
func actionName(service, method string) (string, error) {
	action := service + "." + method
	if !methodNamePattern.MatchString(method) || !actionNamePattern.MatchString(action) || len(action) > 128 {
		return "", fmt.Errorf("invalid action name %q: a method name starts with a lower-case letter, then letters, digits or _", action)
	}
	return action, nil
}

// serviceOf is the service of an action: everything before its last dot.
func serviceOf(action string) (string, error) {
	dot := strings.LastIndexByte(action, '.')
	if dot <= 0 || !actionNamePattern.MatchString(action) {
		return "", codec.Errorf(codec.CodeBadRequest, "invalid action name %q: expected <service>.<method>, such as greeter.hello", action).
			WithData(map[string]any{"action": action})
	}
	return action[:dot], nil
}

// brokerService is the MDP service serving a Correio service's actions and emitted events.
func brokerService(service string) string { return "svc." + service }

// eventTopic is the proxy topic of a broadcast: the trailing slash stops "user" matching "user.joined".
func eventTopic(event string) string { return "svc/" + event + "/" }

// announceTopic is the proxy topic a service's instances announce themselves on.
func announceTopic(service string) string { return announceNamespace + service + "/" }
