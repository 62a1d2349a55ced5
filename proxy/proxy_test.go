package proxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/verify"
)

const (
	api    = "order-status-api"
	client = "customer-portal"
)

// upstream is an httptest API that counts requests and remembers the last
// one as it arrived.
type upstream struct {
	srv  *httptest.Server
	hits atomic.Int64

	mu      sync.Mutex
	header  http.Header
	trailer http.Header
	host    string
	path    string
	body    int64
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.header, u.trailer, u.host, u.path, u.body = r.Header.Clone(), r.Trailer.Clone(), r.Host, r.URL.Path, n
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "upstream says hi")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) url(t testing.TB) *url.URL {
	p, err := url.Parse(u.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (u *upstream) last() (http.Header, string, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.header, u.host, u.path
}

type syncBuffer = testkit.SyncBuffer

type env struct {
	iss  *testkit.Issuer
	key  *testkit.Key
	v    *verify.Verifier
	up   *upstream
	logs *syncBuffer
	h    http.Handler
}

func newEnv(t testing.TB, edit ...func(*proxy.Config)) *env {
	t.Helper()
	k := testkit.ES256Key("k1")
	iss := testkit.NewIssuer(t, k)
	v, err := verify.New(context.Background(), verify.Config{Issuer: iss.URL, Audience: api, Clock: iss.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{iss: iss, key: k, v: v, up: newUpstream(t), logs: &syncBuffer{}}
	cfg := proxy.Config{
		Verifier: v,
		Upstream: e.up.url(t),
		Scopes:   []string{"orders:read"},
		Realm:    api,
		Logger:   slog.New(slog.NewJSONHandler(e.logs, nil)),
	}
	for _, f := range edit {
		f(&cfg)
	}
	e.h, err = proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) token(scope string) string { return e.iss.Token(client, scope, client, api) }

// serve sends r to the proxy handler directly: the response and the access
// log line are complete when it returns.
func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func get(path, token string) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// TestForwarding: an accepted request reaches the upstream with the
// verified identity, the proxy's X-Forwarded-* and the Authorization
// header as sent; spoofed identity headers in every spelling are gone.
func TestForwarding(t *testing.T) {
	e := newEnv(t)
	tok := e.token("openid orders:read")
	r := get("/orders/42?x=1", tok)
	r.Host = "api.example.com"
	r.RemoteAddr = "192.0.2.7:4711"
	spoofed := map[string]string{
		"X-Gatehouse-Subject":  "admin",
		"x-gatehouse-client":   "back-office",
		"X-GATEHOUSE-SCOPE":    "orders:admin",
		"X-Gatehouse-Audience": "hr-api",
		"X_Gatehouse_Subject":  "admin",
		"x_gatehouse-client":   "back-office",
		"X-Gatehouse-Role":     "root",
		"X-Forwarded-For":      "203.0.113.66",
		"X-Forwarded-Host":     "evil.example.com",
		"X-Forwarded-Proto":    "https",
		"Forwarded":            "for=203.0.113.66;proto=https",
	}
	for k, v := range spoofed {
		r.Header[k] = append(r.Header[k], v) // raw keys: no canonicalisation
	}
	r.Header.Add("X-Gatehouse-Subject", "admin2")
	// A client naming our header in Connection cannot get it removed.
	r.Header.Set("Connection", "X-Gatehouse-Subject, X-Forwarded-For")

	w := e.serve(r)
	if w.Code != 200 || w.Body.String() != "upstream says hi" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	h, host, path := e.up.last()
	want := map[string]string{
		"X-Gatehouse-Subject":  "user-1",
		"X-Gatehouse-Client":   client,
		"X-Gatehouse-Scope":    "openid orders:read",
		"X-Gatehouse-Audience": client + " " + api,
		"X-Forwarded-For":      "192.0.2.7",
		"X-Forwarded-Host":     "api.example.com",
		"X-Forwarded-Proto":    "http",
	}
	if got := h.Values("Authorization"); len(got) != 0 {
		t.Errorf("the token was forwarded by default (token passthrough): %q", got)
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	for k := range h {
		lk := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		if strings.HasPrefix(lk, "x-gatehouse-") && want[k] == "" {
			t.Errorf("spoofed header %s: %q reached the upstream", k, h[k])
		}
	}
	if h.Get("Forwarded") != "" {
		t.Errorf("Forwarded %q reached the upstream", h.Get("Forwarded"))
	}
	if host != e.up.srv.Listener.Addr().String() || path != "/orders/42" {
		t.Errorf("host %q path %q", host, path)
	}
}

// TestSpoofedTrailers: identity headers cannot arrive as request trailers
// either.
func TestSpoofedTrailers(t *testing.T) {
	e := newEnv(t)
	pr, pw := io.Pipe()
	r := httptest.NewRequest("POST", "/orders", pr)
	r.ContentLength = -1
	r.Header.Set("Authorization", "Bearer "+e.token("orders:read"))
	r.Trailer = http.Header{"X-Gatehouse-Subject": nil, "X_gatehouse_client": nil}
	go func() {
		io.WriteString(pw, "body")
		r.Trailer.Set("X-Gatehouse-Subject", "admin")
		r.Trailer["X_gatehouse_client"] = []string{"back-office"}
		pw.Close()
	}()
	if w := e.serve(r); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	e.up.mu.Lock()
	defer e.up.mu.Unlock()
	for k, v := range e.up.trailer {
		t.Errorf("trailer %s: %q reached the upstream", k, v)
	}
	if got := e.up.header.Get("X-Gatehouse-Subject"); got != "user-1" {
		t.Errorf("subject %q", got)
	}
}

func TestStripAuthorizationAndPreserveHost(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.StripAuthorization, c.PreserveHost = true, true })
	r := get("/", e.token("orders:read"))
	r.Host = "api.example.com"
	if w := e.serve(r); w.Code != 200 {
		t.Fatalf("%d", w.Code)
	}
	h, host, _ := e.up.last()
	if h.Get("Authorization") != "" {
		t.Error("Authorization forwarded")
	}
	if h.Get("X-Gatehouse-Subject") != "user-1" {
		t.Error("subject missing")
	}
	if host != "api.example.com" {
		t.Errorf("host %q", host)
	}
}

// TestUpstreamBasePath: a path on the upstream URL prefixes request paths.
func TestUpstreamBasePath(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Upstream = c.Upstream.JoinPath("/api/v1") })
	if w := e.serve(get("/orders/42", e.token("orders:read"))); w.Code != 200 {
		t.Fatalf("%d %s %v", w.Code, w.Body, w.Header())
	}
	if _, _, path := e.up.last(); path != "/api/v1/orders/42" {
		t.Errorf("path %q", path)
	}
}

// TestRefusals: the proxy answers like the middleware and never calls the
// upstream.
func TestRefusals(t *testing.T) {
	e := newEnv(t)
	other := e.key.Sign(e.iss.Claims(client, "orders:read", client, "hr-api"))
	for _, c := range []struct {
		name      string
		auth      []string
		status    int
		challenge string
	}{
		{"no token", nil, 401, `Bearer realm="order-status-api"`},
		{"audience", []string{"Bearer " + other}, 401, `Bearer realm="order-status-api", error="invalid_token", error_description="The audience 'customer-portal hr-api' is invalid"`},
		{"scope", []string{"Bearer " + e.token("openid")}, 403, `Bearer realm="order-status-api", error="insufficient_scope", error_description="The token lacks the scope 'orders:read'", scope="orders:read"`},
		{"two headers", []string{"Bearer a", "Bearer b"}, 400, `Bearer realm="order-status-api", error="invalid_request", error_description="The request has more than one Authorization header"`},
		{"malformed", []string{"Bearer a b"}, 400, `Bearer realm="order-status-api", error="invalid_request", error_description="The Authorization header is malformed; send exactly one 'Authorization: Bearer <token>'"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := get("/orders/42", "")
			for _, a := range c.auth {
				r.Header.Add("Authorization", a)
			}
			w := e.serve(r)
			if w.Code != c.status || w.Header().Get("WWW-Authenticate") != c.challenge {
				t.Errorf("%d %q\nwant %d %q", w.Code, w.Header().Get("WWW-Authenticate"), c.status, c.challenge)
			}
		})
	}
	if n := e.up.hits.Load(); n != 0 {
		t.Errorf("upstream reached %d times", n)
	}
}

// TestUnforwardableClaims: a signed token whose sub would not survive as a
// header value is refused rather than forwarded altered.
func TestUnforwardableClaims(t *testing.T) {
	e := newEnv(t)
	for _, sub := range []string{"admin\r\nX-Gatehouse-Client: back-office", " admin", "admin\x00"} {
		tok := e.key.Sign(e.iss.Claims(client, "orders:read", api).With("sub", sub))
		w := e.serve(get("/", tok))
		if w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error_description="The token's sub claim cannot be forwarded in an HTTP header"`) {
			t.Errorf("%q: %d %q", sub, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	if n := e.up.hits.Load(); n != 0 {
		t.Errorf("upstream reached %d times", n)
	}
}

// TestAccessLog: one line per request with the decision and its reason,
// never the token or the query string.
func TestAccessLog(t *testing.T) {
	e := newEnv(t)
	good := e.token("openid orders:read")
	other := e.key.Sign(e.iss.Claims(client, "orders:read", client, "hr-api"))
	e.serve(get("/orders/1?secret=s3cr3t", good))
	e.serve(get("/orders/2", other))
	e.serve(get("/orders/3", ""))
	lines := e.logs.JSONLines(t)
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), e.logs)
	}
	want := []map[string]any{
		{"msg": "request", "method": "GET", "path": "/orders/1", "status": 200.0, "decision": "allow", "reason": "", "client": client, "subject": "user-1"},
		{"msg": "request", "method": "GET", "path": "/orders/2", "status": 401.0, "decision": "deny", "client": "", "subject": ""},
		{"msg": "request", "path": "/orders/3", "status": 401.0, "decision": "deny", "reason": "no bearer token in the Authorization header"},
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
		if _, ok := lines[i]["duration"]; !ok {
			t.Errorf("line %d has no duration", i)
		}
	}
	if r, _ := lines[1]["reason"].(string); !strings.HasPrefix(r, "aud: ") {
		t.Errorf("reason %q", r)
	}
	log := e.logs.String()
	for _, secret := range []string{good[strings.LastIndexByte(good, '.'):], other[strings.LastIndexByte(other, '.'):], "s3cr3t"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
}

// TestUpstreamDown: 502 with a clear message, the cause in the log only.
func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	ln.Close()
	e := newEnv(t, func(c *proxy.Config) { c.Upstream = dead })
	w := e.serve(get("/orders/1", e.token("orders:read")))
	if w.Code != http.StatusBadGateway || w.Body.String() != "gatehouse proxy: the upstream service is unavailable\n" {
		t.Errorf("%d %q", w.Code, w.Body)
	}
	lines := e.logs.JSONLines(t)
	if len(lines) != 1 || lines[0]["status"] != 502.0 || lines[0]["decision"] != "allow" ||
		!strings.HasPrefix(lines[0]["reason"].(string), "upstream: ") {
		t.Errorf("log %v", lines)
	}
}

// TestUpstreamTimeout: an upstream that does not answer in time is 504.
func TestUpstreamTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	u, _ := url.Parse(slow.URL)
	e := newEnv(t, func(c *proxy.Config) { c.Upstream, c.UpstreamTimeout = u, 50*time.Millisecond })
	w := e.serve(get("/", e.token("orders:read")))
	if w.Code != http.StatusGatewayTimeout {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

// TestStreaming: bodies stream both ways; the proxy buffers neither.
func TestStreaming(t *testing.T) {
	firstChunk := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "got "+strings.Repeat("x", 0)+itoa(n)+"\n")
		w.(http.Flusher).Flush()
		<-firstChunk // the client must see the first chunk before the rest exists
		io.WriteString(w, "done\n")
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	e := newEnv(t, func(c *proxy.Config) { c.Upstream = u })
	srv := httptest.NewServer(e.h)
	defer srv.Close()

	const size = 8 << 20
	req, _ := http.NewRequest("POST", srv.URL+"/upload", io.LimitReader(zeros{}, size))
	req.Header.Set("Authorization", "Bearer "+e.token("orders:read"))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "got "+itoa(size)+"\n" {
		t.Fatalf("%q %v", line, err)
	}
	close(firstChunk)
	if rest, _ := io.ReadAll(br); string(rest) != "done\n" {
		t.Errorf("rest %q", rest)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestConfig: every problem is reported at once.
func TestConfig(t *testing.T) {
	_, err := proxy.New(proxy.Config{
		Upstream:        &url.URL{Scheme: "ftp", Host: "x"},
		Scopes:          []string{"ok", "a b", ""},
		UpstreamTimeout: -1,
	})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"Verifier is required", "scheme must be http or https", `"a b" is not a scope-token`, `"" is not a scope-token`, "UpstreamTimeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %v", want, err)
		}
	}
	e := newEnv(t)
	for _, u := range []string{"http://", "http://user:pw@host", "http://host#frag", "/relative"} {
		p, _ := url.Parse(u)
		if _, err := proxy.New(proxy.Config{Verifier: e.v, Upstream: p}); err == nil {
			t.Errorf("%s accepted", u)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	if _, err := proxy.New(proxy.Config{Verifier: e.v}); err == nil || !strings.Contains(err.Error(), "Upstream is required") {
		t.Errorf("%v", err)
	}
}

// TestNoLogger: a nil Logger disables logging without failing.
func TestNoLogger(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Logger = nil })
	if w := e.serve(get("/", e.token("orders:read"))); w.Code != 200 {
		t.Errorf("%d", w.Code)
	}
	if w := e.serve(get("/", "")); w.Code != 401 {
		t.Errorf("%d", w.Code)
	}
}

// TestClientCancel: a client that goes away while the upstream works is
// logged, not panicked over.
func TestClientCancel(t *testing.T) {
	started := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	e := newEnv(t, func(c *proxy.Config) { c.Upstream = u })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	e.serve(get("/", e.token("orders:read")).WithContext(ctx))
	lines := e.logs.JSONLines(t)
	if len(lines) != 1 || !strings.Contains(lines[0]["reason"].(string), "context canceled") {
		t.Errorf("%v", lines)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("not cancelled")
	}
}
