package codec

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// Encode writes v canonically (ENCODING.md section 1) with github.com/vmihailenco/msgpack/v5:
// compact integers give the shortest integer formats, sorted map keys give canonical maps, and
// structs are written as maps in field order, which is why generated structs (package protocol)
// declare their fields in key order. The output is then checked with CheckCanonical, so a value v1
// cannot carry (a float, an integer beyond ±(2^53-1), a map with keys out of order) fails with
// VALIDATION instead of reaching the wire.
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		return nil, Errorf(CodeValidation, "cannot encode %T: %v", v, err)
	}
	data := buf.Bytes()
	if err := CheckCanonical(data); err != nil {
		return nil, Errorf(CodeValidation, "%T has no canonical v1 encoding: %v", v, err)
	}
	return data, nil
}

// Convert copies a value into another Go representation through MessagePack: a decoded
// map[string]any into a generated struct, or a struct into map[string]any. Unknown fields are
// an error; values in `any` fields come out in Decode's value model (int64, []byte, []any, …).
func Convert(from, to any) error {
	data, err := Encode(from)
	if err != nil {
		return err
	}
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields(true)
	// Not UseLooseInterfaceDecoding: it turns binary into string. Integers in `any` come out as
	// int8 … uint64 instead, and are made int64 below.
	if err := dec.Decode(to); err != nil {
		return Errorf(CodeValidation, "cannot convert to %T: %v", to, err)
	}
	normalize(reflect.ValueOf(to))
	return nil
}

// normalize makes every integer held in an `any` (at any depth of v) an int64, as Decode does.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				normalize(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			normalize(v.Index(i))
		}
	case reflect.Map:
		if v.Type().Elem().Kind() == reflect.Interface {
			for _, key := range v.MapKeys() {
				v.SetMapIndex(key, reflect.ValueOf(normalizeValue(v.MapIndex(key).Interface())))
			}
		}
	case reflect.Interface:
		if !v.IsNil() && v.CanSet() {
			if normalized := normalizeValue(v.Elem().Interface()); normalized != nil {
				v.Set(reflect.ValueOf(normalized))
			}
		}
	}
}

func normalizeValue(value any) any {
	switch x := value.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x) // at most 2^53-1: the value passed CheckCanonical
	case []any:
		for i := range x {
			x[i] = normalizeValue(x[i])
		}
	case map[string]any:
		for key := range x {
			x[key] = normalizeValue(x[key])
		}
	}
	return value
}

// ToValue returns v in the generic value model of Decode (nil, bool, int64, string, []byte, []any,
// map[string]any), as the schema validator needs it.
func ToValue(v any) (any, error) {
	data, err := Encode(v)
	if err != nil {
		return nil, err
	}
	value, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("re-decoding an encoded value: %w", err)
	}
	return value, nil
}
