package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testkit"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/server"
)

type lockedBuffer = testkit.SyncBuffer

// startAudited is start with the audit trail written to out.
func startAudited(t *testing.T, out *lockedBuffer) *env {
	t.Helper()
	return startWith(t, func(o *server.Options) { o.Events = events.NewWriter(out) })
}

// TestAuditTrail runs every event the HTTP side and the grant engine
// emit over real HTTP, then checks that each appears exactly once with
// its fields, that the sign-in counter agrees, and that no password,
// secret, code or token the test used is anywhere in the stream.
func TestAuditTrail(t *testing.T) {
	var out lockedBuffer
	e := startAudited(t, &out)
	ctx := context.Background()
	const (
		alicePassword = "alice-password-1"
		wrongPassword = "not-alices-password-9"
		portalSecret  = "web-portal-secret-123"
		wrongSecret   = "wrong-portal-secret-42"
		guessedSecret = "guessed-secret-value-777"
		hostileID     = "no-such-client\"\n{\"event\":\"forged\"}"
	)
	secrets := []string{alicePassword, wrongPassword, portalSecret, wrongSecret, guessedSecret}

	// Sign-in failure, then a lockout: bob (no such user) five times
	// wrong, the sixth attempt is refused before any password check.
	if p := tryLogin(newBrowser(t), e, "alice", wrongPassword); p.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", p.status)
	}
	bob := newBrowser(t)
	for i := range 5 {
		guess := "bob-guess-" + strings.Repeat("x", i+8)
		secrets = append(secrets, guess)
		if p := tryLogin(bob, e, "bob", guess); p.status != http.StatusUnauthorized {
			t.Fatalf("bob try %d: %d", i, p.status)
		}
	}
	secrets = append(secrets, "bob-correct-horse")
	if p := tryLogin(bob, e, "bob", "bob-correct-horse"); p.status != http.StatusTooManyRequests {
		t.Fatalf("bob locked: %d", p.status)
	}

	// Success, consent, code redemption.
	b := newBrowser(t)
	cfg := oauthConfig(e, "web-portal", portalSecret, "http://127.0.0.1:3000/callback", "openid", "offline_access", "orders:read")
	code := signIn(t, e, b, cfg, "s", "n", "", true)
	tok, err := cfg.Exchange(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	secrets = append(secrets, code, tok.AccessToken, tok.RefreshToken, idToken)

	// A refresh, then the old refresh token again: reuse.
	r1 := refresh(t, e, "web-portal", portalSecret, tok.RefreshToken, nil)
	access2, _ := r1["access_token"].(string)
	refresh2, _ := r1["refresh_token"].(string)
	id2, _ := r1["id_token"].(string)
	if access2 == "" || refresh2 == "" {
		t.Fatalf("refresh: %v", r1)
	}
	secrets = append(secrets, access2, refresh2, id2)
	if r := refresh(t, e, "web-portal", portalSecret, tok.RefreshToken, nil); r["error"] != "invalid_grant" {
		t.Fatalf("reuse: %v", r)
	}
	// The code again: replay.
	if _, err := cfg.Exchange(ctx, code); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("replay: %v", err)
	}
	// Revocation of an access token.
	if resp := postForm(t, e, "/revoke", basic("web-portal", portalSecret), url.Values{"token": {access2}, "token_type_hint": {"access_token"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	// Consent denied (strict-portal asks; the session is alice's).
	strict := oauthConfig(e, "strict-portal", "strict-portal-secret-1", "http://127.0.0.1:3000/strict", "openid")
	_, challenge := pkce()
	p := b.get(strict.AuthCodeURL("s3", oauth2.SetAuthURLParam("code_challenge", challenge), oauth2.SetAuthURLParam("code_challenge_method", "S256")))
	if p = b.consent(e, p, "deny"); p.location == nil || p.location.Query().Get("error") != "access_denied" {
		t.Fatalf("deny: %d %v", p.status, p.location)
	}
	// Failed client authentication: an unknown (hostile) id, a wrong secret.
	form := url.Values{"grant_type": {"client_credentials"}}
	if m := tokenRequest(t, e, basic(hostileID, guessedSecret), form); m["error"] != "invalid_client" {
		t.Fatalf("unknown client: %v", m)
	}
	if m := tokenRequest(t, e, basic("web-portal", wrongSecret), form); m["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %v", m)
	}

	stream := out.String()
	var got []map[string]any
	for line := range strings.Lines(stream) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not one JSON object per line: %q: %v", line, err)
		}
		if m["stream"] != "audit" || m["time"] == nil {
			t.Errorf("no audit marker or time: %v", m)
		}
		got = append(got, m)
	}
	want := []struct {
		n      int
		fields map[string]any
	}{
		{1, map[string]any{"event": "signin.failure", "username": "alice", "client_id": "web-portal", "source": "local", "address": "127.0.0.1"}},
		{5, map[string]any{"event": "signin.failure", "username": "bob", "client_id": "web-portal", "source": "local", "address": "127.0.0.1"}},
		{1, map[string]any{"event": "signin.locked", "username": "bob", "client_id": "web-portal", "source": "local"}},
		{1, map[string]any{"event": "signin.success", "username": "alice", "client_id": "web-portal", "source": "local", "address": "127.0.0.1"}},
		{1, map[string]any{"event": "consent.granted", "username": "alice", "client_id": "web-portal", "address": "127.0.0.1"}},
		{1, map[string]any{"event": "consent.denied", "username": "alice", "client_id": "strict-portal"}},
		{1, map[string]any{"event": "code.redeemed", "username": "alice", "client_id": "web-portal"}},
		{1, map[string]any{"event": "code.replayed", "username": "alice", "client_id": "web-portal"}},
		{1, map[string]any{"event": "refresh.reuse", "username": "alice", "client_id": "web-portal"}},
		{1, map[string]any{"event": "revocation", "client_id": "web-portal", "outcome": "access_revoked", "address": "127.0.0.1"}},
		{1, map[string]any{"event": "client_auth.failure", "client_id": hostileID, "reason": "unknown_client", "address": "127.0.0.1"}},
		{1, map[string]any{"event": "client_auth.failure", "client_id": "web-portal", "reason": "wrong_secret"}},
	}
	total := 0
	for _, w := range want {
		n := 0
		for _, m := range got {
			if matches(m, w.fields) {
				n++
			}
		}
		if n != w.n {
			t.Errorf("%d events with %v, want %d", n, w.fields, w.n)
		}
		total += w.n
	}
	if len(got) != total {
		t.Errorf("%d events, want %d:\n%s", len(got), total, stream)
	}
	for _, m := range got {
		if m["event"] == "consent.granted" && !slices.Equal(anyStrings(m["scopes"]), []string{"openid", "offline_access", "orders:read"}) {
			t.Errorf("consent scopes: %v", m["scopes"])
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(stream, s) {
			t.Errorf("the audit stream contains a secret, code or token used in the test: %.12s…", s)
		}
	}

	rec := httptest.NewRecorder()
	e.server.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range []string{`gatehouse_signins_total{outcome="failure"} 6`, `gatehouse_signins_total{outcome="locked"} 1`, `gatehouse_signins_total{outcome="success"} 1`} {
		if !strings.Contains(rec.Body.String(), line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

// matches reports whether m has every field of want.
func matches(m, want map[string]any) bool {
	for k, v := range want {
		if m[k] != v {
			return false
		}
	}
	return true
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
