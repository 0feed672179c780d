package message

import (
	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
)

// Validate checks that a decoded value is a valid v1 envelope whose body matches its type's
// schema, in the order of ENCODING.md section 3: a map whose v is an integer (VALIDATION), the
// version (UNSUPPORTED_VERSION), the envelope (VALIDATION), the type (UNKNOWN_TYPE), the body
// (VALIDATION, data.path a JSON Pointer from the envelope root such as /body/user).
func Validate(value any) (*Envelope, error) {
	fields, isMap := value.(map[string]any)
	version, isInt := fields["v"].(int64)
	if !isMap || !isInt {
		return nil, codec.Errorf(codec.CodeValidation, "/v: a message is a map whose v is an integer").WithData(map[string]any{"path": "/v"})
	}
	if version != protocol.ProtocolVersion {
		return nil, codec.Errorf(codec.CodeUnsupportedVersion, "protocol version %d is not supported; this peer speaks %d", version, protocol.ProtocolVersion)
	}
	set, err := loadSchemas()
	if err != nil {
		return nil, codec.Errorf(codec.CodeInternal, "loading the schemas: %v", err)
	}
	if err := validate(set.envelope, fields, ""); err != nil {
		return nil, err
	}
	messageType := fields["type"].(string)
	body, known := set.bodies[messageType]
	if !known {
		return nil, codec.Errorf(codec.CodeUnknownType, "unknown message type %q", messageType)
	}
	if err := validate(body, fields["body"], "/body"); err != nil {
		return nil, err
	}
	auth, _ := fields["auth"].(string) // optional (revision 1.1); the schema checked its shape
	return &Envelope{
		Auth: auth, Body: fields["body"], From: fields["from"].(string), ID: fields["id"].(string),
		LC: fields["lc"].(int64), TS: fields["ts"].(int64), Type: messageType, V: version,
	}, nil
}

// Decode turns bytes into a validated envelope with the default limits.
func Decode(data []byte) (*Envelope, error) {
	return DecodeWithLimits(data, codec.DefaultLimits)
}

// DecodeWithLimits turns bytes into a validated envelope; the error is a *codec.Error with the
// code of the first check that failed.
func DecodeWithLimits(data []byte, limits codec.Limits) (*Envelope, error) {
	value, err := codec.DecodeWithLimits(data, limits)
	if err != nil {
		return nil, err
	}
	return Validate(value)
}

// Encode validates an envelope (typed or generic body) and returns its canonical bytes.
func Encode(e *Envelope) ([]byte, error) {
	data, err := codec.Encode(e)
	if err != nil {
		return nil, err
	}
	value, err := codec.Decode(data)
	if err != nil {
		return nil, codec.Errorf(codec.CodeValidation, "the envelope breaks the codec limits: %v", err)
	}
	if _, err := Validate(value); err != nil {
		return nil, err
	}
	return data, nil
}

// EncodeValue validates a generic value (as Decode returns them) as an envelope and encodes it.
func EncodeValue(value any) ([]byte, error) {
	if _, err := Validate(value); err != nil {
		return nil, err
	}
	return codec.Encode(value)
}
