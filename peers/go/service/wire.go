package service

import "correio.dev/peers/go/internal/govalue"

// toWire turns a handler's value into the generic value model (see govalue.ToWire).
func toWire(value any) (any, error) { return govalue.ToWire(value) }

// bind decodes a generic value (params, event data, a result) into target, a pointer. Unknown
// fields and mismatched types are a VALIDATION error whose data.path is the JSON Pointer of the
// value in its envelope (such as /body/params).
func bind(value any, target any, path string) error { return govalue.Bind(value, target, path) }
