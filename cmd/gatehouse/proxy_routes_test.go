package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

// routesConfig is the issuer's configuration with the order API's route
// GET /orders/{id} needing readScope.
func routesConfig(t *testing.T, issuer, readScope string) *config.Config {
	t.Helper()
	yaml := `
issuer: ` + issuer + `
clients:
  - id: order-status-api
    secret: order-status-api-secret
    grant_types: [client_credentials]
    scopes: [orders:read]
    routes:
      - path: /orders/{id}
        methods: [GET]
        scopes: [` + readScope + `]
      - path: /health
  - id: order-sync-job
    secret: sync-job-secret-change-me
    grant_types: [client_credentials]
    audience: [order-status-api]
    scopes: [orders:read, orders:write]
`
	cfg, err := config.Parse([]byte(yaml), "routes.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestProxyEnforcesRoutesFromIssuer runs a real Gatehouse (httptest) and
// `gatehouse proxy --client-id` in front of an upstream: the proxy fetches
// the routes from the issuer and enforces their scopes; a route change at
// the issuer (a new server.New over the same store and keys) takes effect
// after the refresh interval without restarting the proxy.
func TestProxyEnforcesRoutesFromIssuer(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The issuer in force, and a note of each routes fetch it serves: the
	// test waits on those events to know the proxy has the new routes.
	type issuerState struct {
		h            http.Handler
		routeFetches chan struct{}
	}
	var current atomic.Pointer[issuerState]
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := current.Load()
		if r.URL.Path == "/routes" {
			select {
			case cur.routeFetches <- struct{}{}:
			default: // nobody is counting beyond two
			}
		}
		cur.h.ServeHTTP(w, r)
	}))
	defer issuer.Close()
	ring, err := keys.Open(ctx, st, keys.Options{Alg: "ES256", Secret: strings.Repeat("k", 32), RetireAfter: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// serveConfig puts a configuration in force and returns a channel that
	// receives once for each of the first two routes fetches it serves.
	serveConfig := func(readScope string) <-chan struct{} {
		s, err := server.New(server.Options{Config: routesConfig(t, issuer.URL, readScope), Keys: ring, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		next := &issuerState{h: s.Handler(), routeFetches: make(chan struct{}, 2)}
		current.Store(next)
		return next.routeFetches
	}
	serveConfig("orders:read")

	var upstreamHits atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamHits.Add(1)
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
	defer upstream.Close()

	pctx, stopProxy := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runProxy(pctx, proxyFlags{
			issuer: issuer.URL, audience: "order-status-api", upstream: upstream.URL, listen: "127.0.0.1:0",
			clientID: "order-status-api", clientSecret: "order-status-api-secret", routesRefresh: 50 * time.Millisecond,
			tokenCache: 100, upstreamTimeout: 5 * time.Second, readHeaderTimeout: 5 * time.Second, shutdownTimeout: 5 * time.Second,
		}, slog.New(slog.DiscardHandler), ready)
	}()
	var proxyURL string
	select {
	case addr := <-ready:
		proxyURL = "http://" + addr
	case err := <-done:
		t.Fatalf("proxy exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("proxy did not start")
	}
	defer func() {
		stopProxy()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
	}()

	token := func(scope string) string {
		form := url.Values{"grant_type": {"client_credentials"}, "resource": {"order-status-api"}, "scope": {scope}}
		req, _ := http.NewRequest("POST", issuer.URL+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("order-sync-job", "sync-job-secret-change-me")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if err := jsonDecode(resp.Body, &body); err != nil || body.AccessToken == "" {
			t.Fatalf("token (%s): %d %v", scope, resp.StatusCode, err)
		}
		return body.AccessToken
	}
	reader, writer := token("orders:read"), token("orders:write")

	call := func(method, path, tok string) (int, string) {
		req, _ := http.NewRequest(method, proxyURL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}

	tests := []struct {
		name, method, path, token string
		status                    int
		challenge                 string
	}{
		{"route scope present", "GET", "/orders/42", reader, 200, ""},
		{"right audience, route scope missing", "GET", "/orders/42", writer, 403, `error="insufficient_scope"`},
		{"the scope named in the challenge", "GET", "/orders/42", writer, 403, `scope="orders:read"`},
		{"route without scopes", "GET", "/health", writer, 200, ""},
		{"unmatched path, valid token", "GET", "/admin", reader, 404, ""},
		{"unmatched method, valid token", "DELETE", "/orders/42", reader, 405, ""},
		{"unmatched path, no token", "GET", "/admin", "", 401, "Bearer"},
		{"matched path, no token", "GET", "/orders/42", "", 401, "Bearer"},
	}
	for _, tc := range tests {
		before := upstreamHits.Load()
		status, challenge := call(tc.method, tc.path, tc.token)
		if status != tc.status || !strings.Contains(challenge, tc.challenge) {
			t.Errorf("%s: %s %s = %d %q, want %d with %q", tc.name, tc.method, tc.path, status, challenge, tc.status, tc.challenge)
		}
		if forwarded := upstreamHits.Load() > before; forwarded != (tc.status == 200) {
			t.Errorf("%s: forwarded to the upstream = %v", tc.name, forwarded)
		}
	}

	// The issuer's configuration changes: reading an order now needs
	// orders:write. The running proxy picks it up on its next refresh.
	// Refresh fetches, puts the result in force, then waits for its next
	// tick, so once the issuer sees a second fetch under the new
	// configuration the first one's routes are in force: an event over the
	// real sockets, where a poll of the proxy would only guess.
	fetches := serveConfig("orders:write")
	for i := range 2 {
		select {
		case <-fetches:
		case <-time.After(10 * time.Second):
			t.Fatalf("the proxy made %d routes fetches within 10s after the change, want 2", i)
		}
	}
	if s1, _ := call("GET", "/orders/42", reader); s1 != 403 {
		t.Errorf("after the route change: reader %d, want 403", s1)
	}
	if s2, _ := call("GET", "/orders/42", writer); s2 != 200 {
		t.Errorf("after the route change: writer %d, want 200", s2)
	}
}

func TestProxyRouteFlags(t *testing.T) {
	base := proxyFlags{issuer: "http://127.0.0.1:1", audience: "api", upstream: "http://127.0.0.1:2", listen: "127.0.0.1:0", routesRefresh: time.Minute}
	tests := []struct {
		name string
		edit func(*proxyFlags)
		want string
	}{
		{"scope and client id", func(f *proxyFlags) { f.clientID, f.clientSecret, f.scopes = "api", "s", []string{"x"} }, "exclusive"},
		{"client id without secret", func(f *proxyFlags) { f.clientID = "api" }, proxySecretEnv},
		{"secret without client id", func(f *proxyFlags) { f.clientSecret = "s" }, "--client-id is not"},
		{"zero refresh", func(f *proxyFlags) { f.clientID, f.clientSecret, f.routesRefresh = "api", "s", 0 }, "--routes-refresh"},
	}
	for _, tc := range tests {
		f := base
		tc.edit(&f)
		err := runProxy(context.Background(), f, slog.New(slog.DiscardHandler), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
