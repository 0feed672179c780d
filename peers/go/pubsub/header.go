package pubsub

import (
	"regexp"

	"correio.dev/peers/go/codec"
)

// Header is a message's second frame: n bodies from publisher p, numbered from s.
type Header struct {
	N int64  `msgpack:"n"`
	P string `msgpack:"p"`
	S int64  `msgpack:"s"`
}

var publisherPattern = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)

// ParseHeader decodes and checks a header frame (FRAMES.md section 3.2).
func ParseHeader(frame []byte, limits codec.Limits) (Header, error) {
	value, err := codec.DecodeWithLimits(frame, limits)
	if err != nil {
		return Header{}, err
	}
	fields, ok := value.(map[string]any)
	if !ok || len(fields) != 3 {
		return Header{}, codec.Errorf(codec.CodeValidation, "a publication header is the map {n, p, s}")
	}
	n, okN := fields["n"].(int64)
	p, okP := fields["p"].(string)
	s, okS := fields["s"].(int64)
	if !okN || !okP || !okS || n < 1 || n > 1000 || s < 1 || s > codec.MaxSafeInteger-(n-1) || !publisherPattern.MatchString(p) {
		return Header{}, codec.Errorf(codec.CodeValidation, "invalid publication header %v", fields)
	}
	return Header{N: n, P: p, S: s}, nil
}
