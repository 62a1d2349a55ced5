package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// withBob adds a second user.
func withBob(c *config.Config) {
	c.Users = append(c.Users, config.User{Username: "bob", Password: "bob-password-12"})
}

// authURL is the web-portal authorization request with extra parameters.
func authURL(cfg *oauth2.Config, state, verifier string, extra ...string) string {
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for i := 0; i+1 < len(extra); i += 2 {
		opts = append(opts, oauth2.SetAuthURLParam(extra[i], extra[i+1]))
	}
	return cfg.AuthCodeURL(state, opts...)
}

// redeem exchanges code and returns the ID token's claims.
func redeem(t *testing.T, e *env, cfg *oauth2.Config, code, verifier string) (*oauth2.Token, map[string]any) {
	t.Helper()
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	c, _ := claimsFromJWKS(t, e, raw)
	return tok, c
}

// TestReauthenticationCannotBeSkipped (issue 9, item 1): with prompt=login
// or max_age=0 the login page is shown; posting the consent form's fields
// with that request_id must not issue a code on the old session, and the
// ID token of the real re-authentication carries the new auth_time.
func TestReauthenticationCannotBeSkipped(t *testing.T) {
	clock := testkit.NewClock(time.Now().Truncate(time.Second))
	e := startAt(t, clock.Now)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "orders:read")
	b := newBrowser(t)
	verifier, _ := pkce()
	_, first := redeem(t, e, cfg, signIn(t, e, b, cfg, "s0", "n0", verifier, true), verifier)
	clock.Advance(time.Hour)

	for _, extra := range [][]string{{"prompt", "login"}, {"max_age", "0"}, {"prompt", "login consent"}} {
		t.Run(strings.Join(extra, "="), func(t *testing.T) {
			p := b.get(authURL(cfg, "s1", verifier, extra...))
			if !strings.Contains(p.body, `name="password"`) {
				t.Fatalf("want the login page, got %d %v", p.status, p.location)
			}
			// Skip the login: answer "allow" with the login page's fields.
			form := hiddenFields(p.body)
			form.Set("decision", "allow")
			if q := b.post(e.srv.URL+"/authorize", form); q.location != nil || q.status == http.StatusOK {
				t.Fatalf("consent without re-authentication: %d, redirect %v", q.status, q.location)
			}
		})
	}

	// Doing it properly: the code's ID token has the new auth_time.
	p := b.get(authURL(cfg, "s2", verifier, "prompt", "login"))
	p = b.login(e, p, "alice", "alice-password-1")
	if p.location == nil || p.location.Query().Get("code") == "" {
		t.Fatalf("after re-authentication: %d %v", p.status, p.location)
	}
	_, second := redeem(t, e, cfg, p.location.Query().Get("code"), verifier)
	if got, want := second["auth_time"], float64(clock.Now().Unix()); got != want || first["auth_time"] == got {
		t.Errorf("auth_time %v after re-authentication, want %v (first sign-in %v)", got, want, first["auth_time"])
	}
}

// TestConsentTicketIsBoundToTheSession: a consent page answered after the
// person signed in again (another session) does not issue a code; the
// request starts over in the new session. The consent form's CSRF token is
// bound to the session: the bare double-submit cookie value is refused.
func TestConsentTicketIsBoundToTheSession(t *testing.T) {
	clock := testkit.NewClock(time.Now().Truncate(time.Second))
	e := startAt(t, clock.Now)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "orders:read")
	b := newBrowser(t)
	verifier, _ := pkce()
	signIn(t, e, b, cfg, "s0", "n0", verifier, true)

	consentPage := b.get(authURL(cfg, "s1", verifier, "prompt", "consent"))
	old := hiddenFields(consentPage.body)
	old.Set("decision", "allow")

	// The double-submit value alone no longer passes for a consent form.
	u, _ := url.Parse(e.srv.URL)
	forged := url.Values{}
	for k, v := range old {
		forged[k] = v
	}
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "gatehouse_csrf" {
			forged.Set("csrf_token", c.Value)
		}
	}
	if forged.Get("csrf_token") == old.Get("csrf_token") {
		t.Fatal("the consent form's CSRF token is the bare cookie value: not bound to the session")
	}
	if q := b.post(e.srv.URL+"/authorize", forged); q.status != http.StatusForbidden || q.location != nil {
		t.Fatalf("consent with the unbound CSRF value: %d %v", q.status, q.location)
	}

	// Sign in again (a new session), then answer the old page.
	clock.Advance(time.Minute)
	p := b.get(authURL(cfg, "s2", verifier, "prompt", "login"))
	if p = b.login(e, p, "alice", "alice-password-1"); p.location == nil {
		t.Fatalf("re-authentication: %d", p.status)
	}
	if q := b.post(e.srv.URL+"/authorize", old); q.location != nil || q.status != http.StatusForbidden {
		t.Fatalf("an old session's consent form: %d %v, want 403 (its CSRF token was the old session's)", q.status, q.location)
	}
	// Even with this session's CSRF token, the old session's ticket does
	// not issue a code: the request starts over, at a fresh consent page.
	fresh := hiddenFields(b.get(authURL(cfg, "s3", verifier, "prompt", "consent")).body)
	old.Set("csrf_token", fresh.Get("csrf_token"))
	q := b.post(e.srv.URL+"/authorize", old)
	if q.location != nil || !strings.Contains(q.body, `name="decision"`) {
		t.Fatalf("an old session's consent ticket: %d %v, want a fresh consent page", q.status, q.location)
	}
	// A tampered ticket is refused outright.
	old.Set("request_id", old.Get("request_id")+"x")
	if q := b.post(e.srv.URL+"/authorize", old); q.status != http.StatusBadRequest || q.location != nil {
		t.Fatalf("tampered ticket: %d %v", q.status, q.location)
	}
}

// TestIDTokenHintAtAuthorization (issue 9, item 7): prompt=none with an
// id_token_hint naming another user than the signed-in one answers
// login_required; the right user's hint gets a code; a forged hint is an
// invalid_request.
func TestIDTokenHintAtAuthorization(t *testing.T) {
	e := start(t, withBob)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "orders:read")
	verifier, _ := pkce()
	alice := newBrowser(t)
	aliceTok, _ := redeem(t, e, cfg, signIn(t, e, alice, cfg, "s", "n", verifier, true), verifier)
	aliceHint, _ := aliceTok.Extra("id_token").(string)

	bob := newBrowser(t)
	p := bob.get(authURL(cfg, "s", verifier))
	p = bob.login(e, p, "bob", "bob-password-12")
	p = bob.consent(e, p, "allow")
	bobTok, _ := redeem(t, e, cfg, p.location.Query().Get("code"), verifier)
	bobHint, _ := bobTok.Extra("id_token").(string)

	errorOf := func(p page) string {
		t.Helper()
		if p.location == nil {
			t.Fatalf("no redirect: %d %.300s", p.status, p.body)
		}
		return p.location.Query().Get("error")
	}
	if got := errorOf(bob.get(authURL(cfg, "s", verifier, "prompt", "none", "id_token_hint", aliceHint))); got != "login_required" {
		t.Errorf("bob signed in, hint names alice, prompt=none: error %q, want login_required", got)
	}
	if p := bob.get(authURL(cfg, "s", verifier, "prompt", "none", "id_token_hint", bobHint)); p.location == nil || p.location.Query().Get("code") == "" {
		t.Errorf("bob's own hint: %d %v, want a code", p.status, p.location)
	}
	forged := bobHint[:strings.LastIndexByte(bobHint, '.')+1] + "AAAA"
	if got := errorOf(bob.get(authURL(cfg, "s", verifier, "id_token_hint", forged))); got != "invalid_request" {
		t.Errorf("forged hint: error %q, want invalid_request", got)
	}
	// Without prompt=none the login page is shown, pre-filled with the
	// hinted user; signing in as someone else still gets no code.
	p = bob.get(authURL(cfg, "s", verifier, "id_token_hint", aliceHint))
	if !strings.Contains(p.body, `value="alice"`) {
		t.Fatalf("want the login page for alice, got %d %v", p.status, p.location)
	}
	if got := errorOf(bob.login(e, p, "bob", "bob-password-12")); got != "login_required" {
		t.Errorf("signed in as bob for alice's hint: error %q, want login_required", got)
	}
}

// TestCodeWithoutRedirectURI (issue 9, item 8): RFC 6749 §4.1.3 requires
// redirect_uri at the token endpoint only if the authorization request
// had it. A client with one registered URI may leave it out of both; if
// the authorization request named it, the token request must repeat it.
func TestCodeWithoutRedirectURI(t *testing.T) {
	e := start(t)
	b := newBrowser(t)
	verifier, _ := pkce()
	bare := oauthConfig(e, "web-portal", "web-portal-secret-123", "", "openid")
	code := signIn(t, e, b, bare, "s", "n", verifier, true)
	if _, err := bare.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("no redirect_uri in either request: %v", err)
	}

	code = signIn(t, e, b, bare, "s", "n", verifier, true)
	wrong := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/other", "openid")
	if _, err := wrong.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Errorf("another redirect_uri at the token endpoint: %v, want invalid_grant", err)
	}
	code = signIn(t, e, b, bare, "s", "n", verifier, true)
	registered := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid")
	if _, err := registered.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Errorf("the registered redirect_uri at the token endpoint only: %v", err)
	}

	// Named in the authorization request: required at the token endpoint.
	code = signIn(t, e, b, registered, "s", "n", verifier, true)
	if _, err := bare.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Errorf("redirect_uri left out at the token endpoint although the authorization request had it: %v", err)
	}
}

// TestConsentTicketHonoursMaxAge: a consent page of a max_age request
// cannot be answered after the sign-in has grown older than max_age (plus
// two minutes to read the page): the code would carry a stale auth_time.
func TestConsentTicketHonoursMaxAge(t *testing.T) {
	clock := testkit.NewClock(time.Now().Truncate(time.Second))
	e := startAt(t, clock.Now)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "orders:read")
	b := newBrowser(t)
	verifier, _ := pkce()
	p := b.get(authURL(cfg, "s", verifier, "max_age", "60"))
	p = b.login(e, p, "alice", "alice-password-1")
	form := hiddenFields(p.body)
	form.Set("decision", "allow")
	clock.Advance(5 * time.Minute)
	if q := b.post(e.srv.URL+"/authorize", form); q.location != nil {
		t.Fatalf("consent answered after max_age: redirect %v", q.location)
	}
	// Within max_age it works.
	p = b.get(authURL(cfg, "s", verifier, "max_age", "600"))
	if !strings.Contains(p.body, `name="decision"`) {
		t.Fatalf("want the consent page, got %d", p.status)
	}
	form = hiddenFields(p.body)
	form.Set("decision", "allow")
	if q := b.post(e.srv.URL+"/authorize", form); q.location == nil || q.location.Query().Get("code") == "" {
		t.Fatalf("consent within max_age: %d %v", q.status, q.location)
	}
}
