package jsonvalue

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	value, err := Parse([]byte(`{"a": [1, -2, 9007199254740991], "b": {"c": "d", "e": null, "f": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": []any{int64(1), int64(-2), int64(9007199254740991)}, "b": map[string]any{"c": "d", "e": nil, "f": true}}
	if !reflect.DeepEqual(value, want) {
		t.Fatalf("got %#v", value)
	}
	for _, bad := range []string{`1.5`, `[1e3]`, `{"a": 1} 2`, `{`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
