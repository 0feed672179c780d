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

func TestDecodeSequence(t *testing.T) {
	one, _ := Encode(map[string]any{"a": int64(1)})
	two, _ := Encode([]any{"x", []byte{7}})
	three, _ := Encode("three")
	data := append(append(append([]byte{}, one...), two...), three...)
	values, err := DecodeSequence(data, 3, DefaultLimits)
	want := []any{map[string]any{"a": int64(1)}, []any{"x", []byte{7}}, "three"}
	if err != nil || !reflect.DeepEqual(values, want) {
		t.Fatalf("got %#v, %v", values, err)
	}
	if values, err := DecodeSequence(nil, 0, DefaultLimits); err != nil || len(values) != 0 {
		t.Fatalf("no values in no bytes: got %#v, %v", values, err)
	}

	proto, _ := hex.DecodeString("81a95f5f70726f746f5f5f01") // {"__proto__": 1}
	for name, c := range map[string]struct {
		data  []byte
		count int
	}{
		"fewer values":   {data, 4},
		"more values":    {data, 2},
		"trailing byte":  {append(append([]byte{}, data...), 0xc1), 3},
		"truncated last": {data[:len(data)-1], 3},
		"empty":          {nil, 1},
		"bytes, count 0": {one, 0},
		"bad value":      {append(append([]byte{}, one...), 0xc1), 2},
		"float":          {append(append([]byte{}, one...), 0xca, 0, 0, 0, 0), 2},
		"__proto__ key":  {append(append([]byte{}, one...), proto...), 2},
		"negative count": {one, -1},
	} {
		if _, err := DecodeSequence(c.data, c.count, DefaultLimits); CodeOf(err) != CodeDecode {
			t.Errorf("%s: want DECODE, got %v", name, err)
		}
	}

	// MaxBytes bounds the whole frame even when each value alone fits; the other limits apply to
	// each value.
	limits := DefaultLimits
	limits.MaxBytes = len(data) - 1
	if _, err := DecodeWithLimits(two, limits); err != nil {
		t.Fatalf("each value fits: %v", err)
	}
	if _, err := DecodeSequence(data, 3, limits); CodeOf(err) != CodeTooLarge {
		t.Errorf("frame over MaxBytes: want TOO_LARGE, got %v", err)
	}
	limits = DefaultLimits
	limits.MaxStringBytes = 4
	if _, err := DecodeSequence(data, 3, limits); CodeOf(err) != CodeTooLarge {
		t.Errorf("a string over MaxStringBytes in the last value: want TOO_LARGE, got %v", err)
	}
}
