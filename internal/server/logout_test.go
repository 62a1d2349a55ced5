package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// sessionCookieHeaders returns the Set-Cookie lines of resp that name the
// session cookie.
func sessionCookieHeaders(resp *http.Response) []string {
	var out []string
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "gatehouse_session=") {
			out = append(out, v)
		}
	}
	return out
}

// TestLogoutCookieHandling (issue 9, item 6): a cross-site POST to /logout
// carries no cookie and must not be answered with a deletion of the
// session cookie (that would sign the person out unasked); a confirmed
// logout deletes it for good (Max-Age=0 and an Expires in the past).
func TestLogoutCookieHandling(t *testing.T) {
	e := start(t)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid")
	b := newBrowser(t)
	verifier, _ := pkce()
	signIn(t, e, b, cfg, "s", "n", verifier, true)

	// The cross-site POST: no cookies at all (SameSite=Lax keeps them
	// home). It is not answered "signed out" (nothing says whether anyone
	// is), but sent on as a GET, which carries the cookie.
	p := newBrowser(t).post(e.srv.URL+"/logout", url.Values{"confirm": {"yes"}, "client_id": {"web-portal"},
		"post_logout_redirect_uri": {"http://127.0.0.1:3000/bye"}, "state": {"st"}})
	want := e.srv.URL + "/logout?client_id=web-portal&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fbye&state=st"
	if p.status != http.StatusSeeOther || p.location.String() != want {
		t.Errorf("a cookie-less logout POST: %d %v, want 303 to %s", p.status, p.location, want)
	}
	resp := postForm(t, e, "/logout", "", url.Values{"confirm": {"yes"}})
	if got := sessionCookieHeaders(resp); len(got) != 0 {
		t.Errorf("a cookie-less logout POST answered %q", got)
	}
	if g := b.get(want); !strings.Contains(g.body, `name="confirm"`) {
		t.Errorf("the GET it leads to, with the cookie: %d, want the confirmation page", g.status)
	}
	if p := b.get(authURL(cfg, "x", verifier, "prompt", "none")); p.location == nil || p.location.Query().Get("code") == "" {
		t.Fatalf("the person was signed out by a cross-site POST: %d %v", p.status, p.location)
	}

	// The confirmed logout, as the browser sends it.
	form := hiddenFields(b.get(e.srv.URL + "/logout").body)
	form.Set("confirm", "yes")
	req, _ := http.NewRequest("POST", e.srv.URL+"/logout", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := sessionCookieHeaders(resp)
	if len(got) != 1 || !strings.Contains(got[0], "Max-Age=0") || !strings.Contains(got[0], "Expires=Thu, 01 Jan 1970") {
		t.Errorf("confirmed logout's Set-Cookie %q, want Max-Age=0 and a past Expires", got)
	}
	u, _ := url.Parse(e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "gatehouse_session" {
			t.Errorf("the browser still keeps the session cookie %q", c.Value)
		}
	}
}

// TestRPInitiatedLogoutWithoutCookie (issue 9, item 6): OIDC RP-Initiated
// Logout lets the application POST cross-site, which carries no session
// cookie; a valid id_token_hint must still end the session it names (by
// its sid) and revoke that session's refresh tokens. An expired hint is
// still good proof (RP-Initiated Logout §2). Another session of the same
// user is not touched.
func TestRPInitiatedLogoutWithoutCookie(t *testing.T) {
	e := start(t)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "offline_access")
	verifier, _ := pkce()
	b, other := newBrowser(t), newBrowser(t)
	tok, _ := redeem(t, e, cfg, signIn(t, e, b, cfg, "s", "n", verifier, true), verifier)
	otherTok, _ := redeem(t, e, cfg, signIn(t, e, other, cfg, "s", "n", verifier, true), verifier)
	hint, _ := tok.Extra("id_token").(string)

	// A cookie-less browser stands for the cross-site POST.
	p := newBrowser(t).post(e.srv.URL+"/logout", url.Values{"id_token_hint": {hint},
		"post_logout_redirect_uri": {"http://127.0.0.1:3000/bye"}, "state": {"st"}})
	if p.status != http.StatusFound || p.location.String() != "http://127.0.0.1:3000/bye?state=st" {
		t.Fatalf("logout: %d %v", p.status, p.location)
	}
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", tok.RefreshToken, nil); r["error"] != "invalid_grant" {
		t.Errorf("the ended session's refresh token still works: %v", r)
	}
	if p := b.get(authURL(cfg, "x", verifier, "prompt", "none")); p.location == nil || p.location.Query().Get("error") != "login_required" {
		t.Errorf("the session named by the hint is still signed in: %v", p.location)
	}
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", otherTok.RefreshToken, nil); r["refresh_token"] == nil {
		t.Errorf("another session's refresh token was revoked: %v", r)
	}
	if p := other.get(authURL(cfg, "x", verifier, "prompt", "none")); p.location == nil || p.location.Query().Get("code") == "" {
		t.Errorf("another session was ended: %v", p.location)
	}
}

// TestLogoutHintOfExpiredToken: an ID token past its exp still names its
// session for logout.
func TestLogoutHintOfExpiredToken(t *testing.T) {
	clock := &struct{ at time.Time }{time.Now()}
	e := startAt(t, func() time.Time { return clock.at })
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "offline_access")
	verifier, _ := pkce()
	b := newBrowser(t)
	tok, err := cfg.Exchange(context.Background(), signIn(t, e, b, cfg, "s", "n", verifier, true), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	clock.at = clock.at.Add(2 * time.Hour) // the ID token lived 10 minutes
	hint, _ := tok.Extra("id_token").(string)
	postForm(t, e, "/logout", "", url.Values{"id_token_hint": {hint}})
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", tok.RefreshToken, nil); r["error"] != "invalid_grant" {
		t.Errorf("refresh after logout with an expired hint: %v", r)
	}
}
