package main

import (
	"bytes"
	"errors"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTokenExplain(t *testing.T) {
	cfg := testConfig(t, filepath.Join(t.TempDir(), "gh.db"))
	var logs bytes.Buffer
	base, stop := runServer(t, cfg, func(string) (string, bool) { return "", false }, &logs)
	defer stop()
	// The test config's issuer is not the bound address; explain trusts the
	// issuer the token names, so point discovery at the real listener.
	tok := fetchToken(t, base)

	run := func(args []string, stdin string) (string, error) {
		var out bytes.Buffer
		root := newRoot(&out, &out, func(string) (string, bool) { return "", false })
		root.SetIn(strings.NewReader(stdin))
		root.SetArgs(args)
		err := root.Execute()
		return out.String(), err
	}
	common := []string{"token", "explain", "--issuer", "http://127.0.0.1:8080", "--jwks-url", base + "/jwks.json"}

	out, err := run(append(common, "--audience", "order-status-api", tok), "")
	if err != nil {
		t.Fatalf("accepted token: %v\n%s", err, out)
	}
	if !strings.Contains(out, "ACCEPTED") || !strings.Contains(out, "PASS  aud") {
		t.Errorf("output:\n%s", out)
	}

	// From stdin, with a pasted "Bearer " prefix, for the wrong API.
	out, err = run(append(common, "--audience", "hr-api", "-"), "Bearer "+tok+"\n")
	var ex exitError
	if !errors.As(err, &ex) || ex != 1 {
		t.Fatalf("want exit 1, got %v\n%s", err, out)
	}
	for _, want := range []string{
		"FAIL  aud",
		"The audience 'order-sync-job order-status-api' is invalid",
		"this token was issued to order-sync-job, whose audience does not include hr-api",
		`REJECTED at check "aud"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// A required scope the token lacks.
	out, err = run(append(common, "--audience", "order-status-api", "--scope", "orders:delete", tok), "")
	if !errors.As(err, &ex) || ex != 1 || !strings.Contains(out, "FAIL  scope") {
		t.Errorf("missing scope: %v\n%s", err, out)
	}

	if _, err := run(append(common, "--audience", "order-status-api"), ""); err == nil || errors.As(err, &ex) {
		t.Errorf("empty stdin: want a usage error, got %v", err)
	}
}

// TestTokenExplainShowsDelegation: a token from a token exchange shows
// its delegation path, subject first.
func TestTokenExplainShowsDelegation(t *testing.T) {
	key := testkit.ES256Key("k1")
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(testkit.JWKS(key)) }))
	defer jwks.Close()
	now := time.Now()
	claims := testkit.AccessClaims("https://id.example.com", "order-status-api", now, "orders:read", "inventory-api").
		With("sub", "alice").With("act", map[string]any{"sub": "order-status-api", "act": map[string]any{"sub": "customer-portal"}})
	var out bytes.Buffer
	root := newRoot(&out, &out, func(string) (string, bool) { return "", false })
	root.SetArgs([]string{"token", "explain", "--issuer", "https://id.example.com", "--jwks-url", jwks.URL, "--audience", "inventory-api", key.Sign(claims)})
	if err := root.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "delegated: alice → customer-portal → order-status-api") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestTokenExplainShowsBinding: a DPoP-bound token (cnf.jkt) says which key
// it is bound to and how it must be sent.
func TestTokenExplainShowsBinding(t *testing.T) {
	key := testkit.ES256Key("k1")
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(testkit.JWKS(key)) }))
	defer jwks.Close()
	claims := testkit.AccessClaims("https://id.example.com", "order-status-api", time.Now(), "orders:read", "order-status-api").
		With("cnf", map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})
	var out bytes.Buffer
	root := newRoot(&out, &out, func(string) (string, bool) { return "", false })
	root.SetArgs([]string{"token", "explain", "--issuer", "https://id.example.com", "--jwks-url", jwks.URL, "--audience", "order-status-api", key.Sign(claims)})
	_ = root.Execute() // whether verify accepts a bound token outside DPoP is verify's business
	if !strings.Contains(out.String(), "bound:     to the DPoP key with thumbprint 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I") {
		t.Errorf("output:\n%s", out.String())
	}
}
