package chat

// Identity against a real TypeScript server in password mode (internal/cluster): register, log in
// with a password, a token on every request, refresh and logout; every token attack answered
// UNAUTHENTICATED, a body user other than the token's subject FORBIDDEN. Tokens are forged with
// golang-jwt.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/internal/cluster"
	"correio.dev/peers/go/mdp"
	"correio.dev/peers/go/protocol"
)

const password = "correct horse battery"

var (
	shared      *cluster.Cluster
	sharedErr   error
	sharedDir   string
	sharedStart sync.Once
)

// TestMain stops the cluster the identity tests started, if they ran.
func TestMain(m *testing.M) {
	status := m.Run()
	if shared != nil {
		shared.Stop()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(status)
}

// passwordCluster is one cluster in password mode for every identity test of the run.
func passwordCluster(t *testing.T) *cluster.Cluster {
	t.Helper()
	sharedStart.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "correio-go-identity-")
		if sharedErr == nil {
			shared, sharedErr = cluster.Start(sharedDir, 1, "password")
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func unique(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// registered is a client of a new user, registered and logged in.
func registered(t *testing.T, c *cluster.Cluster, user string) *Client {
	t.Helper()
	client, err := Dial(c.Broker, "", user, Options{Timeout: 10 * time.Second, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	must(client.Register(ctx, password))
	must(client.Login(ctx, password))
	return client
}

// codeOf is the protocol code of a request's error; the test fails if it succeeded.
func codeOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("the request succeeded; an error was expected")
	}
	return codec.CodeOf(err)
}

// unverified are a token's claims, read without checking it (only the servers hold the keys).
func unverified(t *testing.T, token string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func sign(t *testing.T, key cluster.SigningKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	token.Header["kid"] = kid
	signed, err := token.SignedString(key.Private)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// with is claims with some replaced.
func with(claims jwt.MapClaims, changes jwt.MapClaims) jwt.MapClaims {
	out := jwt.MapClaims{}
	for name, value := range claims {
		out[name] = value
	}
	for name, value := range changes {
		out[name] = value
	}
	return out
}

func b64JSON(t *testing.T, value any) string {
	t.Helper()
	data, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(data)
}

func TestRegisterLoginAndActWithTheToken(t *testing.T) {
	c := passwordCluster(t)
	ctx := context.Background()
	user := unique("ana")
	client, err := Dial(c.Broker, "", user, Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if reply := must(client.Register(ctx, password)); reply.User != user {
		t.Fatalf("registered %q", reply.User)
	}
	_, err = client.Register(ctx, password)
	if code := codeOf(t, err); code != codec.CodeConflict {
		t.Fatalf("registering twice: %s", code)
	}
	_, err = client.Login(ctx, "wrong password")
	if code := codeOf(t, err); code != codec.CodeUnauthenticated {
		t.Fatalf("a wrong password: %s", code)
	}
	_, err = client.CreateChannel(ctx, "sala") // no token: a password-mode server serves nobody
	if code := codeOf(t, err); code != codec.CodeUnauthenticated {
		t.Fatalf("no token: %s", code)
	}

	login := must(client.Login(ctx, password))
	tokens := client.Tokens()
	if tokens == nil || login.Token == nil || tokens.Access != *login.Token {
		t.Fatalf("the login's tokens were not kept: %+v", tokens)
	}
	claims := unverified(t, tokens.Access)
	if claims["sub"] != user || claims["iss"] != cluster.Issuer || claims["aud"] != cluster.Audience || claims["use"] != "access" {
		t.Fatalf("claims %v", claims)
	}
	channel := unique("sala")
	if created := must(client.CreateChannel(ctx, channel)); created.CreatedBy != user {
		t.Fatalf("created by %q", created.CreatedBy)
	}
	must(client.Publish(ctx, channel, "olá"))
	history := must(client.History(ctx, channel, 50, ""))
	if len(history.Messages) != 1 || history.Messages[0].User != user || history.Messages[0].Text != "olá" {
		t.Fatalf("history %+v", history.Messages)
	}
}

func TestRefreshRotatesAndLogoutRevokes(t *testing.T) {
	c := passwordCluster(t)
	ctx := context.Background()
	client := registered(t, c, unique("bia"))
	first := client.Tokens()
	// A margin longer than the token's life makes every request refresh first.
	client.refreshMargin = 24 * time.Hour
	must(client.Channels(ctx, 0, ""))
	refreshed := client.Tokens()
	if refreshed.Access == first.Access || refreshed.Refresh == first.Refresh {
		t.Fatal("the request did not refresh the tokens")
	}
	client.refreshMargin = time.Minute
	var reply protocol.ChatRefreshReply
	err := client.Requests().Call(ctx, Service, "chat.refresh.request", protocol.ChatRefreshRequest{RefreshToken: refreshed.Access}, &reply)
	if code := codeOf(t, err); code != codec.CodeUnauthenticated {
		t.Fatalf("an access token as a refresh token: %s", code)
	}

	if logout := must(client.Logout(ctx)); logout.User != client.User() || client.Tokens() != nil {
		t.Fatalf("logout %+v, tokens %+v", logout, client.Tokens())
	}
	for _, tokens := range []*Tokens{first, refreshed} {
		var channels protocol.ChatChannelsReply
		err := client.Requests().Call(ctx, Service, "chat.channels.request", protocol.ChatChannelsRequest{}, &channels, mdp.WithAuth(tokens.Access))
		if code := codeOf(t, err); code != codec.CodeUnauthenticated {
			t.Fatalf("an access token issued before the logout: %s", code)
		}
		err = client.Requests().Call(ctx, Service, "chat.refresh.request", protocol.ChatRefreshRequest{RefreshToken: tokens.Refresh}, &reply)
		if code := codeOf(t, err); code != codec.CodeUnauthenticated {
			t.Fatalf("a refresh token issued before the logout: %s", code)
		}
	}
	must(client.Login(ctx, password)) // the logout revoked only the tokens issued before it
	must(client.Channels(ctx, 0, ""))
}

func TestPasswordChangeRevokesOlderTokens(t *testing.T) {
	c := passwordCluster(t)
	ctx := context.Background()
	client := registered(t, c, unique("caio"))
	old := client.Tokens()
	_, err := client.ChangePassword(ctx, "not the password", "brand new password")
	if code := codeOf(t, err); code != codec.CodeUnauthenticated {
		t.Fatalf("a wrong current password: %s", code)
	}
	must(client.ChangePassword(ctx, password, "brand new password"))
	var channels protocol.ChatChannelsReply
	err = client.Requests().Call(ctx, Service, "chat.channels.request", protocol.ChatChannelsRequest{}, &channels, mdp.WithAuth(old.Access))
	if code := codeOf(t, err); code != codec.CodeUnauthenticated {
		t.Fatalf("a token issued before the change: %s", code)
	}
	_, err = client.Login(ctx, password)
	if code := codeOf(t, err); code != codec.CodeUnauthenticated {
		t.Fatalf("the old password: %s", code)
	}
	must(client.Login(ctx, "brand new password"))
	must(client.Channels(ctx, 0, ""))
}

// attack is a hostile variant of a valid access token and the failed check a server names (the
// error's data.reason).
type attack struct {
	token  string
	reason string
}

// attacks are hostile variants of a valid access token, each differing from it in one respect.
func attacks(t *testing.T, c *cluster.Cluster, tokens *Tokens) map[string]attack {
	claims := unverified(t, tokens.Access)
	parts := strings.Split(tokens.Access, ".")
	header, payload, signature := parts[0], parts[1], parts[2]
	server := c.Key
	foreign := cluster.NewSigningKey("foreign")
	flipped := "A" + signature[1:]
	if signature[0] == 'A' {
		flipped = "B" + signature[1:]
	}
	// Key confusion: the public key's bytes as an HMAC secret, for a verifier that takes any alg.
	confused := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	confused.Header["kid"] = server.Kid
	hs256, err := confused.SignedString(server.Public())
	if err != nil {
		t.Fatal(err)
	}
	expired := jwt.MapClaims{"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix()}
	return map[string]attack{
		"wrong key":                     {sign(t, foreign, server.Kid, claims), "bad_signature"},
		"unknown key id":                {sign(t, foreign, foreign.Kid, claims), "unknown_key"},
		"expired":                       {sign(t, server, server.Kid, with(claims, expired)), "expired"},
		"tampered payload":              {header + "." + b64JSON(t, with(claims, jwt.MapClaims{"sub": fmt.Sprint(claims["sub"]) + "x"})) + "." + signature, "bad_signature"},
		"tampered signature":            {header + "." + payload + "." + flipped, "bad_signature"},
		"alg none":                      {b64JSON(t, map[string]string{"alg": "none", "kid": server.Kid, "typ": "JWT"}) + "." + payload + ".", "algorithm"},
		"HS256 with the public key":     {hs256, "algorithm"},
		"wrong audience":                {sign(t, server, server.Kid, with(claims, jwt.MapClaims{"aud": "someone-else"})), "wrong_audience"},
		"wrong issuer":                  {sign(t, server, server.Kid, with(claims, jwt.MapClaims{"iss": "evil"})), "wrong_issuer"},
		"refresh token as access token": {tokens.Refresh, "wrong_use"},
		"re-signed as refresh":          {sign(t, server, server.Kid, with(claims, jwt.MapClaims{"use": "refresh"})), "wrong_use"},
	}
}

func TestTokenAttacksAreUnauthenticated(t *testing.T) {
	c := passwordCluster(t)
	ctx := context.Background()
	client := registered(t, c, unique("dora"))
	channel := unique("alvo")
	must(client.CreateChannel(ctx, channel))
	tokens := client.Tokens()
	publish := func(token, text string) error {
		var reply protocol.ChatPublishReply
		return client.Requests().Call(ctx, Service, "chat.publish.request", protocol.ChatPublishRequest{Channel: channel, Text: text}, &reply, mdp.WithAuth(token))
	}
	// The forging is sound: the same claims re-signed with the cluster's key are accepted.
	if err := publish(sign(t, c.Key, c.Key.Kid, unverified(t, tokens.Access)), "re-signed"); err != nil {
		t.Fatalf("a re-signed valid token: %v", err)
	}
	for name, forged := range attacks(t, c, tokens) {
		t.Run(name, func(t *testing.T) {
			failure := codec.AsError(publish(forged.token, name))
			if failure.Code != codec.CodeUnauthenticated || failure.Retryable || failure.Data["reason"] != forged.reason {
				t.Fatalf("%v (data %v); want UNAUTHENTICATED, not retryable, reason %s", failure, failure.Data, forged.reason)
			}
		})
	}
	history := must(client.History(ctx, channel, 50, ""))
	if len(history.Messages) != 1 || history.Messages[0].Text != "re-signed" {
		t.Fatalf("a forged token published: %+v", history.Messages)
	}
}

func TestBodyUserOtherThanTheTokenSubjectIsForbidden(t *testing.T) {
	c := passwordCluster(t)
	ctx := context.Background()
	client := registered(t, c, unique("eva"))
	channel := unique("sala")
	must(client.CreateChannel(ctx, channel))
	token := mdp.WithAuth(client.Tokens().Access)
	var reply protocol.ChatPublishReply
	impostor := "someone-else"
	err := client.Requests().Call(ctx, Service, "chat.publish.request", protocol.ChatPublishRequest{User: &impostor, Channel: channel, Text: "not me"}, &reply, token)
	if code := codeOf(t, err); code != codec.CodeForbidden {
		t.Fatalf("another body user: %s", code)
	}
	me := client.User()
	if err := client.Requests().Call(ctx, Service, "chat.publish.request", protocol.ChatPublishRequest{User: &me, Channel: channel, Text: "me"}, &reply, token); err != nil {
		t.Fatalf("the token's own user in the body: %v", err)
	}
}
