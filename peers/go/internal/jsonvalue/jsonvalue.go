// Package jsonvalue reads JSON into the value model of package codec: integers as int64 (v1 has
// no floats), arrays as []any, objects as map[string]any. The commands use it for parameters
// given as JSON.
package jsonvalue

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Parse reads one JSON value; a number that is not an integer is an error.
func Parse(text []byte) (any, error) {
	decoder := json.NewDecoder(bytes.NewReader(text))
	decoder.UseNumber()
	var value any
	if err := decoder.Decode(&value); err != nil {
		return nil, err
	}
	if decoder.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return integers(value)
}

func integers(value any) (any, error) {
	switch v := value.(type) {
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			return nil, fmt.Errorf("%s is not an integer: Correio v1 carries integers only", v)
		}
		return n, nil
	case []any:
		for i := range v {
			var err error
			if v[i], err = integers(v[i]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for key := range v {
			var err error
			if v[key], err = integers(v[key]); err != nil {
				return nil, err
			}
		}
	}
	return value, nil
}
