package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/tlsfiles/tlstest"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

// fakeClock is the clock of the certificate reload checks: a test moves
// it past the check interval instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// checkTLS checks a TLS listener at addr: HTTP/2 is negotiated with a
// client that trusts ca (the GET of path answers 200), TLS 1.1 is refused,
// and after new files are written and the clock moves on, a new
// connection sees the new certificate.
func checkTLS(t *testing.T, ca *tlstest.CA, addr, path string, header http.Header, dir string, clk *fakeClock) {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://"+addr+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ca.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("GET %s: %s, want HTTP/2", path, resp.Proto)
	}
	if _, err := ca.PeerName(addr, &tls.Config{MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("a TLS 1.1 handshake succeeded")
	}
	if name, err := ca.PeerName(addr, nil); err != nil || name != "first" {
		t.Fatalf("certificate %q (%v), want first", name, err)
	}
	certPEM, keyPEM := ca.Issue(t, "second")
	tlstest.WriteFiles(t, dir, certPEM, keyPEM)
	clk.Add(time.Second)
	if name, err := ca.PeerName(addr, nil); err != nil || name != "second" {
		t.Fatalf("after the files changed: certificate %q (%v), want second", name, err)
	}
}

// tlsSetup makes a CA and writes a certificate "first" for 127.0.0.1.
func tlsSetup(t *testing.T) (ca *tlstest.CA, dir, certFile, keyFile string, clk *fakeClock) {
	ca = tlstest.NewCA(t)
	dir = t.TempDir()
	certPEM, keyPEM := ca.Issue(t, "first")
	certFile, keyFile = tlstest.WriteFiles(t, dir, certPEM, keyPEM)
	return ca, dir, certFile, keyFile, &fakeClock{t: time.Unix(1_000_000, 0)}
}

// TestServeTLS: serve with tls: answers discovery over HTTPS.
func TestServeTLS(t *testing.T) {
	ca, dir, certFile, keyFile, clk := tlsSetup(t)
	src := `
issuer: https://login.example.com
listen: 127.0.0.1:0
storage: sqlite:` + filepath.Join(t.TempDir(), "gh.db") + `
tls:
  cert_file: ` + certFile + `
  key_file: ` + keyFile + `
`
	cfg, err := config.Parse([]byte(src), "tls.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, noEnv, slog.New(slog.DiscardHandler), serveOptions{tlsNow: clk.Now}, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	resp, err := ca.Client().Get("https://" + addr + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || doc.Issuer != "https://login.example.com" {
		t.Fatalf("discovery: issuer %q, %v", doc.Issuer, err)
	}
	checkTLS(t, ca, addr, "/.well-known/openid-configuration", nil, dir, clk)
}

// TestServeTLSBadFiles: serve refuses to start with a pair that does not
// match, naming the line.
func TestServeTLSBadFiles(t *testing.T) {
	_, _, certFile, _, _ := tlsSetup(t)
	src := "issuer: https://login.example.com\nlisten: 127.0.0.1:0\nstorage: sqlite:" + filepath.Join(t.TempDir(), "gh.db") +
		"\ntls: {cert_file: " + certFile + ", key_file: " + certFile + "}\n"
	cfg, err := config.Parse([]byte(src), "tls.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), cfg, noEnv, slog.New(slog.DiscardHandler), serveOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "tls.yaml:4: tls cert_file") {
		t.Fatalf("serve with a bad pair: %v", err)
	}
}

// TestProxyTLS: gatehouse proxy --tls-cert --tls-key lets a valid token
// through over HTTPS, and tells the upstream the request was https.
func TestProxyTLS(t *testing.T) {
	ca, dir, certFile, keyFile, clk := tlsSetup(t)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ring, err := keys.Open(ctx, st, keys.Options{Alg: "ES256", Secret: strings.Repeat("k", 32), RetireAfter: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var issuerHandler http.Handler
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { issuerHandler.ServeHTTP(w, r) }))
	defer issuer.Close()
	srv, err := server.New(server.Options{Config: routesConfig(t, issuer.URL, "orders:read"), Keys: ring, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	issuerHandler = srv.Handler()

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "proto="+r.Header.Get("X-Forwarded-Proto"))
	}))
	defer upstream.Close()

	f := proxyFlags{
		issuer: issuer.URL, audience: "order-status-api", upstream: upstream.URL, listen: "127.0.0.1:0",
		scopes: []string{"orders:read"}, upstreamTimeout: 5 * time.Second, readHeaderTimeout: 5 * time.Second,
		shutdownTimeout: 5 * time.Second, tlsCert: certFile, tlsKey: keyFile, tlsNow: clk.Now,
	}
	pctx, stop := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- runProxy(pctx, f, slog.New(slog.DiscardHandler), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		stop()
		t.Fatalf("proxy exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("proxy did not start")
	}
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
	}()

	form := url.Values{"grant_type": {"client_credentials"}, "resource": {"order-status-api"}, "scope": {"orders:read"}}
	req, _ := http.NewRequest("POST", issuer.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("order-sync-job", "sync-job-secret-change-me")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}

	req, _ = http.NewRequest("GET", "https://"+addr+"/orders/42", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = ca.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "proto=https" {
		t.Fatalf("through the proxy: %d %q", resp.StatusCode, body)
	}
	checkTLS(t, ca, addr, "/orders/42", http.Header{"Authorization": {"Bearer " + tok.AccessToken}}, dir, clk)
}

// TestProxyTLSFlags: --tls-cert and --tls-key go together.
func TestProxyTLSFlags(t *testing.T) {
	for _, f := range []proxyFlags{{tlsCert: "c.pem"}, {tlsKey: "k.pem"}} {
		err := runProxy(context.Background(), f, slog.New(slog.DiscardHandler), nil)
		if err == nil || !strings.Contains(err.Error(), "--tls-cert and --tls-key go together") {
			t.Errorf("%+v: %v", f, err)
		}
	}
}
