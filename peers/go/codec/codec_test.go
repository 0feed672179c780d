package codec

import (
	"encoding/hex"
	"reflect"
	"testing"
)

type withAny struct {
	A any            `msgpack:"a"`
	M map[string]any `msgpack:"m"`
}

func TestConvertKeepsTheValueModelInAnyFields(t *testing.T) {
	value := map[string]any{
		"a": map[string]any{"bin": []byte{0, 0xff}, "n": []any{int64(1), int64(-200), int64(MaxSafeInteger)}, "s": "olá"},
		"m": map[string]any{"x": int64(300)},
	}
	var typed withAny
	if err := Convert(value, &typed); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(typed.A, value["a"]) || !reflect.DeepEqual(typed.M, value["m"]) {
		t.Fatalf("got %#v", typed)
	}
}

func TestEncodeRefusesWhatV1CannotCarry(t *testing.T) {
	for name, value := range map[string]any{
		"float":      1.5,
		"2^53":       int64(MaxSafeInteger + 1),
		"uint 2^63":  uint64(1 << 63),
		"proto":      map[string]any{"__proto__": int64(1)},
		"deep float": []any{map[string]any{"x": float32(1)}},
	} {
		if _, err := Encode(value); CodeOf(err) != CodeValidation {
			t.Errorf("%s: want VALIDATION, got %v", name, err)
		}
	}
}

func TestCheckCanonicalRefusesWideFormsAndUnsortedKeys(t *testing.T) {
	for name, text := range map[string]string{
		"uint16 for 5":      "cd0005",
		"int8 for 5":        "d005",
		"str8 for 1 byte":   "d90161",
		"array16 for 1":     "dc000101",
		"keys out of order": "82a16201a16101",
	} {
		data, _ := hex.DecodeString(text)
		if _, err := Decode(data); err != nil {
			t.Errorf("%s: the decoder must accept it: %v", name, err)
		}
		if err := CheckCanonical(data); err == nil {
			t.Errorf("%s: accepted as canonical", name)
		}
	}
}

func TestLoweredLimits(t *testing.T) {
	data, _ := Encode([]any{"abc", []byte("xyz")})
	for name, limits := range map[string]Limits{
		"bytes":  {MaxBytes: len(data) - 1, MaxStringBytes: 10, MaxBinBytes: 10, MaxArrayLength: 10, MaxMapSize: 10, MaxDepth: 10},
		"string": {MaxBytes: 100, MaxStringBytes: 2, MaxBinBytes: 10, MaxArrayLength: 10, MaxMapSize: 10, MaxDepth: 10},
		"binary": {MaxBytes: 100, MaxStringBytes: 10, MaxBinBytes: 2, MaxArrayLength: 10, MaxMapSize: 10, MaxDepth: 10},
		"array":  {MaxBytes: 100, MaxStringBytes: 10, MaxBinBytes: 10, MaxArrayLength: 1, MaxMapSize: 10, MaxDepth: 10},
		"depth":  {MaxBytes: 100, MaxStringBytes: 10, MaxBinBytes: 10, MaxArrayLength: 10, MaxMapSize: 10, MaxDepth: 0},
	} {
		if _, err := DecodeWithLimits(data, limits); CodeOf(err) != CodeTooLarge {
			t.Errorf("%s: want TOO_LARGE, got %v", name, err)
		}
	}
}
