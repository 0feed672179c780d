// Package cluster starts a real Correio cluster for the Go peer's tests: the TypeScript broker,
// proxy, reference server and chat servers, run by tools/interop/src/serveTopology.ts, with a
// key-set file written here so that tests can sign tokens with the cluster's own key (and others).
package cluster

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// The servers' defaults (--auth-issuer, --auth-audience).
const (
	Issuer   = "correio"
	Audience = "correio"
)

// startup bounds the start: tsx compiles every app, on two shared cores.
const startup = 240 * time.Second

// SigningKey is an Ed25519 key with its key id, as in a key-set file.
type SigningKey struct {
	Kid     string
	Private ed25519.PrivateKey
}

// NewSigningKey generates a key whose id starts with prefix.
func NewSigningKey(prefix string) SigningKey {
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	return SigningKey{Kid: prefix + "-" + hex.EncodeToString(suffix[:]), Private: private}
}

// Public is the raw 32-byte public key.
func (k SigningKey) Public() []byte { return k.Private.Public().(ed25519.PublicKey) }

// record is the key as an entry of a key-set file: { kid, created_at, jwk } (an Ed25519 private JWK).
func (k SigningKey) record() map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	return map[string]any{
		"kid": k.Kid, "created_at": time.Now().UnixMilli(),
		"jwk": map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(k.Public()), "d": b64(k.Private.Seed())},
	}
}

// Cluster is a running topology.
type Cluster struct {
	Broker string
	// Proxy is the proxy's XPUB endpoint (subscribers connect there); ProxyPub its XSUB (publishers).
	Proxy    string
	ProxyPub string
	Servers  []string
	// Key is the key the servers sign and verify tokens with.
	Key     SigningKey
	command *exec.Cmd
	input   io.WriteCloser
}

type readyLine struct {
	Broker string `json:"broker"`
	Proxy  struct {
		Publishers  string `json:"publishers"`
		Subscribers string `json:"subscribers"`
	} `json:"proxy"`
	Servers []string `json:"servers"`
}

// Start runs a topology of servers chat servers in auth mode ("password" or "open") with a fresh
// key set under dataDir, and returns once it is ready. Stop it with Stop.
func Start(dataDir string, servers int, auth string) (*Cluster, error) {
	return start(dataDir, servers, auth, false)
}

// StartBrokerAndProxy runs just a broker and a proxy (no servers), for the microservice tests.
func StartBrokerAndProxy(dataDir string) (*Cluster, error) {
	return start(dataDir, 0, "open", true)
}

func start(dataDir string, servers int, auth string, proxy bool) (*Cluster, error) {
	key := NewSigningKey("go-test")
	keys := filepath.Join(dataDir, "auth-keys.json")
	set, _ := json.Marshal(map[string]any{"keys": []any{key.record()}})
	if err := os.WriteFile(keys, set, 0o600); err != nil {
		return nil, err
	}
	_, here, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(here), "..", "..", "..", "..")
	command := exec.Command("node", "--import", "tsx", "--conditions=@correio/source", filepath.Join(repo, "tools", "interop", "src", "serveTopology.ts"),
		"--data-dir", dataDir, "--servers", fmt.Sprint(servers), "--auth", auth, "--auth-keys", keys)
	if proxy {
		command.Args = append(command.Args, "--proxy")
	}
	command.Dir = repo
	command.Stderr = os.Stderr
	input, err := command.StdinPipe()
	if err != nil {
		return nil, err
	}
	output, err := command.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := command.Start(); err != nil {
		return nil, fmt.Errorf("starting the topology: %w", err)
	}
	c := &Cluster{Key: key, command: command, input: input}
	lines := make(chan readyLine, 1)
	failed := make(chan error, 1)
	go func() {
		reader := bufio.NewReader(output)
		text, err := reader.ReadBytes('\n')
		var line readyLine
		if err == nil {
			err = json.Unmarshal(text, &line)
		}
		if err != nil {
			failed <- fmt.Errorf("the topology printed no ready line (%v; its stderr is above)", err)
			return
		}
		lines <- line
		_, _ = io.Copy(io.Discard, reader)
	}()
	select {
	case line := <-lines:
		c.Broker, c.Proxy, c.ProxyPub, c.Servers = line.Broker, line.Proxy.Subscribers, line.Proxy.Publishers, line.Servers
		return c, nil
	case err = <-failed:
	case <-time.After(startup):
		err = fmt.Errorf("the topology printed no ready line within %s", startup)
	}
	c.Stop()
	return nil, err
}

// Stop ends the topology's input: it stops every app it started and exits (killed if it takes too
// long, which would leave its apps behind).
func (c *Cluster) Stop() {
	_ = c.input.Close()
	done := make(chan struct{})
	go func() {
		_ = c.command.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = c.command.Process.Kill()
		<-done
	}
}
