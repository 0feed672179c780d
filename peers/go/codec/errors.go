// Package codec implements the canonical MessagePack subset of protocol/ENCODING.md: a canonical
// encoder, a strict decoder with the limits of section 2, and the typed errors of section 5.
package codec

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The protocol's error codes (ENCODING.md section 5).
const (
	CodeDecode             = "DECODE"
	CodeTooLarge           = "TOO_LARGE"
	CodeValidation         = "VALIDATION"
	CodeUnsupportedVersion = "UNSUPPORTED_VERSION"
	CodeUnknownType        = "UNKNOWN_TYPE"
	CodeBadRequest         = "BAD_REQUEST"
	CodeNotFound           = "NOT_FOUND"
	CodeConflict           = "CONFLICT"
	CodeUnknownService     = "UNKNOWN_SERVICE"
	CodeTimeout            = "TIMEOUT"
	CodeUnavailable        = "UNAVAILABLE"
	CodeOverloaded         = "OVERLOADED"
	CodeInternal           = "INTERNAL"
	CodeUnauthenticated    = "UNAUTHENTICATED" // protocol revision 1.1
	CodeForbidden          = "FORBIDDEN"       // protocol revision 1.1
)

// maxWireMessage is error.json's bound on message, in code points.
const maxWireMessage = 1000

// Error is a failure with a protocol code; it travels as the body of an "error" envelope.
type Error struct {
	Code      string
	Message   string
	Retryable bool
	Data      map[string]any
}

// Errorf returns an Error with the code's default retryability.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Retryable: IsRetryable(code)}
}

// IsRetryable reports whether requests failing with code may succeed when sent again.
func IsRetryable(code string) bool {
	switch code {
	case CodeTimeout, CodeUnavailable, CodeOverloaded, CodeInternal:
		return true
	}
	return false
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// WithData returns e carrying data (for VALIDATION, data["path"] names the field).
func (e *Error) WithData(data map[string]any) *Error {
	e.Data = data
	return e
}

// Wire is the body of an "error" message for e.
func (e *Error) Wire() map[string]any {
	message := strings.ToValidUTF8(e.Message, "\uFFFD")
	if utf8.RuneCountInString(message) > maxWireMessage {
		message = string([]rune(message)[:maxWireMessage])
	}
	body := map[string]any{"code": e.Code, "message": message, "retryable": e.Retryable}
	if e.Data != nil {
		body["data"] = e.Data
	}
	return body
}

// FromWire rebuilds the error a peer sent as the body of an "error" message.
func FromWire(body map[string]any) *Error {
	e := &Error{}
	e.Code, _ = body["code"].(string)
	e.Message, _ = body["message"].(string)
	e.Retryable, _ = body["retryable"].(bool)
	e.Data, _ = body["data"].(map[string]any)
	return e
}

// AsError returns err as an *Error; anything else becomes INTERNAL.
func AsError(err error) *Error {
	var typed *Error
	if errors.As(err, &typed) {
		return typed
	}
	return Errorf(CodeInternal, "%v", err)
}

// CodeOf is the protocol code of err, or "" when err is not an *Error.
func CodeOf(err error) string {
	var typed *Error
	if errors.As(err, &typed) {
		return typed.Code
	}
	return ""
}
