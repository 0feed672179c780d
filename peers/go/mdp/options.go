package mdp

import "time"

// RequestOption adjusts one request of Client.Request or Client.Call.
type RequestOption func(*requestSettings)

type requestSettings struct {
	auth    string
	id      string
	timeout time.Duration
	retries *int
}

// WithAuth sends the request with token as its envelope's auth (protocol revision 1.1): the
// access token of the user the request acts for. An empty token sends none.
func WithAuth(token string) RequestOption {
	return func(s *requestSettings) { s.auth = token }
}

// WithID sends the request with this envelope id instead of a fresh one: a caller that retries on
// its own keeps the id, so the callee can recognise the retry (ENCODING.md section 5).
func WithID(id string) RequestOption {
	return func(s *requestSettings) { s.id = id }
}

// WithTimeout overrides the client's per-attempt timeout for this request.
func WithTimeout(timeout time.Duration) RequestOption {
	return func(s *requestSettings) { s.timeout = timeout }
}

// WithRetries overrides the client's retries for this request (0 for none).
func WithRetries(retries int) RequestOption {
	return func(s *requestSettings) { s.retries = &retries }
}
