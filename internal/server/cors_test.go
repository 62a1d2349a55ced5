package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/config"
)

// Origins of the CORS tests. The test configuration's public client "spa"
// redirects to http://127.0.0.1:3000/spa; corsConfig adds the rest.
const (
	originPublicRedirect = "http://127.0.0.1:3000"        // a public client's redirect URI
	originListed         = "https://bff.example.com"      // a confidential client's allowed_origins
	originConfidential   = "https://portal.example.com"   // only a confidential client's redirect URI
	originOther          = "https://attacker.example.net" // nobody's
)

// corsConfig registers originListed and originConfidential.
func corsConfig(c *config.Config) {
	wp := c.Client("web-portal")
	wp.RedirectURIs = append(wp.RedirectURIs, originConfidential+"/callback")
	wp.AllowedOrigins = []string{originListed}
}

// corsRequest sends method to path from origin; a preflight when
// preflightFor names the method it announces.
func corsRequest(t *testing.T, e *env, method, path, origin, preflightFor string, body url.Values) *http.Response {
	t.Helper()
	var rd *strings.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if preflightFor != "" {
		req.Header.Set("Access-Control-Request-Method", preflightFor)
		req.Header.Set("Access-Control-Request-Headers", "authorization, dpop")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// varies reports whether the response's Vary names Origin.
func varies(resp *http.Response) bool {
	for _, v := range resp.Header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Origin") {
				return true
			}
		}
	}
	return false
}

// TestCORSAllowlistedEndpoints checks token, userinfo, revocation and
// introspection: preflights and actual requests from allowlisted origins
// get the origin back, others get no CORS header, and Vary: Origin is on
// every answer; credentials are never allowed.
func TestCORSAllowlistedEndpoints(t *testing.T) {
	e := start(t, corsConfig)
	endpoints := []struct {
		path, method, methods string
		body                  url.Values
		status                int // of the actual request, which the handler answers
	}{
		{"/token", "POST", "POST", url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}, "client_id": {"spa"}}, http.StatusBadRequest},
		{"/userinfo", "GET", "GET, POST", nil, http.StatusUnauthorized},
		{"/revoke", "POST", "POST", url.Values{"token": {"bogus"}, "client_id": {"spa"}}, http.StatusOK},
		{"/introspect", "POST", "POST", url.Values{"token": {"bogus"}}, http.StatusUnauthorized},
	}
	origins := []struct {
		origin  string
		allowed bool
	}{
		{originPublicRedirect, true},
		{originListed, true},
		{originConfidential, false},
		{originOther, false},
		{"null", false},
		{"http://127.0.0.1:3001", false}, // another port is another origin
	}
	for _, ep := range endpoints {
		for _, o := range origins {
			t.Run(ep.path+" "+o.origin, func(t *testing.T) {
				pre := corsRequest(t, e, http.MethodOptions, ep.path, o.origin, ep.method, nil)
				act := corsRequest(t, e, ep.method, ep.path, o.origin, "", ep.body)
				for _, resp := range []*http.Response{pre, act} {
					if !varies(resp) {
						t.Errorf("%s: Vary %q lacks Origin", resp.Request.Method, resp.Header.Values("Vary"))
					}
					if v := resp.Header.Get("Access-Control-Allow-Credentials"); v != "" {
						t.Errorf("%s: Access-Control-Allow-Credentials: %s", resp.Request.Method, v)
					}
				}
				if act.StatusCode != ep.status {
					t.Errorf("actual request: status %d, want %d (the handler's answer)", act.StatusCode, ep.status)
				}
				if !o.allowed {
					// 403, not the handler's 405 for OPTIONS: it never ran.
					if pre.StatusCode != http.StatusForbidden {
						t.Errorf("preflight: status %d, want 403", pre.StatusCode)
					}
					for _, resp := range []*http.Response{pre, act} {
						for k := range resp.Header {
							if strings.HasPrefix(k, "Access-Control-") {
								t.Errorf("%s: refused origin got %s: %s", resp.Request.Method, k, resp.Header.Get(k))
							}
						}
					}
					return
				}
				if pre.StatusCode != http.StatusNoContent {
					t.Errorf("preflight: status %d, want 204", pre.StatusCode)
				}
				want := map[string]string{
					"Access-Control-Allow-Origin":  o.origin,
					"Access-Control-Allow-Methods": ep.methods,
					"Access-Control-Allow-Headers": "Authorization, Content-Type, DPoP",
					"Access-Control-Max-Age":       "7200",
				}
				for k, v := range want {
					if got := pre.Header.Get(k); got != v {
						t.Errorf("preflight %s: %q, want %q", k, got, v)
					}
				}
				if got := act.Header.Get("Access-Control-Allow-Origin"); got != o.origin {
					t.Errorf("actual Access-Control-Allow-Origin %q, want %q", got, o.origin)
				}
				if got := act.Header.Get("Access-Control-Expose-Headers"); got != "WWW-Authenticate, DPoP-Nonce" {
					t.Errorf("actual Access-Control-Expose-Headers %q", got)
				}
			})
		}
	}
}

// TestCORSPublicDocuments checks discovery and JWKS: "*" for every
// origin, with or without Origin, on preflights and GETs.
func TestCORSPublicDocuments(t *testing.T) {
	e := start(t, corsConfig)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/jwks.json"} {
		for _, origin := range []string{originPublicRedirect, originOther, ""} {
			t.Run(path+" "+origin, func(t *testing.T) {
				get := corsRequest(t, e, http.MethodGet, path, origin, "", nil)
				if get.StatusCode != http.StatusOK || get.Header.Get("Access-Control-Allow-Origin") != "*" {
					t.Errorf("GET: %d, Access-Control-Allow-Origin %q", get.StatusCode, get.Header.Get("Access-Control-Allow-Origin"))
				}
				if get.Header.Get("Access-Control-Allow-Credentials") != "" {
					t.Error("GET allows credentials")
				}
				if origin == "" {
					return
				}
				pre := corsRequest(t, e, http.MethodOptions, path, origin, "GET", nil)
				if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "*" ||
					pre.Header.Get("Access-Control-Allow-Methods") != "GET, HEAD" {
					t.Errorf("preflight: %d %v", pre.StatusCode, pre.Header)
				}
			})
		}
	}
}

// TestCORSNeverOnPages checks that the authorization endpoint (login and
// consent pages), logout and the other non-API paths carry no CORS
// header even for an allowlisted origin, and answer a preflight as they
// answer any OPTIONS request.
func TestCORSNeverOnPages(t *testing.T) {
	e := start(t, corsConfig)
	auth := "/authorize?" + url.Values{"client_id": {"spa"}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {"http://127.0.0.1:3000/spa"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}.Encode()
	paths := []string{auth, "/authorize", "/logout", "/routes", "/static/", "/healthz", "/metrics", "/nowhere"}
	for _, path := range paths {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodOptions} {
			for _, origin := range []string{originPublicRedirect, originListed} {
				preflightFor := ""
				if method == http.MethodOptions {
					preflightFor = "POST"
				}
				resp := corsRequest(t, e, method, path, origin, preflightFor, nil)
				if resp.StatusCode == http.StatusNoContent {
					t.Errorf("%s %s from %s: a preflight answer (204)", method, path, origin)
				}
				for k := range resp.Header {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("%s %s from %s: %s: %s", method, path, origin, k, resp.Header.Get(k))
					}
				}
				if slices.Contains(resp.Header.Values("Vary"), "Origin") {
					t.Errorf("%s %s: Vary: Origin", method, path)
				}
			}
		}
	}
}
