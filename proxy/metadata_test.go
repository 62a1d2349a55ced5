package proxy_test

import (
	"context"
	"encoding/json"
	"github.com/gatehouse/gatehouse/verify"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/proxy"
)

// TestResourceMetadata (issue 13): the proxy serves the API's RFC 9728
// metadata at the path-inserted well-known URL without a token and never
// forwards that request; its 401 and 403 challenges name the document (and
// the missing scope); the resource_metadata URL resolves to the document.
func TestResourceMetadata(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) {
		c.ResourceMetadata = &httpauth.ResourceMetadata{Resource: "https://API.example.com/mcp/", AuthorizationServers: []string{"https://id.example.com"},
			ScopesSupported: []string{"orders:read"}}
	})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if resp.StatusCode != 200 || meta["resource"] != "https://api.example.com/mcp" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("metadata: %d %v", resp.StatusCode, meta)
	}
	if servers, _ := meta["authorization_servers"].([]any); len(servers) != 1 || servers[0] != "https://id.example.com" {
		t.Errorf("authorization_servers %v", meta["authorization_servers"])
	}
	if h, _, _ := e.up.last(); h != nil {
		t.Error("the metadata request reached the upstream")
	}
	// 401 without a token: the challenge points at the document.
	resp, err = http.Get(srv.URL + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ch := resp.Header.Get("WWW-Authenticate")
	const want = `resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"`
	if resp.StatusCode != 401 || !strings.Contains(ch, want) {
		t.Errorf("401 challenge %q", ch)
	}
	u, _ := url.Parse(strings.TrimSuffix(strings.SplitN(ch, `resource_metadata="`, 2)[1], `"`))
	if p, _ := httpauth.MetadataPath("https://api.example.com/mcp"); u.Path != p {
		t.Errorf("the challenge's URL path %q is not where the document is served (%q)", u.Path, p)
	}
	// 403: the missing scope and the document.
	req, _ := http.NewRequest("GET", srv.URL+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+e.token("openid"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 403 || !strings.Contains(ch, `scope="orders:read"`) || !strings.Contains(ch, want) {
		t.Errorf("403 challenge %d %q", resp.StatusCode, ch)
	}
}

// TestAudienceTable: the proxy accepts a token for its API in any
// spelling of the shared canonicalisation table (oauth/testdata).
func TestAudienceTable(t *testing.T) {
	b, err := os.ReadFile("../oauth/testdata/resources.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ In, Want, Err string }
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		if tc.Err != "" || !strings.Contains(tc.In, "://") {
			continue
		}
		e := newEnv(t)
		v, err := verify.New(context.Background(), verify.Config{Issuer: e.iss.URL, Audience: tc.In, Clock: e.iss.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		h, err := proxy.New(proxy.Config{Verifier: v, Upstream: e.up.url(t)})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, get("/", e.iss.Token(client, "", tc.Want)))
		if w.Code != 200 {
			t.Errorf("proxy for %q, token for %q: %d", tc.In, tc.Want, w.Code)
		}
	}
}
