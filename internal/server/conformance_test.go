package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
)

// The OpenID Foundation's OP conformance modules (issue 9, item 12), one
// test per module, asserting what the module asserts.

func discovery(t *testing.T, e *env) map[string]any {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestConformanceConfigOP is the Config OP profile (oidcc-discovery-*):
// the required metadata, RS256 among the ID token algorithms (OIDC Core
// §15.1), acr values and the claims parameter advertised, and every claim
// Gatehouse releases listed in claims_supported.
func TestConformanceConfigOP(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Client("web-portal").IDTokenScopeClaims = true })
	m := discovery(t, e)
	for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
		"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
		"scopes_supported", "claims_supported", "acr_values_supported", "end_session_endpoint"} {
		if m[k] == nil {
			t.Errorf("discovery lacks %s", k)
		}
	}
	if m["issuer"] != e.srv.URL {
		t.Errorf("issuer %v", m["issuer"])
	}
	if algs := strs(m["id_token_signing_alg_values_supported"]); !slices.Contains(algs, "RS256") {
		t.Errorf("id_token_signing_alg_values_supported %v lacks RS256", algs)
	}
	if m["claims_parameter_supported"] != true {
		t.Errorf("claims_parameter_supported %v", m["claims_parameter_supported"])
	}
	// Every claim of a real ID token and UserInfo answer is advertised.
	supported := strs(m["claims_supported"])
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "profile", "email")
	verifier, _ := pkce()
	tok, idc := redeem(t, e, cfg, signIn(t, e, newBrowser(t), cfg, "s", "n", verifier, true), verifier)
	for name := range idc {
		if !slices.Contains(supported, name) {
			t.Errorf("the ID token carries %q, not in claims_supported", name)
		}
	}
	for name := range userinfo(t, e, "GET", tok.AccessToken, false) {
		if !slices.Contains(supported, name) {
			t.Errorf("UserInfo releases %q, not in claims_supported", name)
		}
	}
}

// userinfo calls UserInfo with the token in the header, or in a POST body.
func userinfo(t *testing.T, e *env, method, tok string, inBody bool) map[string]any {
	t.Helper()
	resp := userinfoResp(t, e, method, tok, inBody, !inBody)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("userinfo %s body=%v: %d %s", method, inBody, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return m
}

func userinfoResp(t *testing.T, e *env, method, tok string, inBody, inHeader bool) *http.Response {
	t.Helper()
	var body *strings.Reader
	if inBody {
		body = strings.NewReader(url.Values{"access_token": {tok}}.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, e.srv.URL+"/userinfo", body)
	if inBody {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if inHeader {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestConformanceBasicOP covers the Basic OP modules the review found
// wanting: scope claims from UserInfo, not in the ID token, also on
// refresh (oidcc-scope-*, OIDC Core §5.4); the claims parameter with
// essential (oidcc-claims-essential, §5.5); acr (§2, §3.1.2.1); the
// access token in a UserInfo POST body (oidcc-userinfo-post-body, RFC 6750
// §2.2).
func TestConformanceBasicOP(t *testing.T) {
	e := start(t)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "email", "profile", "offline_access")
	verifier, _ := pkce()
	b := newBrowser(t)
	tok, idc := redeem(t, e, cfg, signIn(t, e, b, cfg, "s", "n", verifier, true), verifier)
	if idc["email"] != nil || idc["name"] != nil {
		t.Errorf("scope claims copied into the ID token: %v", idc)
	}
	if idc["acr"] != "urn:gatehouse:acr:password" || idc["amr"] == nil {
		t.Errorf("acr %v amr %v", idc["acr"], idc["amr"])
	}
	if ui := userinfo(t, e, "GET", tok.AccessToken, false); ui["email"] != "alice@example.com" || ui["name"] != "Alice Example" {
		t.Errorf("userinfo %v", ui)
	}
	r := refresh(t, e, "web-portal", "web-portal-secret-123", tok.RefreshToken, nil)
	if c, _ := claimsFromJWKS(t, e, r["id_token"].(string)); c["email"] != nil || c["acr"] == nil {
		t.Errorf("refreshed ID token: %v", c)
	}

	t.Run("claims parameter", func(t *testing.T) {
		p := b.get(authURL(cfg, "s", verifier, "nonce", "n",
			"claims", `{"id_token":{"email":{"essential":true},"phone_number":null},"userinfo":{"name":null}}`))
		_, idc := redeem(t, e, cfg, p.location.Query().Get("code"), verifier)
		if idc["email"] != "alice@example.com" || idc["name"] != nil || idc["phone_number"] != nil {
			t.Errorf("ID token with claims={id_token:{email}}: %v", idc)
		}
		for _, bad := range []string{`[1]`, `{"id_token":{"email":1}}`, `{`} {
			if p := b.get(authURL(cfg, "s", verifier, "claims", bad)); p.location == nil || p.location.Query().Get("error") != "invalid_request" {
				t.Errorf("claims=%s: %v", bad, p.location)
			}
		}
	})
	t.Run("acr", func(t *testing.T) {
		p := b.get(authURL(cfg, "s", verifier, "acr_values", "urn:other urn:gatehouse:acr:password"))
		if _, idc := redeem(t, e, cfg, p.location.Query().Get("code"), verifier); idc["acr"] != "urn:gatehouse:acr:password" {
			t.Errorf("acr %v", idc["acr"])
		}
		p = b.get(authURL(cfg, "s", verifier, "claims", `{"id_token":{"acr":{"essential":true,"values":["urn:mfa"]}}}`))
		if p.location == nil || p.location.Query().Get("error") != "unmet_authentication_requirement" {
			t.Errorf("an essential acr that cannot be met: %v", p.location)
		}
	})
	t.Run("userinfo POST body", func(t *testing.T) {
		if ui := userinfo(t, e, "POST", tok.AccessToken, true); ui["sub"] != "alice" {
			t.Errorf("userinfo %v", ui)
		}
		resp := userinfoResp(t, e, "POST", tok.AccessToken, true, true)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_request") {
			t.Errorf("token in header and body: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("id_token_scope_claims", func(t *testing.T) {
		e := start(t, func(c *config.Config) { c.Client("web-portal").IDTokenScopeClaims = true })
		cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "email")
		tok, err := cfg.Exchange(context.Background(), signIn(t, e, newBrowser(t), cfg, "s", "n", verifier, true), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		c, _ := claimsFromJWKS(t, e, tok.Extra("id_token").(string))
		if c["email"] != "alice@example.com" {
			t.Errorf("with id_token_scope_claims the ID token has %v", c)
		}
	})
}

// TestOwnTokensFollowRotation (issue 10 item 3): the issuer checks its own
// tokens with package verify over the ring's current JWKS, so after a
// rotation tokens of the new key introspect as active at once, tokens of
// the old one still do, and an ID token is never taken for an access token.
func TestOwnTokensFollowRotation(t *testing.T) {
	e := start(t)
	cc := func() string {
		m := tokenRequest(t, e, basic("order-sync-job", "sync-job-secret-change-me"), url.Values{"grant_type": {"client_credentials"}})
		return m["access_token"].(string)
	}
	before := cc()
	if err := e.ring.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := cc()
	for name, tok := range map[string]string{"before": before, "after": after} {
		if m := introspect(t, e, "order-sync-job", "sync-job-secret-change-me", tok); m["active"] != true {
			t.Errorf("token minted %s the rotation: %v", name, m)
		}
	}
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid")
	verifier, _ := pkce()
	tok, _ := redeem(t, e, cfg, signIn(t, e, newBrowser(t), cfg, "s", "n", verifier, true), verifier)
	if m := introspect(t, e, "web-portal", "web-portal-secret-123", tok.Extra("id_token").(string)); m["active"] != false {
		t.Errorf("an ID token introspected as %v", m)
	}
	resp := userinfoResp(t, e, "GET", tok.Extra("id_token").(string), false, true)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an ID token at userinfo: %d", resp.StatusCode)
	}
}
