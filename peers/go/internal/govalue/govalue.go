// Package govalue converts between Go values (structs with json or msgpack tags, maps, slices,
// scalars) and the generic value model of codec.Decode, in which any-typed protocol fields
// (service params and results, task arguments and results) travel. Shared by the service
// framework and the task queue.
package govalue

import (
	"bytes"

	"github.com/vmihailenco/msgpack/v5"

	"correio.dev/peers/go/codec"
)

// ToWire turns a Go value into the generic value model of codec.Decode, whose canonical encoding is
// well defined: struct fields become sorted map keys. A value v1 cannot carry (a float, a channel)
// is a VALIDATION error.
func ToWire(value any) (any, error) {
	if value == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	enc.SetSortMapKeys(true)
	enc.SetCustomStructTag("json")
	if err := enc.Encode(value); err != nil {
		return nil, codec.Errorf(codec.CodeValidation, "cannot encode %T: %v", value, err)
	}
	generic, err := codec.Decode(buf.Bytes())
	if err != nil {
		return nil, codec.Errorf(codec.CodeValidation, "%T has no v1 encoding: %v", value, err)
	}
	return generic, nil
}

// Bind decodes a generic value into target, a pointer, honouring msgpack and json tags. Unknown
// fields and mismatched types are a VALIDATION error naming `what` (such as /body/params).
func Bind(value any, target any, what string) error {
	data, err := codec.Encode(value)
	if err != nil {
		return err
	}
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	dec.SetCustomStructTag("json")
	dec.DisallowUnknownFields(true)
	if err := dec.Decode(target); err != nil {
		return codec.Errorf(codec.CodeValidation, "%s: expected %T: %v", what, target, err).WithData(map[string]any{"path": what})
	}
	return nil
}
