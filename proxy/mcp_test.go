package proxy_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/proxy"
)

// Issue 13 item 4: the proxy in front of an MCP server. It advertises the
// upstream as a protected resource (RFC 9728), streams server-sent events
// and chunked responses unbuffered, and keeps the token from the upstream.

// mcpProxy starts a real proxy server whose resource is its own URL plus
// /mcp, so that the resource_metadata URL of its challenges can be
// fetched; edit adjusts the configuration further.
func mcpProxy(t *testing.T, edit ...func(*proxy.Config)) (*env, *httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	resource := "http://" + srv.Listener.Addr().String() + "/mcp"
	e := newEnv(t, append([]func(*proxy.Config){func(c *proxy.Config) {
		c.ResourceMetadata = &httpauth.ResourceMetadata{
			Resource:             resource,
			AuthorizationServers: []string{"https://id.example.com"},
			ScopesSupported:      []string{"orders:read"},
		}
	}}, edit...)...)
	srv.Config.Handler = e.h
	srv.Start()
	t.Cleanup(srv.Close)
	return e, srv, resource
}

func send(t *testing.T, method, u, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// TestResourceMetadataServed: both well-known forms serve the document,
// with or without a token, and neither reaches the upstream, also in
// route mode, where no route declares them.
func TestResourceMetadataServed(t *testing.T) {
	routes, err := proxy.NewRoutes([]oauth.Route{{Path: "/mcp", Scopes: []string{"orders:read"}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*proxy.Config){
		"scopes": func(*proxy.Config) {},
		"routes": func(c *proxy.Config) { c.Scopes, c.Routes = nil, routes },
	} {
		e, srv, resource := mcpProxy(t, edit)
		for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
			for _, tok := range []string{"", e.token("orders:read")} {
				resp, body := send(t, "GET", srv.URL+path, tok)
				var doc struct {
					Resource             string   `json:"resource"`
					AuthorizationServers []string `json:"authorization_servers"`
					ScopesSupported      []string `json:"scopes_supported"`
					BearerMethods        []string `json:"bearer_methods_supported"`
				}
				if err := json.Unmarshal(body, &doc); err != nil || resp.StatusCode != 200 {
					t.Fatalf("%s: GET %s: %d %s", name, path, resp.StatusCode, body)
				}
				if doc.Resource != resource || strings.Join(doc.AuthorizationServers, " ") != "https://id.example.com" ||
					strings.Join(doc.ScopesSupported, " ") != "orders:read" || strings.Join(doc.BearerMethods, " ") != "header" {
					t.Errorf("%s: GET %s: %s", name, path, body)
				}
				if resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "public") {
					t.Errorf("%s: GET %s: headers %v", name, path, resp.Header)
				}
			}
		}
		if resp, _ := send(t, "POST", srv.URL+"/.well-known/oauth-protected-resource/mcp", e.token("orders:read")); resp.StatusCode != 405 {
			t.Errorf("%s: POST to the metadata: %d, want 405", name, resp.StatusCode)
		}
		if n := e.up.hits.Load(); n != 0 {
			t.Errorf("%s: %d metadata requests reached the upstream", name, n)
		}
		if !strings.Contains(e.logs.String(), `"reason":"resource metadata"`) {
			t.Errorf("%s: no access log line for the metadata", name)
		}
	}
}

// TestResourceMetadataChallenges: a 401 names the metadata URL, which
// serves the document of the resource the client asked for; a 403 names
// it too, with the scope the request needs.
func TestResourceMetadataChallenges(t *testing.T) {
	e, srv, resource := mcpProxy(t)
	resp, _ := send(t, "POST", resource, "")
	challenge := resp.Header.Get("WWW-Authenticate")
	_, after, _ := strings.Cut(challenge, `resource_metadata="`)
	metaURL, _, ok := strings.Cut(after, `"`)
	if resp.StatusCode != 401 || !ok || !strings.HasPrefix(challenge, `Bearer realm="order-status-api", resource_metadata="`) {
		t.Fatalf("401: %d %q", resp.StatusCode, challenge)
	}
	if metaURL != srv.URL+"/.well-known/oauth-protected-resource/mcp" {
		t.Errorf("resource_metadata %q", metaURL)
	}
	_, body := send(t, "GET", metaURL, "")
	var doc struct{ Resource string }
	if err := json.Unmarshal(body, &doc); err != nil || doc.Resource != resource {
		t.Errorf("the named document: %s (%v), want resource %q", body, err, resource)
	}

	resp, _ = send(t, "POST", resource, e.token("openid"))
	want := `Bearer realm="order-status-api", resource_metadata="` + metaURL +
		`", error="insufficient_scope", error_description="The token lacks the scope 'orders:read'", scope="orders:read"`
	if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 403 || got != want {
		t.Errorf("403: %d %q\nwant %q", resp.StatusCode, got, want)
	}
	if n := e.up.hits.Load(); n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}
}

// TestStreamsUnbuffered: an upstream that writes one event, flushes, and
// then waits until the client has read that event through the proxy. Were
// the proxy buffering, the client would never see the event and the test
// would wait in vain, and fail after 10 s, never pass: no sleeps involved.
// Both server-sent events and a chunked JSON stream (an MCP
// streamable-HTTP response without text/event-stream) are checked.
func TestStreamsUnbuffered(t *testing.T) {
	for _, contentType := range []string{"text/event-stream", "application/json"} {
		read := make(chan struct{})
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			io.WriteString(w, "data: first\n\n")
			http.NewResponseController(w).Flush()
			select {
			case <-read:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "data: second\n\n")
		}))
		upURL, _ := url.Parse(up.URL)
		e := newEnv(t, func(c *proxy.Config) { c.Upstream = upURL })
		srv := httptest.NewServer(e.h)
		req, _ := http.NewRequest("POST", srv.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Authorization", "Bearer "+e.token("orders:read"))
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		first := make(chan string, 1)
		go func() { line, _ := br.ReadString('\n'); first <- line }()
		select {
		case line := <-first:
			if line != "data: first\n" {
				t.Errorf("%s: first line %q", contentType, line)
			}
		case <-time.After(10 * time.Second):
			// Not a wait for something to happen: a bound on a hang, so a
			// buffering proxy fails with this message, not a test timeout.
			t.Fatalf("%s: the first event did not arrive while the upstream held the response open: buffered", contentType)
		}
		close(read) // only now may the upstream finish
		rest, _ := io.ReadAll(br)
		if string(rest) != "\ndata: second\n\n" {
			t.Errorf("%s: rest %q", contentType, rest)
		}
		resp.Body.Close()
		srv.Close()
		up.Close()
	}
}

// TestTokenPassthrough: the upstream never sees the client's
// Authorization header unless ForwardToken is set.
func TestTokenPassthrough(t *testing.T) {
	for _, forward := range []bool{false, true} {
		e, srv, _ := mcpProxy(t, func(c *proxy.Config) { c.ForwardToken = forward })
		tok := e.token("orders:read")
		if resp, _ := send(t, "POST", srv.URL+"/mcp", tok); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		h, _, _ := e.up.last()
		got := h.Values("Authorization")
		if forward && (len(got) != 1 || got[0] != "Bearer "+tok) {
			t.Errorf("ForwardToken: Authorization %q, want the client's", got)
		}
		if !forward && len(got) != 0 {
			t.Errorf("default: Authorization %q reached the upstream", got)
		}
		if h.Get(proxy.HeaderSubject) != "user-1" {
			t.Errorf("forward %v: subject %q", forward, h.Get(proxy.HeaderSubject))
		}
	}
}

func TestResourceMetadataConfig(t *testing.T) {
	e := newEnv(t)
	for name, cfg := range map[string]proxy.Config{
		"relative resource": {ResourceMetadata: &httpauth.ResourceMetadata{Resource: "/mcp"}},
		"fragment":          {ResourceMetadata: &httpauth.ResourceMetadata{Resource: "https://mcp.example.com/mcp#x"}},
		"contradiction":     {ForwardToken: true, StripAuthorization: true},
	} {
		cfg.Verifier, cfg.Upstream = e.v, e.up.url(t)
		if _, err := proxy.New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
