package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
)

// TestRS256IDTokens: a client registered with id_token_signed_response_alg
// RS256 gets RS256 ID tokens that go-oidc verifies with its default
// settings (RS256 only) against the published discovery document and
// JWKS, while its access tokens stay ES256 (OIDC Core §15.1; the access
// token algorithm is not weakened). A client without the setting still
// gets ES256 ID tokens.
func TestRS256IDTokens(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.Client("web-portal").IDTokenSignedResponseAlg = "RS256"
	})
	ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
	provider, err := oidc.NewProvider(ctx, e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		JWKSURI string   `json:"jwks_uri"`
		IDAlgs  []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(meta.IDAlgs, []string{"ES256", "RS256"}) {
		t.Errorf("id_token_signing_alg_values_supported = %v, want [ES256 RS256]", meta.IDAlgs)
	}
	// oidc.Config without SupportedSigningAlgs and a key set of our own:
	// go-oidc then accepts RS256 alone, as a relying party that never
	// heard of ES256 would.
	rsOnly := func(clientID string) *oidc.IDTokenVerifier {
		return oidc.NewVerifier(e.srv.URL, oidc.NewRemoteKeySet(ctx, meta.JWKSURI), &oidc.Config{ClientID: clientID})
	}

	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "email", "offline_access")
	b := newBrowser(t)
	verifier, _ := pkce()
	code := signIn(t, e, b, cfg, "st-rs", "n-rs", verifier, true)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := rsOnly("web-portal").Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("go-oidc (RS256 only) rejects the ID token: %v", err)
	}
	if idt.Nonce != "n-rs" || idt.Subject != "alice" {
		t.Errorf("nonce %q sub %q", idt.Nonce, idt.Subject)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: "web-portal"}).Verify(ctx, rawID); err != nil {
		t.Errorf("go-oidc with the discovered algorithms rejects the ID token: %v", err)
	}
	_, h := claimsFromJWKS(t, e, rawID)
	if h.Algorithm != "RS256" || h.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("ID token header alg %s typ %v, want RS256 JWT", h.Algorithm, h.ExtraHeaders["typ"])
	}
	if s, ok := e.ring.SignerFor("RS256"); !ok || h.KeyID != s.KID {
		t.Errorf("ID token kid %s, want the active RS256 key", h.KeyID)
	}

	// The access token is untouched: ES256, the primary key.
	_, ah := claimsFromJWKS(t, e, tok.AccessToken)
	if ah.Algorithm != "ES256" || ah.KeyID != e.ring.Signer().KID || ah.ExtraHeaders["typ"] != "at+jwt" {
		t.Errorf("access token header alg %s kid %s typ %v, want ES256, the primary key, at+jwt", ah.Algorithm, ah.KeyID, ah.ExtraHeaders["typ"])
	}
	if m := introspect(t, e, "order-status-api", "order-status-api-secret", tok.AccessToken); m["active"] != true {
		t.Errorf("introspection of the access token: %v", m)
	}
	// An RS256 ID token is no access token.
	if m := introspect(t, e, "order-status-api", "order-status-api-secret", rawID); m["active"] != false {
		t.Errorf("introspection accepted an ID token: %v", m)
	}

	// A refresh issues the ID token with the client's algorithm too.
	r := refresh(t, e, "web-portal", "web-portal-secret-123", tok.RefreshToken, nil)
	rawID2, _ := r["id_token"].(string)
	if _, err := rsOnly("web-portal").Verify(ctx, rawID2); err != nil {
		t.Errorf("go-oidc (RS256 only) rejects the refreshed ID token: %v (response %v)", err, r)
	}
	if _, rh := claimsFromJWKS(t, e, r["access_token"].(string)); rh.Algorithm != "ES256" {
		t.Errorf("refreshed access token alg %s, want ES256", rh.Algorithm)
	}

	// The server recognises its own RS256 ID token as id_token_hint.
	p := b.get(e.srv.URL + "/logout?" + url.Values{"id_token_hint": {rawID},
		"post_logout_redirect_uri": {"http://127.0.0.1:3000/bye"}, "state": {"s-rs"}}.Encode())
	if p.status != http.StatusFound || p.location.String() != "http://127.0.0.1:3000/bye?state=s-rs" {
		t.Errorf("logout with an RS256 id_token_hint: %d %v", p.status, p.location)
	}

	// A client without id_token_signed_response_alg: ES256 ID tokens, as
	// before, which an RS256-only relying party refuses.
	def := oauthConfig(e, "customer-portal", "customer-portal-secret", "http://127.0.0.1:3000/callback", "openid")
	verifier, _ = pkce()
	code = signIn(t, e, newBrowser(t), def, "st-es", "n-es", verifier, true)
	dtok, err := def.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	rawDef, _ := dtok.Extra("id_token").(string)
	if _, dh := claimsFromJWKS(t, e, rawDef); dh.Algorithm != "ES256" || dh.KeyID != e.ring.Signer().KID {
		t.Errorf("default client's ID token alg %s kid %s, want ES256 and the primary key", dh.Algorithm, dh.KeyID)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: "customer-portal"}).Verify(ctx, rawDef); err != nil {
		t.Errorf("go-oidc with the discovered algorithms rejects the default ID token: %v", err)
	}
	if _, err := rsOnly("customer-portal").Verify(ctx, rawDef); err == nil {
		t.Error("an RS256-only verifier accepted an ES256 ID token")
	}
}

// TestDiscoveryIDTokenAlgsWithRS256Primary: with signing_alg RS256 the
// list is RS256 alone, not twice.
func TestDiscoveryIDTokenAlgsWithRS256Primary(t *testing.T) {
	e := start(t, func(c *config.Config) { c.SigningAlg = "RS256" })
	resp, err := http.Get(e.srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		IDAlgs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.IDAlgs, []string{"RS256"}) {
		t.Errorf("id_token_signing_alg_values_supported = %v, want [RS256]", m.IDAlgs)
	}
}
