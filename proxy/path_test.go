package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/verify"
)

// Issue 9 item 2: in route mode the token is checked for the route the
// path matches, so the upstream must not be able to read the forwarded
// path as another route. These tests put a route-mode proxy in front of
// an upstream that records the request-target exactly as it arrived.

// pathRoutes: the token used below carries orders:read and files:read but
// not admin, so any way of reaching /admin/ through another route is an
// authorisation bypass.
var pathRoutes = []oauth.Route{
	{Path: "/orders/{id}", Methods: []string{"GET"}, Scopes: []string{"orders:read"}},
	{Path: "/orders/{id}/notes/{$}", Scopes: []string{"orders:read"}},
	{Path: "/static/"},
	{Path: "/files/{path...}", Methods: []string{"GET"}, Scopes: []string{"files:read"}},
	{Path: "/admin/", Scopes: []string{"admin"}},
}

// rawUpstream records the request-target (RequestURI) of every request,
// as sent on the wire by the proxy.
type rawUpstream struct {
	srv  *httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	uri  string
}

func newRawUpstream(t testing.TB) *rawUpstream {
	u := &rawUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		u.mu.Lock()
		u.uri = r.RequestURI
		u.mu.Unlock()
		io.WriteString(w, "upstream")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// take returns the request-target of the last request and the number of
// requests since the last take.
func (u *rawUpstream) take() (uri string, hits int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	uri, u.uri = u.uri, ""
	return uri, u.hits.Swap(0)
}

type routeProxy struct {
	h     http.Handler
	up    *rawUpstream
	base  string      // the upstream URL's path
	token string      // orders:read files:read
	logs  *syncBuffer // the access log; nil in the fuzz target, which would only grow it
}

// newRouteProxy returns a proxy in route mode with routes, or in scope
// mode (orders:read) when routes is nil, in front of a rawUpstream whose
// URL has the path base.
func newRouteProxy(t testing.TB, base string, routes []oauth.Route) *routeProxy {
	t.Helper()
	k := testkit.ES256Key("paths")
	const iss = "https://id.example.com"
	v, err := verify.New(context.Background(), verify.Config{
		Issuer: iss, Audience: api, StaticJWKS: testkit.JWKS(k),
		Clock: func() time.Time { return testkit.Epoch }, CacheSize: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	rp := &routeProxy{up: newRawUpstream(t), base: base}
	rp.token = k.Sign(testkit.AccessClaims(iss, client, testkit.Epoch, "orders:read files:read", api))
	u, err := url.Parse(rp.up.srv.URL + base)
	if err != nil {
		t.Fatal(err)
	}
	cfg := proxy.Config{Verifier: v, Upstream: u, Realm: api}
	if _, fuzzing := t.(*testing.F); !fuzzing {
		rp.logs = &syncBuffer{}
		cfg.Logger = slog.New(slog.NewJSONHandler(rp.logs, nil))
	}
	if routes != nil {
		if cfg.Routes, err = proxy.NewRoutes(routes); err != nil {
			t.Fatal(err)
		}
	} else {
		cfg.Scopes = []string{"orders:read"}
	}
	if rp.h, err = proxy.New(cfg); err != nil {
		t.Fatal(err)
	}
	return rp
}

// rawDo sends "GET target" over a new connection, so the request-target
// reaches the proxy byte for byte as an attacker's client would send it
// (Go's client would normalise some of these paths).
func rawDo(t *testing.T, addr, target, token string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: api.example.com\r\n%sConnection: close\r\n\r\n", target, auth)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestRoutePathAmbiguousRefused: paths whose segments an upstream could
// read differently from the proxy's route match are refused with 400, with
// or without a token, and never reach the upstream.
func TestRoutePathAmbiguousRefused(t *testing.T) {
	for _, base := range []string{"", "/api/v1"} {
		rp := newRouteProxy(t, base, pathRoutes)
		srv := httptest.NewServer(rp.h)
		defer srv.Close()
		for _, tc := range []struct{ path, why string }{
			{"/static/..%2fadmin/users", "encoded '/'"},
			{"/static/..%2Fadmin/users", "encoded '/'"},
			{"/static/%2e%2e/admin/users", "encoded '.'"},
			{"/static/%2E%2e/admin/users", "encoded '.'"},
			{"/static/.%2E/admin/users", "encoded '.'"},
			{"/static/a%2ejs", "encoded '.'"},
			{"/static/..%5cadmin/users", `encoded '\'`},
			{"/static/..%5Cadmin/users", `encoded '\'`},
			{`/static/..\admin/users`, `encoded '\'`}, // forwarded as %5C
			{"/static/%252e%252e/admin/users", "encoded '%'"},
			{"/static/%252fadmin", "encoded '%'"},
			{"/static/a%00.js", "encoded control character"},
			{"/static/a%0d%0aX:%20y", "encoded control character"},
			{"/orders/..%2f..%2fadmin%2fusers", "encoded '/'"},
			{"/orders/%2e%2e", "encoded '.'"},
			{"/orders/%2E%2E%2Fadmin", "encoded '.'"},
			{"/files/a%2F..%2F..%2Fadmin/users", "encoded '/'"},
			{"/static//admin/users", "empty segment"},
			{"//admin/users", "empty segment"},
			{"/static/./x.js", "dot segment"},
			{"/static/../admin/users", "dot segment"},
			{"/files/a/../../admin/users", "dot segment"},
			{"/./admin/users", "dot segment"},
			{"/static/.", "dot segment"},
			{"/static/..", "dot segment"},
			{"/static/..;/admin/users", "';'"},
			{"/orders/1;jsessionid=x", "';'"},
			{"/orders/1%3bx", "encoded ';'"},
			{"/static/%c0%ae%c0%ae/admin/users", "not UTF-8"},
			{"/static/%c0%afadmin", "not UTF-8"},
			{"/static/%e0%80%ae%e0%80%ae/admin", "not UTF-8"},
		} {
			for _, tok := range []string{rp.token, ""} {
				status, body := rawDo(t, srv.Listener.Addr().String(), tc.path, tok)
				if status != http.StatusBadRequest || !strings.Contains(body, tc.why) {
					t.Errorf("base %q, %s (token %v): %d %q, want 400 naming %q", base, tc.path, tok != "", status, body, tc.why)
				}
				if uri, n := rp.up.take(); n != 0 {
					t.Errorf("base %q, %s (token %v) reached the upstream as %s", base, tc.path, tok != "", uri)
				}
				lines := rp.logs.JSONLines(t)
				if l := lines[len(lines)-1]; l["status"] != 400.0 || l["decision"] != "deny" ||
					!strings.HasPrefix(l["reason"].(string), "ambiguous path: ") {
					t.Errorf("%s: access log %v", tc.path, l)
				}
			}
		}
	}
}

// TestRoutePathForwardedAsMatched: canonical paths are matched and
// forwarded with exactly the escaped path the route was matched on (the
// upstream's base path in front).
func TestRoutePathForwardedAsMatched(t *testing.T) {
	for _, base := range []string{"", "/api/v1"} {
		rp := newRouteProxy(t, base, pathRoutes)
		srv := httptest.NewServer(rp.h)
		defer srv.Close()
		for _, tc := range []struct{ path, forwarded string }{
			{"/orders/42", "/orders/42"},
			{"/orders/42?x=%2F..", "/orders/42?x=%2F.."}, // the query is not a path
			{"/orders/caf%C3%A9", "/orders/caf%C3%A9"},
			{"/orders/%41", "/orders/%41"}, // an encoded letter is the letter to everyone
			{"/orders/a%20b", "/orders/a%20b"},
			{"/orders/a{b}", "/orders/a%7Bb%7D"}, // Go's canonical escaping, matched and sent
			{"/orders/42/notes/", "/orders/42/notes/"},
			{"/static/", "/static/"},
			{"/static/app.min.js", "/static/app.min.js"},
			{"/static/.well-known/x", "/static/.well-known/x"},
			{"/static/...", "/static/..."},
			{"/files/a/b/c.txt", "/files/a/b/c.txt"},
			{"/files/a/b/", "/files/a/b/"},
		} {
			status, body := rawDo(t, srv.Listener.Addr().String(), tc.path, rp.token)
			uri, n := rp.up.take()
			if status != http.StatusOK || n != 1 || uri != base+tc.forwarded {
				t.Errorf("base %q, %s: %d %q, upstream got %d requests, last %q; want 200 and %q",
					base, tc.path, status, body, n, uri, base+tc.forwarded)
			}
		}
		// What matches no route is still refused after the path check.
		for path, want := range map[string]int{"/admin/users": 403, "/nowhere": 404, "/static": 307} {
			if status, _ := rawDo(t, srv.Listener.Addr().String(), path, rp.token); status != want {
				t.Errorf("%s: %d, want %d", path, status, want)
			}
		}
		if uri, n := rp.up.take(); n != 0 {
			t.Errorf("an unrouted request reached the upstream as %s", uri)
		}
	}
}

// TestScopeModeForwardsPathsAsSent: without routes every path needs the
// same scopes, so nothing depends on how the upstream splits the path and
// the proxy forwards it unchanged (documented in the README).
func TestScopeModeForwardsPathsAsSent(t *testing.T) {
	rp := newRouteProxy(t, "", nil)
	srv := httptest.NewServer(rp.h)
	defer srv.Close()
	for _, p := range []string{"/repos/group%2Fname", "/a/..%2fb", "/a;v=1"} {
		status, _ := rawDo(t, srv.Listener.Addr().String(), p, rp.token)
		if uri, _ := rp.up.take(); status != 200 || uri != p {
			t.Errorf("%s: %d, forwarded as %q", p, status, uri)
		}
	}
}

// routeMirror is a ServeMux with the same patterns as proxy.Routes builds
// from pathRoutes, to learn which route a path matches.
func routeMirror(t testing.TB) *http.ServeMux {
	mux := http.NewServeMux()
	for _, r := range pathRoutes {
		if len(r.Methods) == 0 {
			mux.Handle(r.Path, matchedRoute{})
		}
		for _, m := range r.Methods {
			mux.Handle(m+" "+r.Path, matchedRoute{})
		}
	}
	return mux
}

type matchedRoute struct{}

func (matchedRoute) ServeHTTP(http.ResponseWriter, *http.Request) {}

// pattern returns the route pattern r matches, "" for none.
func pattern(mux *http.ServeMux, r *http.Request) string {
	if h, p := mux.Handler(r); h == (matchedRoute{}) {
		return p
	}
	return ""
}

// decodeLoose percent-decodes like a lenient server: a '%' that does not
// start a valid escape stays as it is.
func decodeLoose(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := url.PathUnescape(s[i : i+3]); err == nil {
				b.WriteString(v)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// hostileView is the path as the most careless upstream could read it:
// decoded until nothing changes (double decoding), overlong UTF-8 decoded,
// '\' as '/', cut at NUL, ";parameters" removed from every segment (Java
// servlet containers), and dot segments and "//" resolved, keeping a
// trailing slash.
func hostileView(escaped string) string {
	p := escaped
	for range 3 {
		p = decodeLoose(p)
	}
	// Overlong UTF-8 as lenient decoders of old read it.
	p = strings.NewReplacer("\xc0\xae", ".", "\xe0\x80\xae", ".", "\xc0\xaf", "/", "\xe0\x80\xaf", "/", "\xc1\x9c", `\`).Replace(p)
	p = strings.ReplaceAll(p, `\`, "/")
	if i := strings.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if j := strings.IndexByte(s, ';'); j >= 0 {
			segs[i] = s[:j]
		}
	}
	p = strings.Join(segs, "/")
	trailing := strings.HasSuffix(p, "/")
	p = path.Clean("/" + p)
	if trailing && p != "/" {
		p += "/"
	}
	return p
}

// FuzzRoutePath: whatever the request-target, a request the route-mode
// proxy forwards arrives upstream with exactly the escaped path the route
// was matched on (after the upstream's base path), and even the most
// careless reading of that path (hostileView) names the same route.
func FuzzRoutePath(f *testing.F) {
	for _, s := range []string{
		"/orders/42", "/orders/42/notes/", "/static/a.js", "/files/a/b", "/admin/x",
		"/static/..%2fadmin", "/static/%2E%2e/admin", "/static/..%5Cadmin", `/static/..\admin`,
		"/static//admin", "/static/./x", "/static/../admin", "/static/%252e%252e/admin",
		"/static/..;/admin", "/orders/1%3b", "/static/%c0%ae%c0%ae/admin", "/static/a%00",
		"/orders/%41", "/orders/a{b}", "/files/a/b/?q=%2F", "*", "/orders/42#x", "/%2e%2e/admin",
	} {
		f.Add(s)
	}
	const base = "/api/v1"
	rp := newRouteProxy(f, base, pathRoutes)
	mirror := routeMirror(f)
	f.Fuzz(func(t *testing.T, target string) {
		if strings.ContainsAny(target, " \t\r\n") {
			return // not one request-target
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
			"GET " + target + " HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer " + rp.token + "\r\n\r\n")))
		if err != nil {
			return // net/http answers 400 before any handler runs
		}
		matched := req.URL.EscapedPath()
		want := pattern(mirror, req)
		w := httptest.NewRecorder()
		rp.h.ServeHTTP(w, req)
		uri, hits := rp.up.take()
		if hits == 0 {
			switch w.Code {
			case 400, 401, 403, 404, 405, 307:
			default:
				t.Fatalf("%q: refused with %d %q", target, w.Code, w.Body)
			}
			return
		}
		if w.Code != 200 || hits != 1 {
			t.Fatalf("%q: %d, %d upstream requests", target, w.Code, hits)
		}
		got, _, _ := strings.Cut(uri, "?")
		if got != base+matched {
			t.Fatalf("%q: matched %q, forwarded %q", target, matched, got)
		}
		if want == "" {
			t.Fatalf("%q forwarded as %q without matching a route", target, got)
		}
		view := hostileView(strings.TrimPrefix(got, base))
		if v := pattern(mirror, &http.Request{Method: "GET", Host: "x", URL: &url.URL{Path: view}}); v != want {
			t.Fatalf("%q: matched %q, but the upstream may read %q, which is %q", target, want, view, v)
		}
	})
}
