package tasks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"unicode/utf8"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
)

func TestErrorTypesNameTheFailure(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{errors.New("plain"), "Error"},
		{fmt.Errorf("wrapped: %w", errors.New("plain")), "Error"},
		{&fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}, "PathError"},
		{fmt.Errorf("reading: %w", &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}), "PathError"},
		{Permanent(&QuotaError{}), "QuotaError"},
		{Errorf("ValueError", "bad"), "ValueError"},
		{fmt.Errorf("calling: %w", codec.Errorf(codec.CodeNotFound, "no user")), "NOT_FOUND"},
		{fmt.Errorf("stopped: %w", context.Canceled), "Canceled"},
		{context.DeadlineExceeded, "DeadlineExceeded"},
		{errors.Join(errors.New("a"), errors.New("b")), "Error"},
	}
	for _, c := range cases {
		if got := errorOf(c.err); got.Type != c.want || got.Message != c.err.Error() {
			t.Errorf("%#v: got %+v, want type %s", c.err, got, c.want)
		}
	}
}

func TestPermanentMarksAndKeepsTheMessage(t *testing.T) {
	inner := &QuotaError{}
	err := Permanent(fmt.Errorf("sending: %w", inner))
	if !IsPermanent(err) || !IsPermanent(fmt.Errorf("outer: %w", err)) || IsPermanent(inner) || Permanent(nil) != nil {
		t.Fatal("IsPermanent")
	}
	if err.Error() != "sending: quota exhausted" || !errors.Is(err, inner) {
		t.Fatalf("message %q", err.Error())
	}
	if settle := failedWith(errorOf(err), !IsPermanent(err)); settle.Retry == nil || *settle.Retry {
		t.Fatal("a permanent failure settles with retry false")
	}
}

func TestErrorsFitTheSchemaBounds(t *testing.T) {
	long := errorOf(Errorf(strings.Repeat("T", 300), "%s", strings.Repeat("é", 5000)+"\xff"))
	if utf8.RuneCountInString(long.Type) != maxErrorType || utf8.RuneCountInString(long.Message) != maxErrorMessage || !utf8.ValidString(long.Message) {
		t.Fatalf("type %d, message %d code points", utf8.RuneCountInString(long.Type), utf8.RuneCountInString(long.Message))
	}
	if got := errorOf(invalidUTF8Error{}); !utf8.ValidString(got.Message) {
		t.Fatalf("message %q", got.Message)
	}
}

type invalidUTF8Error struct{}

func (invalidUTF8Error) Error() string { return "bad \xc3" }

func TestValuesTravelByTheirJSONTags(t *testing.T) {
	wire, err := toWire(pair{A: 1, B: -2})
	if err != nil || fmt.Sprint(wire) != "map[a:1 b:-2]" {
		t.Fatalf("%v %v", wire, err)
	}
	var back pair
	job := Job{protocol.TaskJob{Args: protocol.Some[protocol.TaskValue](wire)}}
	if err := job.BindArgs(&back); err != nil || back != (pair{A: 1, B: -2}) {
		t.Fatalf("%+v %v", back, err)
	}
	var wrong struct {
		C int `json:"c"`
	}
	if err := job.BindArgs(&wrong); codec.CodeOf(err) != codec.CodeValidation {
		t.Fatalf("unknown field: %v", err)
	}
	if _, err := toWire(map[string]any{"x": 0.5}); codec.CodeOf(err) != codec.CodeValidation {
		t.Fatalf("a float: %v", err)
	}
}
