package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
)

// TestProxyResourceMetadata runs `gatehouse proxy --resource` in front of
// an upstream: the proxy advertises itself as the resource with --issuer
// as authorization server and --scope as scopes_supported, its 401 names
// that document, and neither request reaches the upstream.
func TestProxyResourceMetadata(t *testing.T) {
	iss := testkit.NewIssuer(t, testkit.ES256Key("k1"))
	var hits atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer upstream.Close()
	const resource = "https://mcp.example.com/mcp"

	ctx, stop := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- runProxy(ctx, proxyFlags{
			issuer: iss.URL, audience: resource, resource: resource, upstream: upstream.URL, listen: "127.0.0.1:0",
			scopes: []string{"mcp:tools", "mcp:read"}, upstreamTimeout: 5 * time.Second, readHeaderTimeout: 5 * time.Second,
			shutdownTimeout: 5 * time.Second,
		}, slog.New(slog.DiscardHandler), ready)
	}()
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
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

	resp, err := http.Get(base + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	want := map[string]any{
		"resource":                 resource,
		"authorization_servers":    []any{iss.URL},
		"scopes_supported":         []any{"mcp:tools", "mcp:read"},
		"bearer_methods_supported": []any{"header"},
		// --dpop allowed (the default): the proxy takes DPoP proofs too.
		"dpop_signing_alg_values_supported": []any{"ES256", "ES384", "EdDSA", "RS256", "PS256"},
	}
	if err != nil || resp.StatusCode != 200 || !reflect.DeepEqual(doc, want) {
		t.Errorf("metadata: %d %v %v\nwant %v", resp.StatusCode, err, doc, want)
	}

	resp, err = http.Post(base+"/mcp", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantChallenge := `Bearer realm="` + resource + `", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`
	if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || got != wantChallenge {
		t.Errorf("401: %d %q, want %q", resp.StatusCode, got, wantChallenge)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}

func TestProxyResourceFlags(t *testing.T) {
	base := proxyFlags{issuer: "http://127.0.0.1:1", audience: "api", upstream: "http://127.0.0.1:2", listen: "127.0.0.1:0", routesRefresh: time.Minute}
	for name, tc := range map[string]struct {
		edit func(*proxyFlags)
		want string
	}{
		"relative resource":        {func(f *proxyFlags) { f.resource = "/mcp" }, "--resource"},
		"resource with a fragment": {func(f *proxyFlags) { f.resource = "https://mcp.example.com/mcp#x" }, "fragment"},
		"forward and strip":        {func(f *proxyFlags) { f.forwardToken, f.stripAuth = true, true }, "--forward-token"},
	} {
		f := base
		tc.edit(&f)
		err := runProxy(context.Background(), f, slog.New(slog.DiscardHandler), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	// --strip-authorization is still accepted (deprecated, no effect), and
	// --forward-token and --resource are flags.
	cmd := newProxyCmd(noEnv)
	if err := cmd.ParseFlags([]string{"--strip-authorization", "--resource", "https://mcp.example.com/mcp"}); err != nil {
		t.Errorf("deprecated flag: %v", err)
	}
	if fl := cmd.Flags().Lookup("strip-authorization"); fl == nil || fl.Deprecated == "" {
		t.Error("--strip-authorization is not marked deprecated")
	}
	if cmd.Flags().Lookup("forward-token") == nil {
		t.Error("no --forward-token")
	}
}
