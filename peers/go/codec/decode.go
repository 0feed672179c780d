package codec

import (
	"encoding/binary"
	"unicode/utf8"
)

// Decode decodes exactly one value with the default limits. See DecodeWithLimits.
func Decode(data []byte) (any, error) {
	return DecodeWithLimits(data, DefaultLimits)
}

// DecodeWithLimits decodes exactly one value of the v1 value model: nil, bool, int64, string,
// []byte, []any and map[string]any. It fails with DECODE or TOO_LARGE (ENCODING.md sections 1-2).
//
// This is a reader of its own rather than a MessagePack library's decoder: none of the Go
// libraries reports duplicate map keys, and the limits must be applied to each length prefix
// before anything is allocated, with a prefix longer than the remaining bytes reported as DECODE
// even when it also exceeds a limit.
func DecodeWithLimits(data []byte, limits Limits) (any, error) {
	if len(data) > limits.MaxBytes {
		return nil, Errorf(CodeTooLarge, "message of %d bytes exceeds the limit of %d", len(data), limits.MaxBytes)
	}
	r := reader{data: data, limits: limits}
	value, err := r.value(0)
	if err != nil {
		return nil, err
	}
	if r.pos != len(data) {
		return nil, Errorf(CodeDecode, "%d trailing bytes after the value", len(data)-r.pos)
	}
	return value, nil
}

// DecodeSequence decodes exactly count values laid back to back in data, as in the bodies frame of
// a publication (FRAMES.md section 3.2). Each value gets the checks of DecodeWithLimits; MaxBytes
// bounds the whole of data, and so each value in it. Anything but exactly count values filling
// data (fewer, more, trailing or truncated bytes) is DECODE: nothing separates the values, so
// the count is all that tells a batch from garbage.
func DecodeSequence(data []byte, count int, limits Limits) ([]any, error) {
	if len(data) > limits.MaxBytes {
		return nil, Errorf(CodeTooLarge, "a frame of %d bytes exceeds the limit of %d", len(data), limits.MaxBytes)
	}
	if count < 0 {
		return nil, Errorf(CodeDecode, "a negative count of values (%d)", count)
	}
	r := reader{data: data, limits: limits}
	values := make([]any, 0, min(count, len(data))) // count comes from the wire: every value takes a byte
	for len(values) < count {
		if r.remaining() == 0 {
			return nil, Errorf(CodeDecode, "%d values where %d were announced", len(values), count)
		}
		value, err := r.value(0)
		if err != nil {
			return nil, err
		}
		values = append(values, value)
	}
	if r.pos != len(data) {
		return nil, Errorf(CodeDecode, "%d bytes left after the %d values announced", len(data)-r.pos, count)
	}
	return values, nil
}

// CheckCanonical reports whether data is one value in canonical form: valid for the decoder, and
// every header in its shortest format, every map's keys sorted by their UTF-8 bytes.
func CheckCanonical(data []byte) error {
	r := reader{data: data, limits: DefaultLimits, canonical: true}
	if _, err := r.value(0); err != nil {
		return err
	}
	if r.pos != len(data) {
		return Errorf(CodeDecode, "%d trailing bytes after the value", len(data)-r.pos)
	}
	return nil
}

type reader struct {
	data      []byte
	pos       int
	limits    Limits
	canonical bool
}

func (r *reader) remaining() int { return len(r.data) - r.pos }

func (r *reader) take(n int) ([]byte, error) {
	if n > r.remaining() {
		return nil, Errorf(CodeDecode, "truncated: %d bytes needed at offset %d, %d left", n, r.pos, r.remaining())
	}
	out := r.data[r.pos : r.pos+n]
	r.pos += n
	return out, nil
}

// uint reads a big-endian unsigned integer of size bytes.
func (r *reader) uint(size int) (uint64, error) {
	b, err := r.take(size)
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	default:
		return binary.BigEndian.Uint64(b), nil
	}
}

func (r *reader) notCanonical(what string) error {
	return Errorf(CodeDecode, "not canonical at offset %d: %s", r.pos, what)
}

func (r *reader) value(depth int) (any, error) {
	start, err := r.take(1)
	if err != nil {
		return nil, err
	}
	b := start[0]
	switch {
	case b <= 0x7f:
		return int64(b), nil
	case b >= 0xe0:
		return int64(int8(b)), nil
	case b >= 0xa0 && b <= 0xbf:
		return r.str(int(b & 0x1f))
	case b >= 0x90 && b <= 0x9f:
		return r.array(int(b&0x0f), depth)
	case b >= 0x80 && b <= 0x8f:
		return r.mapping(int(b&0x0f), depth)
	}
	switch b {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		n, err := r.uint(1 << (b - 0xcc))
		if err != nil {
			return nil, err
		}
		if n > MaxSafeInteger {
			return nil, Errorf(CodeDecode, "integer %d is outside ±(2^53-1)", n)
		}
		if r.canonical && (n < 0x80 || 1<<(b-0xcc) > sizeOfUint(n)) {
			return nil, r.notCanonical("an integer in a wider format than needed")
		}
		return int64(n), nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (b - 0xd0)
		u, err := r.uint(size)
		if err != nil {
			return nil, err
		}
		n := signExtend(u, size)
		if n > MaxSafeInteger || n < -MaxSafeInteger {
			return nil, Errorf(CodeDecode, "integer %d is outside ±(2^53-1)", n)
		}
		if r.canonical && (n >= -32 || size > sizeOfInt(n)) {
			return nil, r.notCanonical("an integer in a wider or signed format than needed")
		}
		return n, nil
	case 0xd9, 0xda, 0xdb:
		size := 1 << (b - 0xd9)
		n, err := r.uint(size)
		if err != nil {
			return nil, err
		}
		if r.canonical && (n < 32 || size > sizeOfUint(n)) {
			return nil, r.notCanonical("a string header wider than needed")
		}
		return r.str(clamp(n))
	case 0xc4, 0xc5, 0xc6:
		size := 1 << (b - 0xc4)
		n, err := r.uint(size)
		if err != nil {
			return nil, err
		}
		if r.canonical && size > sizeOfUint(n) {
			return nil, r.notCanonical("a binary header wider than needed")
		}
		return r.bin(clamp(n))
	case 0xdc, 0xdd:
		n, err := r.uint(2 << (b - 0xdc))
		if err != nil {
			return nil, err
		}
		if r.canonical && (n < 16 || (b == 0xdd && n <= 0xffff)) {
			return nil, r.notCanonical("an array header wider than needed")
		}
		return r.array(clamp(n), depth)
	case 0xde, 0xdf:
		n, err := r.uint(2 << (b - 0xde))
		if err != nil {
			return nil, err
		}
		if r.canonical && (n < 16 || (b == 0xdf && n <= 0xffff)) {
			return nil, r.notCanonical("a map header wider than needed")
		}
		return r.mapping(clamp(n), depth)
	case 0xca, 0xcb:
		return nil, Errorf(CodeDecode, "a float (0x%02x) is not part of v1", b)
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return nil, Errorf(CodeDecode, "an extension (0x%02x) is not part of v1", b)
	}
	return nil, Errorf(CodeDecode, "0x%02x is never used", b) // 0xc1
}

func (r *reader) str(n int) (string, error) {
	if n > r.remaining() {
		return "", Errorf(CodeDecode, "a string of %d bytes with %d left", n, r.remaining())
	}
	if n > r.limits.MaxStringBytes {
		return "", Errorf(CodeTooLarge, "a string of %d bytes exceeds the limit of %d", n, r.limits.MaxStringBytes)
	}
	b, _ := r.take(n)
	// utf8.Valid refuses overlong forms, surrogates and truncated sequences.
	if !utf8.Valid(b) {
		return "", Errorf(CodeDecode, "a string is not valid UTF-8")
	}
	return string(b), nil
}

func (r *reader) bin(n int) ([]byte, error) {
	if n > r.remaining() {
		return nil, Errorf(CodeDecode, "a binary of %d bytes with %d left", n, r.remaining())
	}
	if n > r.limits.MaxBinBytes {
		return nil, Errorf(CodeTooLarge, "a binary of %d bytes exceeds the limit of %d", n, r.limits.MaxBinBytes)
	}
	b, _ := r.take(n)
	out := make([]byte, n) // a copy: the value outlives the message buffer
	copy(out, b)
	return out, nil
}

func (r *reader) array(n, depth int) ([]any, error) {
	if n > r.remaining() { // every item takes at least one byte
		return nil, Errorf(CodeDecode, "an array of %d items with %d bytes left", n, r.remaining())
	}
	if n > r.limits.MaxArrayLength {
		return nil, Errorf(CodeTooLarge, "an array of %d items exceeds the limit of %d", n, r.limits.MaxArrayLength)
	}
	if depth >= r.limits.MaxDepth {
		return nil, Errorf(CodeTooLarge, "nesting deeper than %d", r.limits.MaxDepth)
	}
	items := make([]any, n)
	for i := range items {
		item, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		items[i] = item
	}
	return items, nil
}

func (r *reader) mapping(n, depth int) (map[string]any, error) {
	if n > r.remaining()/2 { // every entry takes at least two bytes
		return nil, Errorf(CodeDecode, "a map of %d entries with %d bytes left", n, r.remaining())
	}
	if n > r.limits.MaxMapSize {
		return nil, Errorf(CodeTooLarge, "a map of %d entries exceeds the limit of %d", n, r.limits.MaxMapSize)
	}
	if depth >= r.limits.MaxDepth {
		return nil, Errorf(CodeTooLarge, "nesting deeper than %d", r.limits.MaxDepth)
	}
	entries := make(map[string]any, n)
	previous := ""
	for i := 0; i < n; i++ {
		key, err := r.key()
		if err != nil {
			return nil, err
		}
		if _, duplicate := entries[key]; duplicate {
			return nil, Errorf(CodeDecode, "duplicate map key %q", key)
		}
		if key == "__proto__" {
			return nil, Errorf(CodeDecode, "the map key __proto__ is not allowed")
		}
		if r.canonical && i > 0 && key <= previous { // Go compares strings by bytes
			return nil, r.notCanonical("map keys out of order")
		}
		previous = key
		value, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		entries[key] = value
	}
	return entries, nil
}

func (r *reader) key() (string, error) {
	if r.remaining() == 0 {
		return "", Errorf(CodeDecode, "truncated: a map key is missing")
	}
	b := r.data[r.pos]
	if !(b >= 0xa0 && b <= 0xbf) && b != 0xd9 && b != 0xda && b != 0xdb {
		return "", Errorf(CodeDecode, "a map key is not a string (0x%02x)", b)
	}
	value, err := r.value(0)
	if err != nil {
		return "", err
	}
	return value.(string), nil
}

func signExtend(u uint64, size int) int64 {
	switch size {
	case 1:
		return int64(int8(u))
	case 2:
		return int64(int16(u))
	case 4:
		return int64(int32(u))
	default:
		return int64(u)
	}
}

// sizeOfUint is the fewest bytes (1, 2, 4 or 8) that hold n.
func sizeOfUint(n uint64) int {
	switch {
	case n <= 0xff:
		return 1
	case n <= 0xffff:
		return 2
	case n <= 0xffffffff:
		return 4
	}
	return 8
}

// sizeOfInt is the fewest bytes of a signed format that hold n (negative n only in canonical form).
func sizeOfInt(n int64) int {
	switch {
	case n >= -0x80:
		return 1
	case n >= -0x8000:
		return 2
	case n >= -0x80000000:
		return 4
	}
	return 8
}

// clamp turns a 32-bit length prefix into an int; values beyond int never fit in the data anyway.
func clamp(n uint64) int {
	if n > 1<<31 {
		return 1 << 31
	}
	return int(n)
}
