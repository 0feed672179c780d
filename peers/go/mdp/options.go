package mdp

// RequestOption adjusts one request of Client.Request or Client.Call.
type RequestOption func(*requestSettings)

type requestSettings struct {
	auth string
}

// WithAuth sends the request with token as its envelope's auth (protocol revision 1.1): the
// access token of the user the request acts for. An empty token sends none.
func WithAuth(token string) RequestOption {
	return func(s *requestSettings) { s.auth = token }
}
