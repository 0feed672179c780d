package pubsub

import (
	"fmt"
	"strings"
)

// Topic builds a topic (FRAMES.md sections 3.3 and 4.1): "<namespace>/<name>/", or
// "<namespace>/" when name is empty. Neither part may contain "/", so that a subscription to one
// name never matches a longer one ("chan/dev/" does not match "chan/devops/").
func Topic(namespace, name string) (string, error) {
	if namespace == "" || strings.Contains(namespace, "/") || strings.Contains(name, "/") {
		return "", fmt.Errorf("invalid topic parts %q, %q", namespace, name)
	}
	topic := namespace + "/"
	if name != "" {
		topic += name + "/"
	}
	if len(topic) < 2 || len(topic) > 255 {
		return "", fmt.Errorf("a topic is 2-255 bytes, got %q", topic)
	}
	return topic, nil
}

// ChannelTopic is where the chat.publication events of channel are published.
func ChannelTopic(channel string) (string, error) { return Topic("chan", channel) }

// UserTopic is where the chat.direct events to user are published.
func UserTopic(user string) (string, error) { return Topic("user", user) }
