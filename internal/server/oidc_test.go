package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/server"
)

// browser is an HTTP client with cookies that fills in Gatehouse's login
// and consent forms the way a person's browser would, and stops at the
// redirect back to the client.
type browser struct {
	t testing.TB
	c *http.Client
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var hiddenRe = regexp.MustCompile(`name="(csrf_token|request_id)"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="(csrf_token|request_id)"`)

func hiddenFields(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(body, -1) {
		if m[1] != "" {
			v.Set(m[1], html.UnescapeString(m[2]))
		} else {
			v.Set(m[4], html.UnescapeString(m[3]))
		}
	}
	return v
}

type page struct {
	status   int
	body     string
	location *url.URL
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		p.location, _ = url.Parse(loc)
	}
	return p
}

func (b *browser) get(u string) page {
	req, _ := http.NewRequest("GET", u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// login submits the login form shown on p.
func (b *browser) login(e *env, p page, user, password string) page {
	b.t.Helper()
	if !strings.Contains(p.body, `name="password"`) {
		b.t.Fatalf("expected the login page, got %d:\n%.400s", p.status, p.body)
	}
	form := hiddenFields(p.body)
	form.Set("username", user)
	form.Set("password", password)
	return b.post(e.srv.URL+"/authorize", form)
}

// consent answers the consent page shown on p.
func (b *browser) consent(e *env, p page, decision string) page {
	b.t.Helper()
	if !strings.Contains(p.body, `name="decision"`) {
		b.t.Fatalf("expected the consent page, got %d:\n%.400s", p.status, p.body)
	}
	form := hiddenFields(p.body)
	form.Set("decision", decision)
	return b.post(e.srv.URL+"/authorize", form)
}

func pkce() (verifier, challenge string) {
	verifier = oauth2.GenerateVerifier()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func oauthConfig(e *env, id, secret, redirect string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: redirect, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.srv.URL + "/authorize", TokenURL: e.srv.URL + "/token"}}
}

// signIn runs the whole browser part and returns the code.
func signIn(t *testing.T, e *env, b *browser, cfg *oauth2.Config, state, nonce, verifier string, consent bool) string {
	t.Helper()
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce)}
	if verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	p := b.get(cfg.AuthCodeURL(state, opts...))
	if p.location == nil {
		p = b.login(e, p, "alice", "alice-password-1")
	}
	if consent && p.location == nil {
		p = b.consent(e, p, "allow")
	}
	if p.status != http.StatusFound || p.location == nil {
		t.Fatalf("no redirect back: %d\n%.600s", p.status, p.body)
	}
	q := p.location.Query()
	if q.Get("state") != state || q.Get("iss") != e.srv.URL || q.Get("error") != "" {
		t.Fatalf("redirect %s", p.location)
	}
	return q.Get("code")
}

func TestConfidentialClientFullFlow(t *testing.T) {
	e := start(t)
	ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
	provider, err := oidc.NewProvider(ctx, e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback",
		"openid", "profile", "email", "offline_access")
	b := newBrowser(t)
	verifier, _ := pkce()
	code := signIn(t, e, b, cfg, "st-1", "n-1", verifier, true)

	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "web-portal"}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	if idt.Nonce != "n-1" || idt.Subject != "alice" {
		t.Errorf("nonce %q sub %q", idt.Nonce, idt.Subject)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var idc map[string]any
	_ = idt.Claims(&idc)
	// Scope claims come from UserInfo (OIDC Core §5.4), not the ID token.
	if idc["email"] != nil || idc["auth_time"] == nil || idc["sid"] == nil || idc["azp"] != nil {
		t.Errorf("ID token claims %v", idc)
	}
	// The access token: the user, the client's audience.
	ac, _ := claimsFromJWKS(t, e, tok.AccessToken)
	if ac["sub"] != "alice" || ac["client_id"] != "web-portal" || ac["azp"] != "web-portal" {
		t.Errorf("access claims %v", ac)
	}
	if aud, _ := ac["aud"].([]any); len(aud) != 2 || aud[0] != "web-portal" || aud[1] != "order-status-api" {
		t.Errorf("aud %v", ac["aud"])
	}
	// UserInfo with the access token, through go-oidc.
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if ui.Subject != "alice" || ui.Email != "alice@example.com" {
		t.Errorf("userinfo %+v", ui)
	}

	// Refresh rotation: a new refresh token each time; the old one is spent.
	first := tok.RefreshToken
	if first == "" {
		t.Fatal("no refresh token despite offline_access")
	}
	tok2, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: first}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == first {
		t.Fatal("refresh token not rotated")
	}
	// Narrowing on refresh: audience and scope may shrink, never grow.
	narrowed := refresh(t, e, "web-portal", "web-portal-secret-123", tok2.RefreshToken, url.Values{"resource": {"order-status-api"}, "scope": {"openid"}})
	nc, _ := claimsFromJWKS(t, e, narrowed["access_token"].(string))
	if nc["aud"] != "order-status-api" || nc["scope"] != "openid" {
		t.Errorf("narrowed: aud %v scope %v", nc["aud"], nc["scope"])
	}
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", narrowed["refresh_token"].(string), url.Values{"resource": {"hr-api"}}); r["error"] != "invalid_target" {
		t.Errorf("widening audience: %v", r)
	}
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", narrowed["refresh_token"].(string), url.Values{"scope": {"orders:read"}}); r["error"] != "invalid_scope" {
		t.Errorf("widening scope: %v", r)
	}

	// Reuse of the rotated first token revokes the whole family.
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", first, nil); r["error"] != "invalid_grant" {
		t.Fatalf("reuse accepted: %v", r)
	}
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", narrowed["refresh_token"].(string), nil); r["error"] != "invalid_grant" {
		t.Fatalf("family not revoked after reuse: %v", r)
	}
	// ... and so are the access tokens issued from it.
	if m := introspect(t, e, "order-status-api", "order-status-api-secret", tok2.AccessToken); m["active"] != false {
		t.Errorf("access token of a revoked family still active: %v", m)
	}

	// Logout with id_token_hint returns to the registered URI with state.
	p := b.get(e.srv.URL + "/logout?" + url.Values{"id_token_hint": {rawID},
		"post_logout_redirect_uri": {"http://127.0.0.1:3000/bye"}, "state": {"s-9"}}.Encode())
	if p.status != http.StatusFound || p.location.String() != "http://127.0.0.1:3000/bye?state=s-9" {
		t.Fatalf("logout: %d %v", p.status, p.location)
	}
	// The session is gone: prompt=none now says login_required.
	p = b.get(cfg.AuthCodeURL("st-2", oauth2.SetAuthURLParam("prompt", "none"), oauth2.S256ChallengeOption(verifier)))
	if p.location == nil || p.location.Query().Get("error") != "login_required" || p.location.Query().Get("state") != "st-2" {
		t.Fatalf("after logout: %d %v", p.status, p.location)
	}
	// An unregistered post-logout URI is never followed.
	p = b.get(e.srv.URL + "/logout?" + url.Values{"client_id": {"web-portal"}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if p.status != http.StatusBadRequest || p.location != nil {
		t.Errorf("unregistered post-logout URI: %d %v", p.status, p.location)
	}
}

func TestPublicClientFlowAndRevocation(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	cfg := oauthConfig(e, "spa", "", "http://127.0.0.1:3000/spa", "openid", "offline_access", "hr:read")
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	b := newBrowser(t)

	// A public client must use PKCE.
	p := b.get(cfg.AuthCodeURL("s"))
	if p.location == nil || p.location.Query().Get("error") != "invalid_request" {
		t.Fatalf("public client without PKCE: %d %v", p.status, p.location)
	}
	verifier, _ := pkce()
	code := signIn(t, e, b, cfg, "s", "n", verifier, false) // first party: no consent page
	// Wrong verifier first: refused, and the code is not spent by it.
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("wrong verifier: %v", err)
	}
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	ac, _ := claimsFromJWKS(t, e, tok.AccessToken)
	if aud, _ := ac["aud"].([]any); len(aud) != 3 {
		t.Errorf("aud %v", ac["aud"])
	}
	// Replay of the code: refused, and the tokens it issued are revoked.
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("replay: %v", err)
	}
	if m := introspect(t, e, "hr-api", "hr-api-secret-xyz", tok.AccessToken); m["active"] != false {
		t.Errorf("access token of a replayed code still active: %v", m)
	}
	if r := refresh(t, e, "spa", "", tok.RefreshToken, nil); r["error"] != "invalid_grant" {
		t.Errorf("refresh token of a replayed code still works: %v", r)
	}

	// A fresh grant, then revocation (RFC 7009) of its refresh token.
	code = signIn(t, e, b, cfg, "s2", "n2", verifier, false)
	tok, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	// A public client identifies itself with client_id alone (RFC 7009 §2.1).
	resp := postForm(t, e, "/revoke", "", url.Values{"token": {tok.RefreshToken}, "client_id": {"spa"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("public client revocation: %d", resp.StatusCode)
	}
	if r := refresh(t, e, "spa", "", tok.RefreshToken, nil); r["error"] != "invalid_grant" {
		t.Errorf("revoked refresh token still works: %v", r)
	}
	if m := introspect(t, e, "hr-api", "hr-api-secret-xyz", tok.AccessToken); m["active"] != false {
		t.Errorf("access token of a revoked family still active: %v", m)
	}
}

func TestRevokeAccessToken(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "orders:read")
	b := newBrowser(t)
	code := signIn(t, e, b, cfg, "s", "n", "", true)
	tok, err := cfg.Exchange(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" {
		t.Error("refresh token without offline_access")
	}
	if m := introspect(t, e, "order-status-api", "order-status-api-secret", tok.AccessToken); m["active"] != true {
		t.Fatalf("before revocation: %v", m)
	}
	// Another client cannot revoke it (answered 200, nothing happens).
	resp := postForm(t, e, "/revoke", basic("order-sync-job", "sync-job-secret-change-me"), url.Values{"token": {tok.AccessToken}})
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	if m := introspect(t, e, "order-status-api", "order-status-api-secret", tok.AccessToken); m["active"] != true {
		t.Fatalf("another client revoked the token: %v", m)
	}
	resp = postForm(t, e, "/revoke", basic("web-portal", "web-portal-secret-123"), url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}})
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	if m := introspect(t, e, "order-status-api", "order-status-api-secret", tok.AccessToken); m["active"] != false {
		t.Fatalf("revoked token still active: %v", m)
	}
	// UserInfo refuses it too.
	req, _ := http.NewRequest("GET", e.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("userinfo with a revoked token: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
}

func TestAuthorizationErrors(t *testing.T) {
	e := start(t)
	b := newBrowser(t)
	base := e.srv.URL + "/authorize?"
	good := url.Values{"client_id": {"web-portal"}, "redirect_uri": {"http://127.0.0.1:3000/callback"},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"xyz"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for kk, vv := range good {
			q[kk] = append([]string(nil), vv...)
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	displayed := []struct {
		name string
		q    url.Values
	}{
		{"unknown client", with("client_id", "ghost")},
		{"missing client", with("client_id", "")},
		{"redirect mismatch", with("redirect_uri", "http://127.0.0.1:3000/callback/evil")},
		{"redirect differs by trailing slash", with("redirect_uri", "http://127.0.0.1:3000/callback/")},
	}
	for _, tc := range displayed {
		p := b.get(base + tc.q.Encode())
		if p.location != nil || p.status != 400 || !strings.Contains(p.body, "<html") {
			t.Errorf("%s: want an error page and no redirect, got %d %v", tc.name, p.status, p.location)
		}
	}
	redirected := []struct {
		name, code string
		q          url.Values
	}{
		{"implicit", "unsupported_response_type", with("response_type", "token")},
		{"hybrid", "unsupported_response_type", with("response_type", "code id_token")},
		{"plain PKCE", "invalid_request", func() url.Values {
			q := with("code_challenge", strings.Repeat("a", 43))
			q.Set("code_challenge_method", "plain")
			return q
		}()},
		{"challenge without method means plain", "invalid_request", with("code_challenge", strings.Repeat("a", 43))},
		{"scope outside the client's", "invalid_scope", with("scope", "openid hr:read")},
		{"resource outside the client's", "invalid_target", with("resource", "hr-api")},
		{"prompt none without a session", "login_required", with("prompt", "none")},
		{"unknown prompt", "invalid_request", with("prompt", "bogus")},
		{"bad max_age", "invalid_request", with("max_age", "-1")},
		{"request object", "request_not_supported", with("request", "eyJ")},
	}
	for _, tc := range redirected {
		p := b.get(base + tc.q.Encode())
		if p.location == nil || !strings.HasPrefix(p.location.String(), "http://127.0.0.1:3000/callback?") {
			t.Errorf("%s: want a redirect to the client, got %d %v", tc.name, p.status, p.location)
			continue
		}
		q := p.location.Query()
		if q.Get("error") != tc.code || q.Get("state") != "xyz" || q.Get("iss") != e.srv.URL {
			t.Errorf("%s: redirect %s, want error %s with state", tc.name, p.location, tc.code)
		}
	}

	// Consent denied → access_denied with state.
	p := b.get(base + good.Encode())
	p = b.login(e, p, "alice", "alice-password-1")
	p = b.consent(e, p, "deny")
	if p.location == nil || p.location.Query().Get("error") != "access_denied" || p.location.Query().Get("state") != "xyz" {
		t.Errorf("deny: %d %v", p.status, p.location)
	}
	// prompt=none with a session but no consent → consent_required.
	p = b.get(base + with("prompt", "none").Encode())
	if p.location == nil || p.location.Query().Get("error") != "consent_required" {
		t.Errorf("prompt=none without consent: %v", p.location)
	}
}

func TestLoginFormProtections(t *testing.T) {
	e := start(t)
	b := newBrowser(t)
	u := e.srv.URL + "/authorize?" + url.Values{"client_id": {"web-portal"}, "redirect_uri": {"http://127.0.0.1:3000/callback"},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}.Encode()
	p := b.get(u)
	// CSRF token missing or wrong: refused, no redirect.
	form := hiddenFields(p.body)
	form.Set("csrf_token", "forged-forged-forged-forged-forged-forged-xx")
	form.Set("username", "alice")
	form.Set("password", "alice-password-1")
	if r := b.post(e.srv.URL+"/authorize", form); r.status != 403 || r.location != nil {
		t.Errorf("forged CSRF token: %d %v", r.status, r.location)
	}
	// Wrong passwords: the page says so; after five the account is locked,
	// even for the right password.
	for i := range 5 {
		r := b.login(e, b.get(u), "alice", "wrong-password")
		if r.status != 401 || !strings.Contains(r.body, "Wrong username or password") {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	r := b.login(e, b.get(u), "alice", "alice-password-1")
	if r.status != 429 || r.location != nil {
		t.Fatalf("locked user signed in: %d %v", r.status, r.location)
	}
	// Unknown users get the same answer as a wrong password.
	r = b.login(e, b.get(u), "mallory", "whatever")
	if r.status != 401 || !strings.Contains(r.body, "Wrong username or password") {
		t.Errorf("unknown user: %d", r.status)
	}
}

func TestCodeOfAnotherClientAndRedirectMismatch(t *testing.T) {
	e := start(t)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid")
	b := newBrowser(t)
	code := signIn(t, e, b, cfg, "s", "n", "", true)
	// Another client presents it.
	r := tokenRequest(t, e, basic("order-sync-job", "sync-job-secret-change-me"), url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {"http://127.0.0.1:3000/callback"}})
	if r["error"] != "unauthorized_client" && r["error"] != "invalid_grant" {
		t.Errorf("other client: %v", r)
	}
	r = tokenRequest(t, e, basic("web-portal", "web-portal-secret-123"), url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {"http://127.0.0.1:3000/other"}})
	if r["error"] != "invalid_grant" {
		t.Errorf("redirect mismatch: %v", r)
	}
	// A refresh token of client A used by client B.
	cfg.Scopes = []string{"openid", "offline_access"}
	code = signIn(t, e, newBrowser(t), cfg, "s", "n", "", true)
	tok, err := cfg.Exchange(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	if r := refresh(t, e, "spa", "", tok.RefreshToken, nil); r["error"] != "invalid_grant" {
		t.Errorf("refresh token used by another client: %v", r)
	}
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", tok.RefreshToken, nil); r["access_token"] == nil {
		t.Errorf("the owner's refresh failed after another client tried it: %v", r)
	}
	// An access or ID token is never a refresh token.
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", tok.AccessToken, nil); r["error"] != "invalid_grant" {
		t.Errorf("access token as refresh token: %v", r)
	}
}

// TestConcurrentRedemption: two redemptions of one code, two refreshes of
// one token, at once: exactly one of each succeeds.
func TestConcurrentRedemption(t *testing.T) {
	e := start(t)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "offline_access")
	code := signIn(t, e, newBrowser(t), cfg, "s", "n", "", true)
	race := func(do func() map[string]any) int {
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 4 {
			wg.Go(func() {
				if r := do(); r["access_token"] != nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return wins
	}
	var rt string
	var mu sync.Mutex
	wins := race(func() map[string]any {
		r := tokenRequest(t, e, basic("web-portal", "web-portal-secret-123"), url.Values{"grant_type": {"authorization_code"},
			"code": {code}, "redirect_uri": {"http://127.0.0.1:3000/callback"}})
		if s, ok := r["refresh_token"].(string); ok {
			mu.Lock()
			rt = s
			mu.Unlock()
		}
		return r
	})
	if wins != 1 || rt == "" {
		t.Fatalf("%d concurrent code redemptions succeeded (refresh token %q)", wins, rt)
	}
	// The losers' attempts are replays: they revoked what the winner got.
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", rt, nil); r["error"] != "invalid_grant" {
		t.Errorf("the winner's refresh token survived the replays: %v", r)
	}
	// So get a fresh grant for the refresh race.
	code = signIn(t, e, newBrowser(t), cfg, "s", "n", "", true)
	tok, err := cfg.Exchange(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	wins = race(func() map[string]any {
		return refresh(t, e, "web-portal", "web-portal-secret-123", tok.RefreshToken, nil)
	})
	if wins != 1 {
		t.Fatalf("%d concurrent refreshes succeeded", wins)
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

func postForm(t *testing.T, e *env, path, auth string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func tokenRequest(t *testing.T, e *env, auth string, form url.Values) map[string]any {
	t.Helper()
	resp := postForm(t, e, "/token", auth, form)
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return m
}

func refresh(t *testing.T, e *env, id, secret, rt string, extra url.Values) map[string]any {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for k, v := range extra {
		form[k] = v
	}
	auth := ""
	if secret != "" {
		auth = basic(id, secret)
	} else {
		form.Set("client_id", id)
	}
	return tokenRequest(t, e, auth, form)
}

func introspect(t *testing.T, e *env, id, secret, tok string) map[string]any {
	t.Helper()
	resp := postForm(t, e, "/introspect", basic(id, secret), url.Values{"token": {tok}})
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestConcurrentGuessesAreCounted: a burst of concurrent wrong passwords
// gets no more real checks than the lockout allows (5), because each try
// is reserved before the password is hashed.
func TestConcurrentGuessesAreCounted(t *testing.T) {
	e := start(t)
	b := newBrowser(t)
	u := e.srv.URL + "/authorize?" + url.Values{"client_id": {"web-portal"}, "redirect_uri": {"http://127.0.0.1:3000/callback"},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"s"}, "code_challenge": {strings.Repeat("a", 43)},
		"code_challenge_method": {"S256"}}.Encode()
	form := hiddenFields(b.get(u).body)
	form.Set("username", "alice")
	form.Set("password", "wrong-password")
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	for range 20 {
		wg.Go(func() {
			p := b.post(e.srv.URL+"/authorize", form)
			mu.Lock()
			counts[p.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts[401] > 5 || counts[401]+counts[429] != 20 {
		t.Fatalf("statuses %v: at most 5 real checks allowed", counts)
	}
}

// TestLogoutNeedsProofOrConfirmation: a logout link without an ID token of
// the current session (a CSRF attempt from another site) only shows a
// confirmation page; the session survives until the person confirms.
func TestLogoutNeedsProofOrConfirmation(t *testing.T) {
	e := start(t)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "offline_access")
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	code := signIn(t, e, b, cfg, "s", "n", verifier, true)
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	p := b.get(e.srv.URL + "/logout")
	if p.status != 200 || !strings.Contains(p.body, `name="confirm"`) {
		t.Fatalf("bare logout: %d, want the confirmation page", p.status)
	}
	// Still signed in, refresh token still good.
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", tok.RefreshToken, nil); r["refresh_token"] == nil {
		t.Fatalf("an unconfirmed logout revoked the refresh token: %v", r)
	}
	// Confirming without the CSRF token does nothing either.
	if p := b.post(e.srv.URL+"/logout", url.Values{"confirm": {"yes"}}); !strings.Contains(p.body, `name="confirm"`) {
		t.Fatalf("confirmation without CSRF token: %d", p.status)
	}
	form := hiddenFields(p.body)
	form.Set("confirm", "yes")
	if p := b.post(e.srv.URL+"/logout", form); p.status != 200 || strings.Contains(p.body, `name="confirm"`) {
		t.Fatalf("confirmed logout: %d", p.status)
	}
	q := b.get(cfg.AuthCodeURL("x", oauth2.SetAuthURLParam("prompt", "none"), oauth2.S256ChallengeOption(verifier)))
	if q.location == nil || q.location.Query().Get("error") != "login_required" {
		t.Fatalf("after the confirmed logout: %v", q.location)
	}
}

// TestRefreshFollowsConfiguration: the configuration is the source of
// truth. A refresh after the client lost an audience gets a narrower
// token; after the user was removed it fails and ends the grant.
func TestRefreshFollowsConfiguration(t *testing.T) {
	e := start(t)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "offline_access", "orders:read")
	verifier := oauth2.GenerateVerifier()
	code := signIn(t, e, newBrowser(t), cfg, "s", "n", verifier, true)
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	// A second instance on the same store with a changed configuration.
	restart := func(change func(*config.Config)) *env {
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		c := parseTestConfig(t, e.srv.URL)
		change(c)
		s, err := server.New(server.Options{Config: c, Keys: e.ring, Store: e.store})
		if err != nil {
			t.Fatal(err)
		}
		mux.Handle("/", s.Handler())
		return &env{srv: srv, store: e.store, ring: e.ring}
	}
	shrunk := restart(func(c *config.Config) {
		wp := c.Client("web-portal")
		wp.Audience = nil
		wp.Scopes = []string{"openid", "offline_access"}
	})
	r := refresh(t, shrunk, "web-portal", "web-portal-secret-123", tok.RefreshToken, nil)
	ac, _ := claimsFromJWKS(t, e, r["access_token"].(string))
	if ac["aud"] != "web-portal" || ac["scope"] != "openid offline_access" {
		t.Errorf("after shrinking the client: aud %v scope %v", ac["aud"], ac["scope"])
	}
	gone := restart(func(c *config.Config) { c.Users = nil })
	if r := refresh(t, gone, "web-portal", "web-portal-secret-123", r["refresh_token"].(string), nil); r["error"] != "invalid_grant" {
		t.Errorf("refresh for a removed user: %v", r)
	}
}

// TestPKCERequiredByDefault: a confidential client needs PKCE unless its
// configuration says require_pkce: false (RFC 9700 §2.1.1).
func TestPKCERequiredByDefault(t *testing.T) {
	e := start(t)
	b := newBrowser(t)
	q := url.Values{"client_id": {"strict-portal"}, "redirect_uri": {"http://127.0.0.1:3000/strict"},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
	p := b.get(e.srv.URL + "/authorize?" + q.Encode())
	if p.location == nil || p.location.Query().Get("error") != "invalid_request" {
		t.Fatalf("no PKCE: %d %v", p.status, p.location)
	}
	_, challenge := pkce()
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	if p := b.get(e.srv.URL + "/authorize?" + q.Encode()); p.location != nil || !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("with PKCE: %d %v", p.status, p.location)
	}
}

// TestExplainAuthorizationMatchesRealFlow: the explanation of an
// authorization request equals what the real flow gives — the access
// token's aud, azp and scope, or the error sent back to the client.
func TestExplainAuthorizationMatchesRealFlow(t *testing.T) {
	e := start(t)
	model := policy.New(parseTestConfig(t, e.srv.URL).PolicyClients())
	for _, tc := range []struct {
		name  string
		extra url.Values
		req   policy.Request
	}{
		{"default", url.Values{}, policy.Request{}},
		{"narrowed to the API", url.Values{"resource": {"order-status-api"}}, policy.Request{Resources: []string{"order-status-api"}}},
		{"narrowed scope", url.Values{"scope": {"openid"}}, policy.Request{Scope: "openid", ScopeGiven: true}},
		{"resource outside", url.Values{"resource": {"hr-api"}}, policy.Request{Resources: []string{"hr-api"}}},
		{"scope outside", url.Values{"scope": {"hr:read"}}, policy.Request{Scope: "hr:read", ScopeGiven: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := model.ExplainAuthorization("web-portal", tc.req)
			verifier := oauth2.GenerateVerifier()
			q := url.Values{"client_id": {"web-portal"}, "redirect_uri": {"http://127.0.0.1:3000/callback"},
				"response_type": {"code"}, "state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
				"code_challenge_method": {"S256"}}
			for k, v := range tc.extra {
				q[k] = v
			}
			b := newBrowser(t)
			p := b.get(e.srv.URL + "/authorize?" + q.Encode())
			if p.location == nil {
				p = b.login(e, p, "alice", "alice-password-1")
				if p.location == nil {
					p = b.consent(e, p, "allow")
				}
			}
			got := p.location.Query()
			if !x.Granted {
				if got.Get("error") != x.Error || got.Get("error_description") != x.ErrorDescription {
					t.Fatalf("flow: %s (%s), explain: %s (%s)", got.Get("error"), got.Get("error_description"), x.Error, x.ErrorDescription)
				}
				return
			}
			tok := tokenRequest(t, e, basic("web-portal", "web-portal-secret-123"), url.Values{"grant_type": {"authorization_code"},
				"code": {got.Get("code")}, "redirect_uri": {"http://127.0.0.1:3000/callback"}, "code_verifier": {verifier}})
			c, _ := claimsFromJWKS(t, e, tok["access_token"].(string))
			aud, _ := json.Marshal(c["aud"])
			want, _ := json.Marshal(x.Audience)
			azp, _ := c["azp"].(string)
			scope, _ := c["scope"].(string)
			if string(aud) != string(want) || azp != x.AZP || scope != x.Scope {
				t.Errorf("flow: aud %s azp %q scope %q; explain: aud %s azp %q scope %q", aud, azp, scope, want, x.AZP, x.Scope)
			}
		})
	}
}
