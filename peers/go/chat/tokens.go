package chat

import (
	"time"

	"correio.dev/peers/go/protocol"
)

// Tokens are what a login or refresh reply carries (protocol revision 1.1): an access token for
// the envelope's auth, and the refresh token that renews it. The client never verifies them (only
// servers hold the keys); it trusts ExpiresAt only to decide when to refresh.
type Tokens struct {
	Access  string `json:"token"`
	Refresh string `json:"refresh_token"`
	// ExpiresAt is when the access token expires, ms since the epoch.
	ExpiresAt        int64 `json:"expires_at"`
	RefreshExpiresAt int64 `json:"refresh_expires_at"`
}

// ExpiresWithin reports whether the access token expires in less than margin from now.
func (t *Tokens) ExpiresWithin(margin time.Duration) bool {
	return time.Now().Add(margin).UnixMilli() >= t.ExpiresAt
}

// tokensOfLogin are the tokens of a login reply; nil from a server that sent none (protocol 1.0).
func tokensOfLogin(reply protocol.ChatLoginReply) *Tokens {
	if reply.Token == nil || reply.RefreshToken == nil || reply.ExpiresAt == nil || reply.RefreshExpiresAt == nil {
		return nil
	}
	return &Tokens{Access: *reply.Token, Refresh: *reply.RefreshToken, ExpiresAt: *reply.ExpiresAt, RefreshExpiresAt: *reply.RefreshExpiresAt}
}
