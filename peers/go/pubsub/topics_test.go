package pubsub

import (
	"strings"
	"testing"
)

func TestTopics(t *testing.T) {
	for _, c := range []struct{ namespace, name, want string }{
		{"chan", "general", "chan/general/"},
		{"user", "ana", "user/ana/"},
		{"replica", "", "replica/"},
	} {
		if got, err := Topic(c.namespace, c.name); err != nil || got != c.want {
			t.Errorf("Topic(%q, %q) = %q, %v; want %q", c.namespace, c.name, got, err, c.want)
		}
	}
	if got, _ := ChannelTopic("dev"); got != "chan/dev/" {
		t.Errorf("ChannelTopic: %q", got)
	}
	if got, _ := UserTopic("ana"); got != "user/ana/" {
		t.Errorf("UserTopic: %q", got)
	}
	for _, bad := range [][2]string{{"", "x"}, {"chan", "a/b"}, {"ch/an", "x"}, {"chan", strings.Repeat("x", 250)}} {
		if got, err := Topic(bad[0], bad[1]); err == nil {
			t.Errorf("Topic(%q, %q) = %q, want an error", bad[0], bad[1], got)
		}
	}
}
