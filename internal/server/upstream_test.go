package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// federation is two real Gatehouse instances: up is the upstream OpenID
// Connect provider, with its own users and login page; down signs people
// in through it (connector "corp") and issues tokens to its own clients.
type federation struct {
	up, down *env
	app      *httptest.Server
	arrived  chan url.Values
}

// startFederation starts both; the downstream's spa client redirects to
// app, which reports each callback's query on arrived.
func startFederation(t *testing.T, tweak ...func(up, down *config.Config)) *federation {
	f := &federation{arrived: make(chan url.Values, 4)}
	f.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/spa" {
			f.arrived <- r.URL.Query()
		}
		w.Write([]byte("<!doctype html><title>app</title><p>signed in</p>"))
	}))
	t.Cleanup(f.app.Close)
	// Each needs the other's URL: the upstream starts first and learns
	// the downstream's callback by a reload.
	var upCfg *config.Config
	f.up = start(t, func(c *config.Config) {
		c.Users[0].Groups = []string{"hr"}
		upCfg = c
	})
	f.down = start(t, func(c *config.Config) {
		c.Connectors = []config.Connector{{ID: "corp", Name: "Example Corp", Domains: []string{"corp.example"},
			OIDC: &config.OIDCConnector{Issuer: f.up.srv.URL, ClientID: "downstream", ClientSecret: "downstream-secret-123",
				Scopes: []string{"openid", "profile", "email"}, UserInfo: true}}}
		spa := c.Client("spa")
		spa.RedirectURIs = append(spa.RedirectURIs, f.app.URL+"/spa")
		for _, tw := range tweak {
			tw(upCfg, c)
		}
	})
	next := *upCfg
	next.Clients = append(slices.Clone(upCfg.Clients), config.Client{ID: "downstream", Name: "Shop sign-in", Secret: "downstream-secret-123",
		GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{f.down.srv.URL + "/upstream/corp/callback"},
		Scopes: []string{"openid", "profile", "email"}, FirstParty: true})
	if _, err := f.up.server.Reload(&next); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestUpstreamSignInBrowser (issue 12): a person signs in at the
// downstream Gatehouse through the upstream one in headless Chromium —
// the downstream's login page, the upstream's own login page, back — and
// the client gets an audience-correct token for the person "corp:alice".
func TestUpstreamSignInBrowser(t *testing.T) {
	bctx := testkit.Browser(t, 1024, 768)
	f := startFederation(t)
	verifier := oauth2.GenerateVerifier()
	auth := f.down.srv.URL + "/authorize?" + url.Values{"client_id": {"spa"}, "redirect_uri": {f.app.URL + "/spa"},
		"response_type": {"code"}, "scope": {"openid orders:read hr:read"}, "state": {"st"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}.Encode()
	if err := chromedp.Do(bctx, chromedp.Navigate(auth), chromedp.WaitVisible(chromedp.CSS(`button[value="corp"]`))); err != nil {
		t.Fatalf("downstream login page: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`button[value="corp"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`button[value="corp"]`)), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("to the upstream: %v", err)
	}
	where, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href`))
	if err != nil || !strings.HasPrefix(where, f.up.srv.URL+"/authorize") {
		t.Fatalf("expected the upstream's login page, at %s (%v)", where, err)
	}
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-password-1"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	); err != nil {
		t.Fatalf("upstream sign-in: %v", err)
	}
	var q url.Values
	select {
	case q = <-f.arrived:
	case <-bctx.Done():
		t.Fatal("the browser never reached the client")
	}
	if q.Get("error") != "" || q.Get("code") == "" || q.Get("state") != "st" {
		t.Fatalf("client callback: %v", q)
	}
	tok := tokenRequest(t, f.down, "", url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {q.Get("code")},
		"redirect_uri": {f.app.URL + "/spa"}, "code_verifier": {verifier}})
	id, _ := claimsFromJWKS(t, f.down, tok["id_token"].(string))
	if id["sub"] != "corp:alice" || id["idp"] != "corp" || id["acr"] != "urn:gatehouse:acr:federated" {
		t.Errorf("ID token: %v", id)
	}
	if got := audOf(t, f.down, tok["access_token"].(string)); got != `["spa","order-status-api","hr-api"]` {
		t.Errorf("access token aud %s", got)
	}
	p, err := f.down.store.GetPerson(context.Background(), "corp:alice")
	if err != nil || p.Source != "corp" || p.Username != "alice" || !strings.Contains(string(p.Claims), "alice@example.com") {
		t.Errorf("recorded person: %+v %v", p, err)
	}
}

// upstreamCallback runs a sign-in through the upstream over plain HTTP up
// to the callback URL the upstream sends the browser to, without
// following it: the test then decides what reaches the downstream.
func upstreamCallback(t *testing.T, f *federation, b *browser, extra url.Values) *url.URL {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"client_id": {"spa"}, "redirect_uri": {f.app.URL + "/spa"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "idp_hint": {"corp"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		q[k] = v
	}
	p := b.get(f.down.srv.URL + "/authorize?" + q.Encode())
	if p.location == nil || !strings.HasPrefix(p.location.String(), f.up.srv.URL) {
		t.Fatalf("idp_hint did not go straight to the upstream: %d %v %.300s", p.status, p.location, p.body)
	}
	p = b.get(p.location.String())
	if p.location == nil {
		p = b.login(f.up, p, "alice", "alice-password-1")
	}
	if p.location == nil || !strings.HasPrefix(p.location.String(), f.down.srv.URL+"/upstream/corp/callback") {
		t.Fatalf("upstream did not send back: %d %v %.300s", p.status, p.location, p.body)
	}
	return p.location
}

// TestUpstreamCallbackChecks (issue 12): a callback with another state, a
// replayed one, one in another browser, an upstream refusal, and an
// upstream that is down — each refused with a clear answer.
func TestUpstreamCallbackChecks(t *testing.T) {
	f := startFederation(t)

	t.Run("good", func(t *testing.T) {
		b := newBrowser(t)
		cb := upstreamCallback(t, f, b, nil)
		p := b.get(cb.String())
		if p.location == nil || p.location.Query().Get("code") == "" {
			t.Fatalf("good callback: %d %v %.300s", p.status, p.location, p.body)
		}
		// The same callback again, even with the cookie it came with.
		replay := newBrowser(t)
		replay.c.Jar = b.c.Jar
		if p := replay.get(cb.String()); p.status != http.StatusBadRequest {
			t.Errorf("replayed callback: %d %v", p.status, p.location)
		}
	})
	t.Run("wrong state", func(t *testing.T) {
		b := newBrowser(t)
		cb := upstreamCallback(t, f, b, nil)
		q := cb.Query()
		q.Set("state", "forged")
		cb.RawQuery = q.Encode()
		if p := b.get(cb.String()); p.status != http.StatusBadRequest || p.location != nil {
			t.Errorf("wrong state: %d %v %.200s", p.status, p.location, p.body)
		}
	})
	t.Run("another browser", func(t *testing.T) {
		cb := upstreamCallback(t, f, newBrowser(t), nil)
		if p := newBrowser(t).get(cb.String()); p.status != http.StatusBadRequest || !strings.Contains(p.body, "not valid here") {
			t.Errorf("callback in another browser: %d %.200s", p.status, p.body)
		}
	})
	t.Run("upstream refuses", func(t *testing.T) {
		b := newBrowser(t)
		cb := upstreamCallback(t, f, b, nil)
		q := url.Values{"error": {"access_denied"}, "state": {cb.Query().Get("state")}, "iss": {f.up.srv.URL}}
		cb.RawQuery = q.Encode()
		p := b.get(cb.String())
		if p.location == nil || p.location.Query().Get("error") != "access_denied" || p.location.Query().Get("state") != "st" {
			t.Errorf("upstream refusal: %d %v", p.status, p.location)
		}
	})
	t.Run("prompt=none without an upstream session", func(t *testing.T) {
		b := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		q := url.Values{"client_id": {"spa"}, "redirect_uri": {f.app.URL + "/spa"}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"st"}, "idp_hint": {"corp"}, "prompt": {"none"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
		p := b.get(f.down.srv.URL + "/authorize?" + q.Encode())
		p = b.get(p.location.String()) // the upstream answers login_required at once
		if p.location == nil {
			t.Fatalf("upstream prompt=none: %d %.200s", p.status, p.body)
		}
		p = b.get(p.location.String())
		if p.location == nil || p.location.Query().Get("error") != "login_required" {
			t.Errorf("prompt=none: %d %v", p.status, p.location)
		}
	})
	t.Run("login_hint domain", func(t *testing.T) {
		b := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		q := url.Values{"client_id": {"spa"}, "redirect_uri": {f.app.URL + "/spa"}, "response_type": {"code"},
			"scope": {"openid"}, "login_hint": {"alice@corp.example"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
		p := b.get(f.down.srv.URL + "/authorize?" + q.Encode())
		if p.location == nil || !strings.HasPrefix(p.location.String(), f.up.srv.URL) || p.location.Query().Get("login_hint") != "alice@corp.example" {
			t.Errorf("login_hint routing: %d %v", p.status, p.location)
		}
	})
}

// TestUpstreamOnAnotherIssuer: a connector whose provider's discovery
// names another issuer never sends anyone there.
func TestUpstreamOnAnotherIssuer(t *testing.T) {
	f := startFederation(t, func(_, down *config.Config) {
		// Same server, another name: its discovery says 127.0.0.1.
		down.Connectors[0].OIDC.Issuer = strings.Replace(down.Connectors[0].OIDC.Issuer, "127.0.0.1", "localhost", 1)
	})
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"client_id": {"spa"}, "redirect_uri": {f.app.URL + "/spa"}, "response_type": {"code"},
		"scope": {"openid"}, "idp_hint": {"corp"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	p := b.get(f.down.srv.URL + "/authorize?" + q.Encode())
	if p.location != nil || p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "Example Corp") {
		t.Errorf("mismatched issuer: %d %v %.300s", p.status, p.location, p.body)
	}
}
