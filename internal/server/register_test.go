package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
)

func withRegistration(c *config.Config) {
	c.DynamicRegistration = &config.DynamicRegistration{Audience: []string{"order-status-api"}, Scopes: []string{"openid", "orders:read"}, ExpireAfter: time.Hour}
}

func register(t *testing.T, e *env, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(e.srv.URL+"/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestDynamicRegistration (issue 13): off by default; when on, a client
// registers (RFC 7591), signs a person in as a public client with PKCE and
// gets no more than the registration policy allows; bad metadata gets the
// RFC 7591 errors; an unused client expires.
func TestDynamicRegistration(t *testing.T) {
	if status, _ := register(t, start(t), `{"redirect_uris":["https://app.example/cb"]}`); status != http.StatusNotFound {
		t.Errorf("registration is on by default: %d", status)
	}
	e := start(t, withRegistration)
	const redirect = "http://127.0.0.1:33420/callback"
	status, reg := register(t, e, `{"client_name":"Agent","redirect_uris":["`+redirect+`"],"grant_types":["authorization_code"]}`)
	id, _ := reg["client_id"].(string)
	if status != http.StatusCreated || !strings.HasPrefix(id, "dcr-") || reg["token_endpoint_auth_method"] != "none" {
		t.Fatalf("register: %d %v", status, reg)
	}
	for _, tc := range []struct{ body, code string }{
		{`{"redirect_uris":["https://app.example/cb#x"]}`, "invalid_redirect_uri"},
		{`{"redirect_uris":["http://app.example/cb"]}`, "invalid_redirect_uri"},
		{`{}`, "invalid_redirect_uri"},
		{`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`, "invalid_client_metadata"},
		{`{"redirect_uris":["https://app.example/cb"],"grant_types":["client_credentials"]}`, "invalid_client_metadata"},
		{`{"client_id":"mine","redirect_uris":["https://app.example/cb"]}`, "invalid_client_metadata"},
		{`not json`, "invalid_client_metadata"},
	} {
		if status, out := register(t, e, tc.body); status != http.StatusBadRequest || out["error"] != tc.code {
			t.Errorf("%s: %d %v, want %s", tc.body, status, out, tc.code)
		}
	}
	// The registered client signs a person in.
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"client_id": {id}, "redirect_uri": {redirect}, "response_type": {"code"}, "state": {"s"}, "scope": {"openid orders:read"},
		"resource": {"order-status-api"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	b := newBrowser(t)
	p := b.login(e, b.get(e.srv.URL+"/authorize?"+q.Encode()), "alice", "alice-password-1")
	p = b.consent(e, p, "allow")
	if p.location == nil || p.location.Query().Get("code") == "" {
		t.Fatalf("no code: %d %v", p.status, p.location)
	}
	tok := tokenRequest(t, e, "", url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {p.location.Query().Get("code")},
		"redirect_uri": {redirect}, "code_verifier": {verifier}})
	if got := audOf(t, e, tok["access_token"].(string)); got != `"order-status-api"` {
		t.Errorf("aud %s (%v)", got, tok)
	}
	q.Set("resource", "hr-api")
	if p := b.get(e.srv.URL + "/authorize?" + q.Encode()); p.location == nil || p.location.Query().Get("error") != "invalid_target" {
		t.Errorf("beyond the policy: %v", p.location)
	}
	// Unused past expire_after: gone.
	if _, err := e.store.DeleteExpired(t.Context(), time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	q.Set("resource", "order-status-api")
	if p := b.get(e.srv.URL + "/authorize?" + q.Encode()); p.location != nil || !strings.Contains(p.body, "unknown client") {
		t.Errorf("expired client: %d %v %.200s", p.status, p.location, p.body)
	}
}
