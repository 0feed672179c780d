package service

import (
	"context"
	"errors"

	"correio.dev/peers/go/codec"
)

// Error is a Correio failure with a protocol code (codec.CodeNotFound, …), a message, whether a
// retry may succeed, and optional data. Handlers return one to answer with it; calls return one
// on failure: `var e *service.Error; errors.As(err, &e)`.
type Error = codec.Error

// Errorf returns an *Error with the code's default retryability (TIMEOUT, UNAVAILABLE, OVERLOADED
// and INTERNAL are retryable).
func Errorf(code, format string, args ...any) *Error { return codec.Errorf(code, format, args...) }

// CodeOf is the protocol code of err, or "" when err carries none.
func CodeOf(err error) string { return codec.CodeOf(err) }

// asError makes anything a handler or a call failed with an *Error: a cancelled or expired
// context says so in the code, anything else untyped is INTERNAL, not retryable (SERVICE.md §1).
func asError(err error) *Error {
	var typed *Error
	switch {
	case errors.As(err, &typed):
		return typed
	case errors.Is(err, context.DeadlineExceeded):
		return codec.Errorf(codec.CodeTimeout, "%v", err)
	case errors.Is(err, context.Canceled):
		return codec.Errorf(codec.CodeUnavailable, "%v", err)
	}
	return internal("%v", err)
}

// internal is an unexpected failure: INTERNAL, not retryable.
func internal(format string, args ...any) *Error {
	failure := codec.Errorf(codec.CodeInternal, format, args...)
	failure.Retryable = false
	return failure
}
