package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/proxy"
)

// Issue 9 item 3: headers with which a client could make the upstream run
// another method or path than the one authorised, or believe another
// client address, scheme, host or port than the proxy saw, never reach
// the upstream; the Authorization header is forwarded exactly as before.

// overrideHeaders are sent by the client in TestOverrideHeadersStripped.
// Names are written as on the wire (the client does not canonicalise
// them), including '_' spellings, which CGI, PHP and WSGI map to the same
// variable as the '-' spelling.
var overrideHeaders = map[string]string{
	// Method and path overrides.
	"X-HTTP-Method-Override": "DELETE",
	"X-HTTP-Method":          "DELETE",
	"X-Method-Override":      "DELETE",
	"x-original-method":      "DELETE",
	"X-Original-URL":         "/admin/users",
	"X-Original-URI":         "/admin/users",
	"X-Rewrite-URL":          "/admin/users",
	"X-Override-URL":         "/admin/users",
	"X-Envoy-Original-Path":  "/admin/users",
	"X-Forwarded-Uri":        "/admin/users",
	"X-Forwarded-Path":       "/admin/users",
	"X-Forwarded-Method":     "DELETE",
	"X-Forwarded-Prefix":     "/admin",
	"X_HTTP_Method_Override": "DELETE",
	"X_Original_URL":         "/admin/users",
	// Client address, scheme, host and port.
	"X-Real-IP":            "10.0.0.1",
	"x_real_ip":            "10.0.0.1",
	"True-Client-IP":       "10.0.0.1",
	"X-Client-IP":          "10.0.0.1",
	"Client-IP":            "10.0.0.1",
	"X-Cluster-Client-IP":  "10.0.0.1",
	"CF-Connecting-IP":     "10.0.0.1",
	"Fastly-Client-IP":     "10.0.0.1",
	"X-Originating-IP":     "10.0.0.1",
	"X-Remote-IP":          "10.0.0.1",
	"X-Remote-Addr":        "10.0.0.1",
	"X-ProxyUser-Ip":       "10.0.0.1",
	"X-Forwarded":          "for=10.0.0.1",
	"Forwarded":            "for=10.0.0.1;proto=https;host=admin.internal",
	"X-Forwarded-For":      "10.0.0.1",
	"X_Forwarded_For":      "10.0.0.1",
	"x_forwarded-host":     "admin.internal",
	"X-Forwarded-Port":     "443",
	"X-Forwarded-Ssl":      "on",
	"X-Forwarded-Scheme":   "https",
	"X-Forwarded-Protocol": "https",
	"X-Forwarded-Server":   "admin.internal",
	"X-Url-Scheme":         "https",
	"Front-End-Https":      "on",
	"X-Host":               "admin.internal",
	"X-Original-Host":      "admin.internal",
}

// proxyHeaders are the only forwarding headers the upstream may see, all
// set by the proxy.
var proxyHeaders = map[string]bool{
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Real-Ip": true,
}

// TestOverrideHeadersStripped sends every override and client-address
// header through a real proxy server to a real upstream: none arrives, the
// proxy's own X-Forwarded-For/-Host/-Proto and X-Real-IP carry what the
// proxy saw, and Authorization arrives byte for byte as sent.
func TestOverrideHeadersStripped(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	tok := e.token("openid orders:read")
	norm := func(k string) string { return strings.ToLower(strings.ReplaceAll(k, "_", "-")) }
	// Naming a header in Connection removes the client's copy (hop-by-hop),
	// never the one the proxy sets.
	for _, connection := range []string{"", "X-Real-IP, X-Forwarded-For, X-Gatehouse-Subject"} {
		req, _ := http.NewRequest("GET", srv.URL+"/orders/42", nil)
		req.Host = "api.example.com"
		for k, v := range overrideHeaders {
			req.Header[k] = []string{v}
		}
		req.Header["Authorization"] = []string{"Bearer " + tok}
		if connection != "" {
			req.Header.Set("Connection", connection)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("Connection %q: status %d", connection, resp.StatusCode)
		}
		h, _, path := e.up.last()
		if path != "/orders/42" {
			t.Errorf("path %q", path)
		}
		for k, v := range h {
			if proxyHeaders[k] {
				continue
			}
			for name, sent := range overrideHeaders {
				if norm(k) == norm(name) || strings.Contains(strings.Join(v, ","), sent) {
					t.Errorf("Connection %q: %s: %q reached the upstream", connection, k, v)
					break
				}
			}
		}
		want := map[string]string{
			"X-Forwarded-For":   "127.0.0.1",
			"X-Real-Ip":         "127.0.0.1",
			"X-Forwarded-Host":  "api.example.com",
			"X-Forwarded-Proto": "http",
			proxy.HeaderSubject: "user-1",
		}
		if got := h.Values("Authorization"); len(got) != 0 {
			t.Errorf("Connection %q: the token was forwarded: %q", connection, got)
		}
		for k, v := range want {
			if got := h.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("Connection %q: %s: %q, want %q", connection, k, got, v)
			}
		}
	}
}

// TestCredentialTrailersStripped: a request trailer was never checked, so
// neither an Authorization trailer nor an override or client-address
// trailer reaches the upstream; without ForwardToken no token does.
func TestCredentialTrailersStripped(t *testing.T) {
	for _, strip := range []bool{false, true} {
		e := newEnv(t, func(c *proxy.Config) { c.ForwardToken = !strip })
		srv := httptest.NewServer(e.h)
		tok := e.token("orders:read")
		other := e.token("orders:read orders:admin")
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", srv.URL+"/orders", pr)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Trailer = http.Header{"Authorization": nil, "X-Real-Ip": nil, "X-Http-Method-Override": nil, "X-Forwarded-For": nil}
		go func() {
			io.WriteString(pw, "body")
			req.Trailer.Set("Authorization", "Bearer "+other)
			req.Trailer.Set("X-Real-Ip", "10.0.0.1")
			req.Trailer.Set("X-Http-Method-Override", "DELETE")
			req.Trailer.Set("X-Forwarded-For", "10.0.0.1")
			pw.Close()
		}()
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		e.up.mu.Lock()
		h, tr := e.up.header, e.up.trailer
		e.up.mu.Unlock()
		for k, v := range tr {
			t.Errorf("strip %v: trailer %s: %q reached the upstream", strip, k, v)
		}
		for _, v := range h.Values("Trailer") {
			t.Errorf("strip %v: Trailer: %q announced to the upstream", strip, v)
		}
		switch got := h.Values("Authorization"); {
		case strip && len(got) != 0:
			t.Errorf("without ForwardToken: Authorization %q forwarded", got)
		case !strip && (len(got) != 1 || got[0] != "Bearer "+tok):
			t.Errorf("Authorization %q, want the checked header only", got)
		}
	}
}
