// Package conformance runs protocol/vectors/v1 against the Go codec and message decoder: exact
// encoder bytes, decoder equality, and rejections with the stated error code.
package conformance

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/message"
)

var vectorsDir = filepath.Join("..", "..", "..", "protocol", "vectors", "v1")

type vectorCase struct {
	Description string          `json:"description"`
	Value       json.RawMessage `json:"value"`
	MsgpackHex  *string         `json:"msgpack_hex"`
	Error       string          `json:"error"`
}

type vectorFile struct {
	Kind       string       `json:"kind"`
	Valid      []vectorCase `json:"valid"`
	DecodeOnly []vectorCase `json:"decode_only"`
	Invalid    []vectorCase `json:"invalid"`
}

// fromJSON parses a vector value: integers exactly (json.Number), {"$bin": hex} as []byte.
func fromJSON(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		t.Fatalf("parsing a vector value: %v", err)
	}
	return convert(t, value)
}

func convert(t *testing.T, value any) any {
	switch v := value.(type) {
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			t.Fatalf("vector number %s is not an int64", v)
		}
		return n
	case []any:
		for i := range v {
			v[i] = convert(t, v[i])
		}
		return v
	case map[string]any:
		if hexText, ok := v["$bin"].(string); ok && len(v) == 1 {
			b, err := hex.DecodeString(hexText)
			if err != nil {
				t.Fatalf("bad $bin %q", hexText)
			}
			return b
		}
		for key := range v {
			v[key] = convert(t, v[key])
		}
		return v
	}
	return value
}

func files(t *testing.T) []string {
	messages, err := filepath.Glob(filepath.Join(vectorsDir, "messages", "*.json"))
	if err != nil || len(messages) == 0 {
		t.Fatalf("no message vectors under %s", vectorsDir)
	}
	sort.Strings(messages)
	return append([]string{filepath.Join(vectorsDir, "codec.json"), filepath.Join(vectorsDir, "envelope.json")}, messages...)
}

func load(t *testing.T, path string) vectorFile {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file vectorFile
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return file
}

func mustHex(t *testing.T, text string) []byte {
	b, err := hex.DecodeString(text)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeAs decodes like the file's kind says: a raw value (codec) or a validated envelope as a
// generic value (messages).
func decodeAs(kind string, data []byte) (any, error) {
	if kind == "codec" {
		return codec.Decode(data)
	}
	envelope, err := message.Decode(data)
	if err != nil {
		return nil, err
	}
	return codec.ToValue(envelope)
}

func encodeAs(kind string, value any) ([]byte, error) {
	if kind == "codec" {
		return codec.Encode(value)
	}
	return message.EncodeValue(value)
}

func TestVectors(t *testing.T) {
	for _, path := range files(t) {
		file := load(t, path)
		name, _ := filepath.Rel(vectorsDir, path)
		t.Run(name, func(t *testing.T) {
			for _, c := range file.Valid {
				t.Run("valid/"+c.Description, func(t *testing.T) {
					value := fromJSON(t, c.Value)
					encoded, err := encodeAs(file.Kind, value)
					if err != nil {
						t.Fatalf("encode: %v", err)
					}
					if got := hex.EncodeToString(encoded); got != *c.MsgpackHex {
						t.Fatalf("encode:\n got  %s\n want %s", got, *c.MsgpackHex)
					}
					decoded, err := decodeAs(file.Kind, mustHex(t, *c.MsgpackHex))
					if err != nil {
						t.Fatalf("decode: %v", err)
					}
					if !reflect.DeepEqual(decoded, value) {
						t.Fatalf("decode:\n got  %#v\n want %#v", decoded, value)
					}
				})
			}
			for _, c := range file.DecodeOnly {
				t.Run("decode_only/"+c.Description, func(t *testing.T) {
					decoded, err := decodeAs(file.Kind, mustHex(t, *c.MsgpackHex))
					if err != nil {
						t.Fatalf("decode: %v", err)
					}
					if want := fromJSON(t, c.Value); !reflect.DeepEqual(decoded, want) {
						t.Fatalf("decode:\n got  %#v\n want %#v", decoded, want)
					}
				})
			}
			for _, c := range file.Invalid {
				t.Run("invalid/"+c.Description, func(t *testing.T) {
					var data []byte
					if c.MsgpackHex != nil {
						data = mustHex(t, *c.MsgpackHex)
					} else {
						var err error
						if data, err = codec.Encode(fromJSON(t, c.Value)); err != nil {
							t.Fatalf("encoding the invalid value: %v", err)
						}
					}
					_, err := decodeAs(file.Kind, data)
					if code := codec.CodeOf(err); code != c.Error {
						t.Fatalf("want %s, got %s (%v)", c.Error, code, err)
					}
				})
			}
		})
	}
}

func ExampleEncode() {
	data, _ := codec.Encode(map[string]any{"b": int64(1), "a": []any{"x", true, nil}})
	fmt.Println(hex.EncodeToString(data))
	// Output: 82a16193a178c3c0a16201
}
