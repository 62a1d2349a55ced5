package server_test

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// Real-browser regression tests for issue 9, items 1 and 6. The plain-HTTP
// tests (reauth_test.go, logout_test.go) model the browser; these let
// Chromium decide what a form submission carries and which cookies a
// cross-site POST sends and which Set-Cookie it obeys.

// stepTimeout bounds each wait, so a test that goes wrong fails with a
// message (and its screenshots) well within the browser's two minutes.
const stepTimeout = 20 * time.Second

// browserRig is one headless Chromium, one Gatehouse and the client's
// application, which records every arrival at its redirect URIs.
type browserRig struct {
	t        *testing.T
	ctx      context.Context // the chromedp context
	e        *env
	cfg      *oauth2.Config
	verifier string
	app      *httptest.Server
	arrivals chan *url.URL
	dir      string
	cookies  *cookieWatch
}

// newBrowserRig starts the browser, Gatehouse (clock now, time.Now when
// nil) and the application, whose /callback and /bye are registered for
// web-portal.
func newBrowserRig(t *testing.T, now func() time.Time, scopes ...string) *browserRig {
	t.Helper()
	r := &browserRig{t: t, ctx: testkit.Browser(t, 1024, 768), arrivals: make(chan *url.URL, 16),
		dir: testkit.ArtifactDir(t, filepath.Join("server", t.Name()))}
	r.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Recorded before answering: once the browser shows the page,
		// the arrival is in the channel. Other paths (a favicon) are not
		// arrivals.
		if req.URL.Path == "/callback" || req.URL.Path == "/bye" {
			u := *req.URL
			select {
			case r.arrivals <- &u:
			default:
				t.Errorf("too many arrivals at the application; last %v", req.URL)
			}
		}
		w.Write([]byte("<!doctype html><title>app</title><p id=app>the application</p>"))
	}))
	t.Cleanup(r.app.Close)
	r.e = startAt(t, now, func(c *config.Config) {
		wp := c.Client("web-portal")
		wp.RedirectURIs = append(wp.RedirectURIs, r.app.URL+"/callback")
		wp.PostLogoutRedirectURIs = append(wp.PostLogoutRedirectURIs, r.app.URL+"/bye")
	})
	r.cfg = oauthConfig(r.e, "web-portal", "web-portal-secret-123", r.app.URL+"/callback", scopes...)
	r.verifier = oauth2.GenerateVerifier()
	u, _ := url.Parse(r.e.srv.URL)
	r.cookies = &cookieWatch{host: u.Host, logout: map[network.RequestID]bool{},
		extra: map[network.RequestID][]*network.EventRequestWillBeSentExtraInfo{}}
	// Listen is the first call: it starts Chromium and ties its life to
	// r.ctx. The steps after it run under shorter timeouts derived from
	// r.ctx, which must not be the ones the browser lives by.
	if err := chromedp.Listen(r.ctx, r.cookies.observe); err != nil {
		t.Fatalf("starting the browser: %v", err)
	}
	return r
}

// do runs steps with a timeout; on failure it keeps a screenshot.
func (r *browserRig) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		r.shoot("failed")
		r.t.Fatalf("%s: %v", what, err)
	}
}

// shoot keeps a screenshot of the current page as an artifact.
func (r *browserRig) shoot(name string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		r.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(r.dir, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.t.Logf("screenshot: %s", file)
}

// arrival waits for the browser to reach the application at path.
func (r *browserRig) arrival(path string) url.Values {
	r.t.Helper()
	select {
	case u := <-r.arrivals:
		if u.Path != path {
			r.shoot("unexpected-arrival")
			r.t.Fatalf("the browser arrived at %v, want %s", u, path)
		}
		return u.Query()
	case <-time.After(stepTimeout):
		r.shoot("no-arrival")
		r.t.Fatalf("the browser never reached the application's %s", path)
	}
	return nil
}

// noArrival fails if the browser has reached the application.
func (r *browserRig) noArrival(when string) {
	r.t.Helper()
	select {
	case u := <-r.arrivals:
		r.t.Fatalf("%s: the browser reached the application at %v", when, u)
	default:
	}
}

// signIn goes through the login and consent pages and returns the
// callback's query.
func (r *browserRig) signIn(state string) url.Values {
	r.t.Helper()
	r.do("login page", chromedp.Navigate(authURL(r.cfg, state, r.verifier)), chromedp.WaitVisible(chromedp.ID("username")))
	r.do("sign in",
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-password-1"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
	)
	r.do("consent", chromedp.Click(chromedp.CSS(`button[value="allow"]`)))
	q := r.arrival("/callback")
	if q.Get("state") != state || q.Get("code") == "" {
		r.t.Fatalf("sign-in callback %v", q)
	}
	return q
}

// silentAuth is an authorization request with prompt=none: the callback
// answers whether the browser is still signed in.
func (r *browserRig) silentAuth(state string) url.Values {
	r.t.Helper()
	r.do("prompt=none", chromedp.Navigate(authURL(r.cfg, state, r.verifier, "prompt", "none")))
	q := r.arrival("/callback")
	if q.Get("state") != state {
		r.t.Fatalf("prompt=none callback %v", q)
	}
	return q
}

// sessionCookie returns the browser's gatehouse_session cookie (the whole
// jar is searched, not only what a URL would be sent), or nil.
func (r *browserRig) sessionCookie() *network.Cookie {
	r.t.Helper()
	res, err := chromedp.Call(r.ctx, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		r.t.Fatalf("reading the cookie jar: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "gatehouse_session" {
			return c
		}
	}
	return nil
}

// crossSitePage serves, from another site than Gatehouse, a page whose
// form POSTs fields to action as soon as the page has loaded — what a
// person gets by opening a link to another site. Gatehouse is reached as
// 127.0.0.1 and this page as localhost: different hosts, so different
// sites, and Chromium sends no SameSite=Lax cookie with the POST
// (crossSiteCheck confirms it from Chromium's own account of the request:
// its Sec-Fetch-Site and the cookies it reports as blocked).
// The form is submitted on load, not while parsing, so that Navigate
// returns at this page and the cross-site navigation follows it.
func crossSitePage(t *testing.T, action string, fields url.Values) string {
	t.Helper()
	page := template.Must(template.New("").Parse(`<!doctype html><title>elsewhere</title>
<form method="post" action="{{.Action}}">{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}</form>
<script>addEventListener("load", function () { document.forms[0].submit() })</script>`))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, map[string]any{"Action": action, "Fields": fields})
	}))
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/"
}

// cookieWatch records, from Chromium's network events, how the browser
// sent each POST to Gatehouse's /logout: which site it said the request
// came from (Sec-Fetch-Site) and whether the session cookie went with it
// or was withheld because of its SameSite=Lax.
type cookieWatch struct {
	host   string // Gatehouse's host:port
	mu     sync.Mutex
	logout map[network.RequestID]bool
	extra  map[network.RequestID][]*network.EventRequestWillBeSentExtraInfo
}

// logoutHop is one POST to /logout as the network stack sent it.
type logoutHop struct {
	fetchSite          string
	sessionSent        bool
	sessionBlockedLax  bool
	sessionBlockReason []network.CookieBlockedReason
}

// observe runs on chromedp's event loop: it only records.
func (w *cookieWatch) observe(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Request.Method == http.MethodPost && ev.Request.URL == "http://"+w.host+"/logout" {
			w.logout[ev.RequestID] = true
		}
	case *network.EventRequestWillBeSentExtraInfo:
		w.extra[ev.RequestID] = append(w.extra[ev.RequestID], ev)
	}
}

// logoutHops returns the POSTs to /logout so far. A redirect keeps the
// request's ID, so the hops of one ID are told apart by their Host, and
// only the first hop to Gatehouse is the POST: a 303 from /logout (a
// cookie-less POST sent on as a GET) follows under the same ID.
func (w *cookieWatch) logoutHops() []logoutHop {
	w.mu.Lock()
	defer w.mu.Unlock()
	var hops []logoutHop
	for id := range w.logout {
		for _, ex := range w.extra[id] {
			if fmt.Sprint(ex.Headers["Host"]) != w.host {
				continue
			}
			h := logoutHop{fetchSite: fmt.Sprint(ex.Headers["Sec-Fetch-Site"])}
			for _, ac := range ex.AssociatedCookies {
				if ac.Cookie == nil || ac.Cookie.Name != "gatehouse_session" {
					continue
				}
				h.sessionSent = len(ac.BlockedReasons) == 0
				h.sessionBlockReason = ac.BlockedReasons
				h.sessionBlockedLax = slices.Contains(ac.BlockedReasons, network.CookieBlockedReasonSchemefulSameSiteLax) ||
					slices.Contains(ac.BlockedReasons, network.CookieBlockedReasonSameSiteLax)
			}
			hops = append(hops, h)
			break
		}
	}
	return hops
}

// crossSiteCheck fails unless the browser has made exactly one POST to
// /logout, as a cross-site request from which Chromium withheld the
// session cookie for its SameSite=Lax: the request the test means.
func (r *browserRig) crossSiteCheck() {
	r.t.Helper()
	hops := r.cookies.logoutHops()
	if len(hops) != 1 || hops[0].fetchSite != "cross-site" || hops[0].sessionSent || !hops[0].sessionBlockedLax {
		r.t.Fatalf("POSTs to /logout as sent: %+v; want one, cross-site, the session cookie blocked as SameSite=Lax", hops)
	}
}

// TestBrowserReauthenticationCannotBeSkipped (issue 9, item 1): someone at
// a signed-in browser gets the login page of a prompt=login request and,
// instead of entering the password, adds decision=allow to the login form
// with JavaScript and submits it, as if answering a consent page. No code
// may reach the application; the code comes only after the password is
// entered, and its ID token carries the new auth_time.
func TestBrowserReauthenticationCannotBeSkipped(t *testing.T) {
	clock := testkit.NewClock(time.Now().Truncate(time.Second))
	r := newBrowserRig(t, clock.Now, "openid", "orders:read")
	_, first := redeem(t, r.e, r.cfg, r.signIn("s0").Get("code"), r.verifier)
	clock.Advance(time.Hour)

	r.do("prompt=login", chromedp.Navigate(authURL(r.cfg, "s1", r.verifier, "prompt", "login")), chromedp.WaitVisible(chromedp.ID("password")))
	r.shoot("reauth-login")
	ctx, cancel := context.WithTimeout(r.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.querySelector("form");
		const i = document.createElement("input");
		i.type = "hidden"; i.name = "decision"; i.value = "allow";
		f.appendChild(i);
		f.submit(); // no validation: the empty required fields do not stop it
	})()`))
	if err != nil {
		t.Fatalf("submitting the doctored login form: %v", err)
	}
	r.shoot("reauth-skipped")
	r.noArrival("decision=allow posted from the login page")
	if resp == nil {
		t.Fatal("no response to the doctored login form")
	}
	if strings.HasPrefix(resp.URL, r.app.URL) {
		t.Fatalf("the doctored login form led to %s (%d)", resp.URL, resp.Status)
	}
	t.Logf("the doctored login form was answered %d at %s", resp.Status, resp.URL)

	r.do("prompt=login again", chromedp.Navigate(authURL(r.cfg, "s2", r.verifier, "prompt", "login")), chromedp.WaitVisible(chromedp.ID("password")))
	r.noArrival("the login page")
	r.do("re-authentication",
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-password-1"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
	q := r.arrival("/callback")
	if q.Get("state") != "s2" || q.Get("code") == "" {
		t.Fatalf("after re-authentication: %v", q)
	}
	_, second := redeem(t, r.e, r.cfg, q.Get("code"), r.verifier)
	if got, want := second["auth_time"], float64(clock.Now().Unix()); got != want || got == first["auth_time"] {
		t.Errorf("auth_time %v after re-authentication, want %v (first sign-in %v)", got, want, first["auth_time"])
	}
}

// TestBrowserCrossSiteLogoutWithoutHint (issue 9, item 6): a page on
// another site auto-submits a POST to /logout with confirm=yes. Chromium
// sends no session cookie with it; Gatehouse must not answer it with a
// deletion of the cookie, so the person is still signed in afterwards.
func TestBrowserCrossSiteLogoutWithoutHint(t *testing.T) {
	r := newBrowserRig(t, nil, "openid")
	r.signIn("s0")
	before := r.sessionCookie()
	if before == nil || before.Value == "" {
		t.Fatalf("no session cookie after signing in: %+v", before)
	}

	evil := crossSitePage(t, r.e.srv.URL+"/logout", url.Values{"confirm": {"yes"}, "csrf_token": {"guess"}})
	// The POST carries no cookie; Gatehouse sends it on as a top-level
	// GET, which does, and so the person sees the confirmation page
	// rather than a "signed out" that would not be true.
	r.do("cross-site logout", chromedp.Navigate(evil),
		chromedp.WaitVisible(chromedp.CSS(`button[name="confirm"]`)))
	r.shoot("cross-site-logout")
	r.crossSiteCheck()

	after := r.sessionCookie()
	if after == nil || after.Value != before.Value {
		t.Errorf("the cross-site POST changed the browser's session cookie: %+v", after)
	}
	if q := r.silentAuth("s1"); q.Get("code") == "" {
		t.Errorf("signed out by a cross-site POST: prompt=none answered %v", q)
	}
}

// TestBrowserCrossSiteLogoutWithHint (issue 9, item 6): RP-initiated
// logout as an application sends it, a cross-site POST carrying the
// session's ID token as id_token_hint. The POST has no cookie, yet the
// session the hint names ends: prompt=none answers login_required, and
// the refresh token obtained in the session is refused.
func TestBrowserCrossSiteLogoutWithHint(t *testing.T) {
	r := newBrowserRig(t, nil, "openid", "offline_access")
	tok, _ := redeem(t, r.e, r.cfg, r.signIn("s0").Get("code"), r.verifier)
	hint, _ := tok.Extra("id_token").(string)
	if hint == "" || tok.RefreshToken == "" {
		t.Fatalf("sign-in gave no ID token or refresh token: %+v", tok)
	}

	rp := crossSitePage(t, r.e.srv.URL+"/logout", url.Values{"id_token_hint": {hint},
		"post_logout_redirect_uri": {r.app.URL + "/bye"}, "state": {"st"}})
	r.do("RP-initiated logout", chromedp.Navigate(rp))
	if q := r.arrival("/bye"); q.Get("state") != "st" {
		t.Errorf("post-logout redirect %v", q)
	}
	r.do("post-logout page", chromedp.WaitVisible(chromedp.ID("app")))
	r.shoot("rp-logout")
	r.crossSiteCheck()

	if q := r.silentAuth("s1"); q.Get("error") != "login_required" {
		t.Errorf("the session named by id_token_hint is still signed in: prompt=none answered %v", q)
	}
	if res := refresh(t, r.e, "web-portal", "web-portal-secret-123", tok.RefreshToken, nil); res["error"] != "invalid_grant" {
		_, issued := res["access_token"]
		t.Errorf("the ended session's refresh token: error %v, tokens issued %v; want invalid_grant", res["error"], issued)
	}
}

// TestBrowserConfirmedLogout (issue 9, item 6): GET /logout shows the
// confirmation page; clicking "Sign out" ends the session and Chromium
// drops the session cookie from its jar altogether (a deletion without
// Max-Age=0 or a past Expires would leave an empty cookie behind).
func TestBrowserConfirmedLogout(t *testing.T) {
	r := newBrowserRig(t, nil, "openid")
	r.signIn("s0")
	if c := r.sessionCookie(); c == nil {
		t.Fatal("no session cookie after signing in")
	}

	r.do("logout page", chromedp.Navigate(r.e.srv.URL+"/logout"), chromedp.WaitVisible(chromedp.CSS(`button[name="confirm"]`)))
	r.shoot("logout-confirm")
	r.do("confirm", chromedp.Click(chromedp.CSS(`button[name="confirm"]`)), chromedp.WaitVisible(chromedp.CSS(`.status-ok`)))
	r.shoot("logged-out")

	if c := r.sessionCookie(); c != nil {
		t.Errorf("the browser still keeps the session cookie after logout: %+v", c)
	}
	if q := r.silentAuth("s1"); q.Get("error") != "login_required" {
		t.Errorf("still signed in after the confirmed logout: prompt=none answered %v", q)
	}
}
