package service

import (
	"bytes"

	"github.com/vmihailenco/msgpack/v5"

	"correio.dev/peers/go/codec"
)

// toWire turns a handler's value (a struct with msgpack or json tags, a map, a slice, a scalar) into
// the generic value model of codec.Decode, whose canonical encoding is well defined: struct fields
// become sorted map keys. A value v1 cannot carry (a float, a channel) is a VALIDATION error.
func toWire(value any) (any, error) {
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

// bind decodes a generic value (params, event data, a result) into target, a pointer, honouring
// msgpack and json tags. Unknown fields and mismatched types are a VALIDATION error whose
// data.path is the JSON Pointer of the value in its envelope (such as /body/params).
func bind(value any, target any, path string) error {
	data, err := codec.Encode(value)
	if err != nil {
		return err
	}
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	dec.SetCustomStructTag("json")
	dec.DisallowUnknownFields(true)
	if err := dec.Decode(target); err != nil {
		return codec.Errorf(codec.CodeValidation, "%s: expected %T: %v", path, target, err).WithData(map[string]any{"path": path})
	}
	return nil
}
