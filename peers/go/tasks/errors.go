package tasks

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
)

// Why a handler's ctx was cancelled: context.Cause(ctx) is one of these.
var (
	// ErrCancelled: the job was cancelled (tasks.cancel) while it ran. Return an error: the job
	// is then cancelled.
	ErrCancelled = errors.New("tasks: the job was cancelled")
	// ErrLeaseLost: the queue gave the job to another worker (this worker's lease expired); its
	// outcome here is dropped.
	ErrLeaseLost = errors.New("tasks: the job's lease was lost")
	// ErrWorkerStopping: the worker stopped and its grace period ended; a job that returns an
	// error now is given back (released) and runs again elsewhere.
	ErrWorkerStopping = errors.New("tasks: the worker is stopping")
)

// Permanent marks err as a failure no retry fixes (bad input): the job is dead at once, however
// many attempts remain (settled with retry false). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err (or an error it wraps) was marked with Permanent.
func IsPermanent(err error) bool {
	var permanent *permanentError
	return errors.As(err, &permanent)
}

// TypedError is an error that names its kind on the wire (taskError.type), such as
// "ValueError"; other errors are named after their Go type.
type TypedError interface {
	error
	TaskErrorType() string
}

// Failure is an error of an explicit kind; Errorf makes one.
type Failure struct {
	Type    string
	Message string
}

func (f *Failure) Error() string         { return f.Message }
func (f *Failure) TaskErrorType() string { return f.Type }

// Errorf returns a *Failure of kind errorType with a formatted message.
func Errorf(errorType, format string, args ...any) error {
	return &Failure{Type: errorType, Message: fmt.Sprintf(format, args...)}
}

// The bounds of defs.json taskError, in code points.
const (
	maxErrorType    = 200
	maxErrorMessage = 4000
)

// Go's anonymous error types, which say nothing about the failure's kind: the chain is searched
// past them.
var anonymousErrorTypes = map[string]bool{
	"errors.errorString": true, "fmt.wrapError": true, "fmt.wrapErrors": true, "errors.joinError": true,
	"tasks.permanentError": true,
}

// errorOf is the taskError a handler's error settles with: its message, and its kind from a
// TypedError, a *codec.Error's code, a context error, or else the name of the first error type in
// the chain that is not one of Go's anonymous ones ("Error" if none).
func errorOf(err error) protocol.TaskError {
	return protocol.TaskError{Type: clip(errorType(err), maxErrorType), Message: clip(err.Error(), maxErrorMessage)}
}

func errorType(err error) string {
	var typed TypedError
	if errors.As(err, &typed) && typed.TaskErrorType() != "" {
		return typed.TaskErrorType()
	}
	var coded *codec.Error
	if errors.As(err, &coded) && coded.Code != "" {
		return coded.Code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "Canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "DeadlineExceeded"
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		t := reflect.TypeOf(e)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Name() != "" && !anonymousErrorTypes[t.String()] {
			return t.Name()
		}
	}
	return "Error"
}

// clip makes text valid UTF-8 of at most max code points.
func clip(text string, max int) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	if utf8.RuneCountInString(text) <= max {
		return text
	}
	return string([]rune(text)[:max-1]) + "…"
}
