package tlsfiles_test

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/tlsfiles"
	"github.com/gatehouse/gatehouse/internal/tlsfiles/tlstest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer = testkit.SyncBuffer

func commonName(c *tls.Certificate) string { return c.Leaf.Subject.CommonName }

// TestReload: a new pair is read at the first check at least Interval
// after the last, not before; a broken pair keeps the last good one and
// is logged once; completing the pair then loads it.
func TestReload(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := issue(t, ca, dir, "first")
	clk := &clock{t: time.Unix(1_000_000, 0)}
	var logs syncBuffer
	p, err := tlsfiles.Load(certFile, keyFile, tlsfiles.Options{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if got := commonName(p.Certificate()); got != "first" {
		t.Fatalf("loaded %q", got)
	}

	issue(t, ca, dir, "second")
	clk.Add(500 * time.Millisecond)
	if got := commonName(p.Certificate()); got != "first" {
		t.Fatalf("files checked before the interval: %q", got)
	}
	clk.Add(500 * time.Millisecond)
	if got := commonName(p.Certificate()); got != "second" {
		t.Fatalf("after the interval: %q, want second", got)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("reload not logged: %s", logs.String())
	}

	// Half a change: the third certificate with the second's key.
	third, _ := ca.Issue(t, "third")
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tlstest.WriteFiles(t, dir, third, keyPEM)
	for range 3 {
		clk.Add(time.Second)
		if got := commonName(p.Certificate()); got != "second" {
			t.Fatalf("mismatched pair: serving %q, want the last good one", got)
		}
	}
	if n := strings.Count(logs.String(), "not reloaded"); n != 1 {
		t.Errorf("the broken pair was logged %d times, want once:\n%s", n, logs.String())
	}

	// A missing file is a failure too, and the last good pair stays.
	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	if got := commonName(p.Certificate()); got != "second" {
		t.Fatalf("missing file: serving %q", got)
	}

	issue(t, ca, dir, "fourth")
	clk.Add(time.Second)
	if got := commonName(p.Certificate()); got != "fourth" {
		t.Fatalf("after the pair was completed: %q, want fourth", got)
	}
}

// TestReloadByRename: replacing the files by rename (certbot, Kubernetes
// secrets) is seen even when size and time happen to match.
func TestReloadByRename(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir, other := t.TempDir(), t.TempDir()
	certFile, keyFile := issue(t, ca, dir, "first")
	p, err := tlsfiles.Load(certFile, keyFile, tlsfiles.Options{Interval: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	newCert, newKey := issue(t, ca, other, "second")
	fi, err := os.Stat(certFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{newCert, newKey} {
		if err := os.Chtimes(f, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(newCert, certFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(newKey, keyFile); err != nil {
		t.Fatal(err)
	}
	if got := commonName(p.Certificate()); got != "second" {
		t.Fatalf("after rename: %q", got)
	}
}

func TestLoadRefusesBadPair(t *testing.T) {
	ca := tlstest.NewCA(t)
	certPEM, _ := ca.Issue(t, "a")
	_, otherKey := ca.Issue(t, "b")
	certFile, keyFile := tlstest.WriteFiles(t, t.TempDir(), certPEM, otherKey)
	if _, err := tlsfiles.Load(certFile, keyFile, tlsfiles.Options{}); err == nil {
		t.Fatal("a certificate with another key loaded")
	}
	if _, err := tlsfiles.Load(certFile+".missing", keyFile, tlsfiles.Options{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("missing certificate: %v", err)
	}
}

// TestServerConfig: TLS 1.2 and later only, and HTTP/2 negotiated.
func TestServerConfig(t *testing.T) {
	ca := tlstest.NewCA(t)
	certFile, keyFile := issue(t, ca, t.TempDir(), "srv")
	p, err := tlsfiles.Load(certFile, keyFile, tlsfiles.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// httptest.Server would add its own certificate, which crypto/tls
	// prefers to GetCertificate for a client that sends no server name.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), TLSConfig: p.ServerConfig()}
	go hs.ServeTLS(ln, "", "")
	defer hs.Close()
	addr := ln.Addr().String()
	resp, err := ca.Client().Get("https://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
	if _, err := ca.PeerName(addr, &tls.Config{MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	if _, err := ca.PeerName(addr, &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}); err != nil {
		t.Errorf("TLS 1.2: %v", err)
	}
}

// issue writes a new certificate named cn, and its key, into dir.
func issue(t *testing.T, ca *tlstest.CA, dir, cn string) (certFile, keyFile string) {
	certPEM, keyPEM := ca.Issue(t, cn)
	return tlstest.WriteFiles(t, dir, certPEM, keyPEM)
}
