package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/config"
)

func testConfig(t *testing.T, dbPath string) *config.Config {
	t.Helper()
	yaml := `
issuer: http://127.0.0.1:8080
listen: 127.0.0.1:0
storage: sqlite:` + dbPath + `
clients:
  - id: order-status-api
    secret: order-status-api-secret
    grant_types: [client_credentials]
  - id: order-sync-job
    secret: sync-job-secret-change-me
    grant_types: [client_credentials]
    audience: [order-status-api]
`
	cfg, err := config.Parse([]byte(yaml), "test.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runServer starts serve() and returns its base URL and a stop function
// that waits for a clean shutdown.
func runServer(t *testing.T, cfg *config.Config, getenv env, logs io.Writer) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(logs, nil))
	go func() { done <- serve(ctx, cfg, getenv, logger, serveOptions{accessLog: true}, ready) }()
	select {
	case addr := <-ready:
		return "http://" + addr, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	case err := <-done:
		cancel()
		t.Fatalf("serve exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	return "", nil
}

func fetchToken(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("order-sync-job", "sync-job-secret-change-me")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token response %d: %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

func verifyWithJWKS(t *testing.T, base, tok string) {
	t.Helper()
	resp, err := http.Get(base + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Protected.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s not published", jws.Signatures[0].Protected.KeyID)
	}
	if _, err := jws.Verify(keys[0].Key); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

// TestRestartKeepsKeys: a token from before a restart verifies against the
// JWKS served after it, from the same SQLite file, with the same secret.
func TestRestartKeepsKeys(t *testing.T) {
	cfg := testConfig(t, filepath.Join(t.TempDir(), "gh.db"))
	getenv := func(k string) (string, bool) {
		if k == "GATEHOUSE_SECRET" {
			return "a-test-secret-of-at-least-32-characters", true
		}
		return "", false
	}
	var logs bytes.Buffer
	base, stop := runServer(t, cfg, getenv, &logs)
	tok := fetchToken(t, base)
	stop()

	base, stop = runServer(t, cfg, getenv, &logs)
	defer stop()
	verifyWithJWKS(t, base, tok)
	verifyWithJWKS(t, base, fetchToken(t, base))
	if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), "sync-job-secret-change-me") {
		t.Fatal("a token or secret reached the log")
	}
	if strings.Contains(logs.String(), "development mode") {
		t.Error("development-mode warning despite GATEHOUSE_SECRET")
	}
}

func TestDevelopmentModeWarns(t *testing.T) {
	cfg := testConfig(t, filepath.Join(t.TempDir(), "gh.db"))
	var logs bytes.Buffer
	_, stop := runServer(t, cfg, func(string) (string, bool) { return "", false }, &logs)
	stop()
	if !strings.Contains(strings.ToLower(logs.String()), "development mode") {
		t.Fatalf("no development-mode warning in:\n%s", logs.String())
	}
}

func TestAuditCommandReproducesBackgroundTable(t *testing.T) {
	var out bytes.Buffer
	root := newRoot(&out, &out, func(string) (string, bool) { return "", false })
	root.SetArgs([]string{"audit", "--config", "../../examples/shop.yaml", "--format", "json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Matrix []struct {
			Client   string   `json:"client"`
			Audience []string `json:"audience"`
		} `json:"matrix"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rep.Matrix {
		got[r.Client] = strings.Join(r.Audience, " ")
	}
	for client, want := range map[string]string{
		"customer-portal":   "customer-portal order-status-api",
		"backoffice-portal": "backoffice-portal order-status-api hr-api",
	} {
		if got[client] != want {
			t.Errorf("%s: %q, want %q", client, got[client], want)
		}
	}
}

func TestConfigErrorsExitCleanly(t *testing.T) {
	var out bytes.Buffer
	root := newRoot(&out, &out, func(string) (string, bool) { return "", false })
	root.SetArgs([]string{"serve", "--config", filepath.Join(t.TempDir(), "missing.yaml")})
	if err := root.Execute(); err == nil {
		t.Fatal("serve started without a configuration file")
	}
}
