package cimd_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/cimd"
)

// docServer serves one client metadata document at /client.json and counts
// requests; body makes the document from the server's own URL.
type docServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newDocServer(t *testing.T, tls bool, handler func(w http.ResponseWriter, id string)) *docServer {
	d := &docServer{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		handler(w, d.URL+"/client.json")
	})
	if tls {
		d.Server = httptest.NewTLSServer(h)
	} else {
		d.Server = httptest.NewServer(h)
	}
	t.Cleanup(d.Close)
	return d
}

func goodDoc(cacheControl string) func(w http.ResponseWriter, id string) {
	return func(w http.ResponseWriter, id string) {
		w.Header().Set("Content-Type", "application/json")
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"Agent","redirect_uris":["http://127.0.0.1:33418/callback"],"grant_types":["authorization_code","refresh_token"]}`, id)
	}
}

func loopbackPolicy() cimd.Policy {
	return cimd.Policy{AllowedHosts: []string{"127.0.0.1"}, AllowLoopback: true, Timeout: time.Second}
}

// TestResolveAndCache: a document is fetched once, kept for its max-age,
// fetched again after; concurrent callers share one fetch.
func TestResolveAndCache(t *testing.T) {
	srv := newDocServer(t, false, goodDoc("max-age=300"))
	now := time.Now()
	r := cimd.New(loopbackPolicy(), cimd.WithClock(func() time.Time { return now }))
	id := srv.URL + "/client.json"
	c, err := r.Resolve(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != id || c.Name != "Agent" || !c.LoopbackOnly || c.AuthMethod != "none" || c.RedirectHosts[0] != "127.0.0.1:33418" {
		t.Errorf("client %+v", c)
	}
	for range 5 {
		if _, err := r.Resolve(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("fetched %d times within max-age", n)
	}
	now = now.Add(301 * time.Second)
	if _, err := r.Resolve(context.Background(), id); err != nil || srv.hits.Load() != 2 {
		t.Errorf("after max-age: %v, %d fetches", err, srv.hits.Load())
	}
}

// TestRefusals: each document or URL the draft or the policy rules out is
// refused with a clear reason.
func TestRefusals(t *testing.T) {
	doc := func(body string) func(w http.ResponseWriter, id string) {
		return func(w http.ResponseWriter, id string) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, strings.ReplaceAll(body, "ID", id))
		}
	}
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter, id string)
		want    string
	}{
		{"client_id mismatch", doc(`{"client_id":"ID/other","redirect_uris":["https://a.example/cb"]}`), "is not the document's URL"},
		{"no redirect uris", doc(`{"client_id":"ID"}`), "no redirect_uris"},
		{"redirect with fragment", doc(`{"client_id":"ID","redirect_uris":["https://a.example/cb#x"]}`), "fragment"},
		{"http redirect off loopback", doc(`{"client_id":"ID","redirect_uris":["http://a.example/cb"]}`), "http off a loopback IP"},
		{"client secret", doc(`{"client_id":"ID","redirect_uris":["https://a.example/cb"],"client_secret":"s"}`), "client secret"},
		{"secret auth method", doc(`{"client_id":"ID","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`), "not allowed"},
		{"implicit", doc(`{"client_id":"ID","redirect_uris":["https://a.example/cb"],"response_types":["token"]}`), "only code"},
		{"oversized", doc(`{"client_id":"ID","redirect_uris":["https://a.example/cb"],"client_name":"` + strings.Repeat("x", 6000) + `"}`), "larger than"},
		{"not json", func(w http.ResponseWriter, _ string) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>")
		}, "not application/json"},
		{"404", func(w http.ResponseWriter, _ string) { http.NotFound(w, nil) }, "HTTP 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newDocServer(t, false, tc.handler)
			_, err := cimd.New(loopbackPolicy()).Resolve(context.Background(), srv.URL+"/client.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestSSRF: nothing leaves for a host or address the policy does not
// allow; redirects are not followed; a slow server is given up on.
func TestSSRF(t *testing.T) {
	trap := newDocServer(t, true, goodDoc(""))
	ctx := context.Background()
	// The host is not allowed: refused before any request.
	if _, err := cimd.New(cimd.Policy{AllowedHosts: []string{"app.example.com"}}).Resolve(ctx, trap.URL+"/client.json"); !errors.Is(err, cimd.ErrNotAllowed) {
		t.Errorf("host not allowed: %v", err)
	}
	// Allowed by name, but the address is loopback: the dialer refuses it.
	p := cimd.Policy{AllowedHosts: []string{"127.0.0.1"}, Transport: trap.Client().Transport.(*http.Transport).Clone()}
	if _, err := cimd.New(p).Resolve(ctx, trap.URL+"/client.json"); !errors.Is(err, cimd.ErrUnavailable) {
		t.Errorf("loopback address: %v", err)
	}
	// http is refused off loopback-for-tests.
	if _, err := cimd.New(cimd.Policy{AllowedHosts: []string{"127.0.0.1"}}).Resolve(ctx, strings.Replace(trap.URL, "https", "http", 1)+"/client.json"); !errors.Is(err, cimd.ErrNotAllowed) {
		t.Errorf("http: %v", err)
	}
	if n := trap.hits.Load(); n != 0 {
		t.Errorf("the trap was reached %d times", n)
	}
	// A redirect, even to an allowed loopback server, is not followed.
	target := newDocServer(t, false, goodDoc(""))
	redirect := newDocServer(t, false, func(w http.ResponseWriter, _ string) {
		w.Header().Set("Location", target.URL+"/client.json")
		w.WriteHeader(http.StatusMovedPermanently)
	})
	if _, err := cimd.New(loopbackPolicy()).Resolve(ctx, redirect.URL+"/client.json"); err == nil || target.hits.Load() != 0 {
		t.Errorf("redirect: %v, target hit %d times", err, target.hits.Load())
	}
	// A server that never answers is given up on after the timeout.
	stop := make(chan struct{})
	slow := newDocServer(t, false, func(http.ResponseWriter, string) { <-stop })
	defer close(stop)
	started := time.Now()
	_, err := cimd.New(cimd.Policy{AllowedHosts: []string{"127.0.0.1"}, AllowLoopback: true, Timeout: 200 * time.Millisecond}).Resolve(ctx, slow.URL+"/client.json")
	if !errors.Is(err, cimd.ErrUnavailable) || time.Since(started) > 3*time.Second {
		t.Errorf("slow server: %v after %v", err, time.Since(started))
	}
}

// TestURLRules: the draft's shape of a client_id URL.
func TestURLRules(t *testing.T) {
	r := cimd.New(cimd.Policy{AllowedHosts: []string{"app.example.com"}})
	for _, id := range []string{"https://app.example.com", "https://app.example.com/", "https://app.example.com/a#b",
		"https://u:p@app.example.com/c", "https://app.example.com/a/../c", "ftp://app.example.com/c"} {
		if _, err := r.Resolve(context.Background(), id); err == nil {
			t.Errorf("%q accepted", id)
		}
	}
	if cimd.IsMetadataURL("my-client") || !cimd.IsMetadataURL("https://app.example.com/c.json") {
		t.Error("IsMetadataURL")
	}
}

// FuzzParseDocument: the document check never panics, and whatever it
// accepts names itself and has redirect URIs without fragments.
func FuzzParseDocument(f *testing.F) {
	f.Add(`{"client_id":"https://a.example/c","redirect_uris":["https://a.example/cb"]}`)
	f.Add(`{"client_id":"https://a.example/c","redirect_uris":["com.example.app:/cb","http://[::1]:9/x"]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		c, err := cimd.ParseDocument("https://a.example/c", []byte(body), false)
		if err != nil {
			return
		}
		if c.ID != "https://a.example/c" || len(c.RedirectURIs) == 0 {
			t.Fatalf("accepted %+v", c)
		}
		for _, u := range c.RedirectURIs {
			if strings.Contains(u, "#") {
				t.Fatalf("fragment accepted: %q", u)
			}
		}
	})
}

func BenchmarkResolveCached(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		goodDoc("max-age=3600")(w, "http://"+r.Host+"/client.json")
	}))
	defer srv.Close()
	r := cimd.New(loopbackPolicy())
	id := srv.URL + "/client.json"
	if _, err := r.Resolve(context.Background(), id); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDraftRules: a failure is not cached (the next resolution fetches
// again); no-store is not cached; extension grant types are ignored;
// localhost redirect URIs and non-ASCII hosts are refused.
func TestDraftRules(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	srv := newDocServer(t, false, func(w http.ResponseWriter, id string) {
		if fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `{"client_id":%q,"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","urn:ietf:params:oauth:grant-type:device_code"]}`, id)
	})
	r := cimd.New(loopbackPolicy())
	id := srv.URL + "/client.json"
	if _, err := r.Resolve(context.Background(), id); err == nil {
		t.Fatal("a 503 resolved")
	}
	fail.Store(false)
	c, err := r.Resolve(context.Background(), id)
	if err != nil || len(c.GrantTypes) != 1 || c.GrantTypes[0] != "authorization_code" {
		t.Fatalf("after the failure: %+v %v", c, err)
	}
	r.Resolve(context.Background(), id)
	if n := srv.hits.Load(); n != 3 {
		t.Errorf("%d fetches, want 3 (nothing cached)", n)
	}
	if _, err := cimd.ParseDocument("https://a.example/c", []byte(`{"client_id":"https://a.example/c","redirect_uris":["http://localhost:9/cb"]}`), false); err == nil {
		t.Error("a localhost redirect URI was accepted")
	}
	if _, err := cimd.New(cimd.Policy{AllowedHosts: []string{"xn--pple-43d.com"}}).Resolve(context.Background(), "https://аpple.com/c.json"); !errors.Is(err, cimd.ErrNotAllowed) {
		t.Errorf("a Unicode host: %v", err)
	}
}
