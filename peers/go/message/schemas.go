package message

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
)

// schemaSet is the envelope schema and one body schema per message type, compiled once from the
// copy of protocol/schemas/v1 embedded in package protocol. Patterns run on Go's regexp (RE2),
// whose `$` matches only at the very end, as in ECMA-262.
type schemaSet struct {
	envelope *jsonschema.Schema
	bodies   map[string]*jsonschema.Schema
}

var (
	schemasOnce sync.Once
	schemas     *schemaSet
	schemasErr  error
)

const schemaBase = "https://correio.dev/schemas/v1/"

func loadSchemas() (*schemaSet, error) {
	schemasOnce.Do(func() {
		compiler := jsonschema.NewCompiler()
		compiler.DefaultDraft(jsonschema.Draft2020)
		files, err := fs.Glob(protocol.Schemas, "schemas/*.json")
		if err != nil {
			schemasErr = err
			return
		}
		for _, file := range files {
			data, err := protocol.Schemas.ReadFile(file)
			if err != nil {
				schemasErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				schemasErr = fmt.Errorf("%s: %w", file, err)
				return
			}
			if err := compiler.AddResource(schemaBase+path.Base(file), doc); err != nil {
				schemasErr = err
				return
			}
		}
		set := &schemaSet{bodies: map[string]*jsonschema.Schema{}}
		if set.envelope, schemasErr = compiler.Compile(schemaBase + "envelope.json"); schemasErr != nil {
			return
		}
		for _, messageType := range protocol.MessageTypes {
			if set.bodies[messageType], schemasErr = compiler.Compile(schemaBase + messageType + ".json"); schemasErr != nil {
				return
			}
		}
		schemas = set
	})
	return schemas, schemasErr
}

// binaryStandIn replaces binary values for validation. The validator knows only JSON types, and
// v1 binary may appear only where a schema sets no type (the "any" payloads). A non-integer number
// is the exact stand-in: no v1 value is one (floats are not part of v1), every typed v1 schema
// refuses it (numbers are integers), and an untyped schema accepts it.
const binaryStandIn = 0.5

func forValidation(value any) any {
	switch v := value.(type) {
	case []byte:
		return binaryStandIn
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = forValidation(item)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, item := range v {
			out[key] = forValidation(item)
		}
		return out
	}
	return value
}

// validate checks value against schema; a failure is VALIDATION naming the field as a JSON
// Pointer below prefix.
func validate(schema *jsonschema.Schema, value any, prefix string) error {
	err := schema.Validate(forValidation(value))
	if err == nil {
		return nil
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return codec.Errorf(codec.CodeValidation, "%s: %v", prefix, err)
	}
	leaf := verr
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	pointer := prefix
	for _, token := range leaf.InstanceLocation {
		pointer += "/" + strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
	}
	return codec.Errorf(codec.CodeValidation, "%s: %s", pointerOrRoot(pointer), leaf.ErrorKind.LocalizedString(english)).
		WithData(map[string]any{"path": pointer})
}

var english = message.NewPrinter(language.English)

func pointerOrRoot(pointer string) string {
	if pointer == "" {
		return "/"
	}
	return pointer
}
