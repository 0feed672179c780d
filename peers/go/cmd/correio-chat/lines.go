package main

import (
	"encoding/json"
	"io"
	"sync"

	"correio.dev/peers/go/chat"
)

// lines writes one JSON object per line; replies and events come from two goroutines.
type lines struct {
	mu      sync.Mutex
	encoder *json.Encoder
}

func newLines(w io.Writer) *lines { return &lines{encoder: json.NewEncoder(w)} }

func (l *lines) write(value any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.encoder.Encode(value) // stdout gone: nobody is listening any more
}

// eventLine is the JSON line of one live event.
func eventLine(event chat.Event) map[string]any {
	line := map[string]any{"topic": event.Topic, "publisher": event.Publisher, "lc": event.LC}
	switch {
	case event.Gap != nil:
		line["event"] = "gap"
		line["first"] = event.Gap.First
		line["last"] = event.Gap.Last
		line["restarted"] = event.Gap.Restarted
	case event.Publication != nil:
		line["event"] = "publication"
		line["seq"] = event.Seq
		line["message"] = event.Publication
	case event.Direct != nil:
		line["event"] = "direct"
		line["seq"] = event.Seq
		line["message"] = event.Direct
	}
	return line
}
