package codec

// Limits are what a decoder accepts (ENCODING.md section 2). A deployment may lower them, never
// raise them past what its peers accept.
type Limits struct {
	MaxBytes       int
	MaxStringBytes int
	MaxBinBytes    int
	MaxArrayLength int
	MaxMapSize     int
	MaxDepth       int
}

// DefaultLimits are the protocol's defaults.
var DefaultLimits = Limits{
	MaxBytes:       1 << 20,
	MaxStringBytes: 65_536,
	MaxBinBytes:    1 << 20,
	MaxArrayLength: 10_000,
	MaxMapSize:     1_000,
	MaxDepth:       32,
}

// MaxSafeInteger is 2^53-1, the largest integer magnitude v1 carries (what a JavaScript number
// holds exactly).
const MaxSafeInteger = 1<<53 - 1
