package httpauth_test

import (
	"encoding/json"
	"github.com/gatehouse/gatehouse/oauth"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/httpauth"
)

// TestMetadataURL pins RFC 9728 §3.1: the well-known suffix goes between
// the host and the resource's path (and query), and a bare "/" is no path.
func TestMetadataURL(t *testing.T) {
	for resource, want := range map[string]string{
		"https://mcp.example.com/mcp":      "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
		"https://api.example.com":          "https://api.example.com/.well-known/oauth-protected-resource",
		"https://api.example.com/":         "https://api.example.com/.well-known/oauth-protected-resource",
		"https://api.example.com:8443/a/b": "https://api.example.com:8443/.well-known/oauth-protected-resource/a/b",
		"https://api.example.com/a%20b":    "https://api.example.com/.well-known/oauth-protected-resource/a%20b",
		"https://api.example.com/t?x=1":    "https://api.example.com/.well-known/oauth-protected-resource/t?x=1",
		"http://127.0.0.1:9000/mcp":        "http://127.0.0.1:9000/.well-known/oauth-protected-resource/mcp",
	} {
		got, err := httpauth.MetadataURL(resource)
		if err != nil || got != want {
			t.Errorf("MetadataURL(%q) = %q, %v; want %q", resource, got, err, want)
		}
	}
	for _, bad := range []string{"", "mcp", "/mcp", "ftp://example.com/x", "https:///mcp", "https://example.com/mcp#frag", "https://example.com/#", "https://u:p@example.com/mcp", "https://exa mple.com/", "https://a\"b/mcp", "https://a!b/"} {
		if got, err := httpauth.MetadataURL(bad); err == nil {
			t.Errorf("MetadataURL(%q) = %q, want an error", bad, got)
		}
	}
}

// metaServer serves an API the way the package documentation suggests: the
// metadata document at MetadataPath, in front of the middleware, and the
// protected routes behind it. The resource is the server's own URL plus
// path, so the challenge's resource_metadata URL can really be fetched.
func metaServer(t *testing.T, path string, opts ...httpauth.Option) (*env, *httptest.Server, string) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	resource := srv.URL + path
	e := newEnv(t, api, append(opts, httpauth.WithResourceMetadata(httpauth.ResourceMetadata{
		Resource:             resource,
		AuthorizationServers: []string{"https://id.example.com"},
		ScopesSupported:      []string{"orders:read", "orders:write"},
		ResourceName:         "Order status",
	}))...)
	mux.Handle(e.m.MetadataPath(), e.m.MetadataHandler())
	mux.Handle("/", e.m.Require("orders:read")(e.next()))
	return e, srv, resource
}

func TestMetadataDocument(t *testing.T) {
	for _, path := range []string{"/mcp", ""} {
		e, srv, resource := metaServer(t, path)
		wantPath := "/.well-known/oauth-protected-resource" + path
		if e.m.MetadataPath() != wantPath || e.m.MetadataURL() != srv.URL+wantPath {
			t.Fatalf("path %q url %q", e.m.MetadataPath(), e.m.MetadataURL())
		}
		resp, err := http.Get(srv.URL + wantPath)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", wantPath, resp.StatusCode, err)
		}
		want := map[string]any{
			"resource":                 resource,
			"authorization_servers":    []any{"https://id.example.com"},
			"scopes_supported":         []any{"orders:read", "orders:write"},
			"bearer_methods_supported": []any{"header"},
			"resource_name":            "Order status",
		}
		if !reflect.DeepEqual(doc, want) {
			t.Errorf("document\n got %v\nwant %v", doc, want)
		}
		for k, v := range map[string]string{
			"Content-Type":                "application/json",
			"Cache-Control":               "public, max-age=300",
			"Access-Control-Allow-Origin": "*",
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %q, want %q", k, got, v)
			}
		}
		if e.hits.Load() != 0 {
			t.Error("the metadata request reached the protected handler")
		}
	}
}

// TestMetadataMethods: GET and HEAD read the document, OPTIONS is a CORS
// preflight, anything else is 405.
func TestMetadataMethods(t *testing.T) {
	e, srv, _ := metaServer(t, "/mcp")
	u := srv.URL + e.m.MetadataPath()
	for _, c := range []struct {
		method string
		status int
		header string
		value  string
	}{
		{"HEAD", 200, "Content-Type", "application/json"},
		{"OPTIONS", 204, "Access-Control-Allow-Methods", "GET, HEAD"},
		{"POST", 405, "Allow", "GET, HEAD, OPTIONS"},
		{"DELETE", 405, "Allow", "GET, HEAD, OPTIONS"},
	} {
		req, _ := http.NewRequest(c.method, u, nil)
		req.Header.Set("Origin", "https://app.example.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get(c.header) != c.value {
			t.Errorf("%s: %d %s=%q, want %d %q", c.method, resp.StatusCode, c.header, resp.Header.Get(c.header), c.status, c.value)
		}
		if c.method == "HEAD" && len(body) != 0 {
			t.Errorf("HEAD: body %q", body)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: no Access-Control-Allow-Origin", c.method)
		}
	}
	// Without WithResourceMetadata there is no document.
	w := httptest.NewRecorder()
	newEnv(t, api).m.MetadataHandler().ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/oauth-protected-resource", nil))
	if w.Code != 404 {
		t.Errorf("without metadata: %d", w.Code)
	}
}

// TestMetadataChallenges: every refusal names the metadata (RFC 9728
// §5.1) after the realm, the rest of the challenge is unchanged, a 403
// still lists the scopes the route needs, and the named URL serves the
// document for the configured resource.
func TestMetadataChallenges(t *testing.T) {
	e, srv, resource := metaServer(t, "/mcp")
	rm := `resource_metadata="` + srv.URL + `/.well-known/oauth-protected-resource/mcp"`
	base := `Bearer realm="order-status-api", ` + rm
	cases := []struct {
		name      string
		auth      string
		status    int
		challenge string
	}{
		{"no token", "", 401, base},
		{"invalid token", "Bearer " + e.key.Sign(e.iss.Claims(client, "orders:read", "hr-api")), 401,
			base + `, error="invalid_token", error_description="The audience 'hr-api' is invalid"`},
		{"insufficient scope", "Bearer " + e.token("openid"), 403,
			base + `, error="insufficient_scope", error_description="The token lacks the scope 'orders:read'", scope="orders:read"`},
		{"malformed", "Bearer a b", 400,
			base + `, error="invalid_request", error_description="The Authorization header is malformed; send exactly one 'Authorization: Bearer <token>'"`},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("GET", resource, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Values("WWW-Authenticate"); resp.StatusCode != c.status || len(got) != 1 || got[0] != c.challenge {
			t.Errorf("%s: %d %q\nwant %d %q", c.name, resp.StatusCode, got, c.status, c.challenge)
		}
	}
	if got := fetchResource(t, metadataURLOf(t, resource)); got != resource {
		t.Errorf("the challenge's document names resource %q, want %q", got, resource)
	}
}

// metadataURLOf returns the resource_metadata URL of the 401 a request
// for resource without a token gets, as a client would read it.
func metadataURLOf(t *testing.T, resource string) string {
	t.Helper()
	resp, err := http.Get(resource)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, after, ok := strings.Cut(resp.Header.Get("WWW-Authenticate"), `resource_metadata="`)
	u, _, ok2 := strings.Cut(after, `"`)
	if resp.StatusCode != 401 || !ok || !ok2 {
		t.Fatalf("401 without resource_metadata: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	return u
}

// fetchResource GETs a metadata document and returns its "resource".
func fetchResource(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Resource string `json:"resource"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return doc.Resource
}

// TestMetadataChallengeWithoutRealm: with no realm the parameter follows
// the scheme directly and the error parameters are comma-separated from it.
func TestMetadataChallengeWithoutRealm(t *testing.T) {
	m := httpauth.New(fakeVerifier{}, httpauth.WithResourceMetadata(httpauth.ResourceMetadata{Resource: "https://mcp.example.com/mcp"}))
	rm := `Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`
	if w := do(m.Handler(http.NotFoundHandler())); w.Header().Get("WWW-Authenticate") != rm {
		t.Errorf("no token: %q", w.Header().Get("WWW-Authenticate"))
	}
	if w := do(m.Handler(http.NotFoundHandler()), "Bearer a b"); !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), rm+`, error="invalid_request"`) {
		t.Errorf("malformed: %q", w.Header().Get("WWW-Authenticate"))
	}
}

func TestWithResourceMetadataPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("an invalid resource did not panic")
		}
	}()
	httpauth.New(fakeVerifier{}, httpauth.WithResourceMetadata(httpauth.ResourceMetadata{Resource: "mcp"}))
}

// FuzzMetadataURL: whatever the resource, MetadataURL does not panic, and
// a URL it returns is absolute, on the resource's host, under the
// well-known path, and safe inside the challenge's quoted-string.
func FuzzMetadataURL(f *testing.F) {
	for _, s := range []string{"https://mcp.example.com/mcp", "https://a.example/", "http://[::1]:80/x?y#z", "https://h/%zz", "https://h/a\"b", "https://h/\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, resource string) {
		got, err := httpauth.MetadataURL(resource)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		// The metadata is the canonical resource's (scheme and host in
		// lower case, default port dropped).
		c, _ := oauth.CanonicalResource(resource)
		r, _ := url.Parse(c)
		if err != nil || u.Host != r.Host || !strings.HasPrefix(u.EscapedPath(), httpauth.WellKnownResourceMetadata) {
			t.Fatalf("MetadataURL(%q) = %q (%v)", resource, got, err)
		}
		if strings.ContainsAny(got, "\"\\\r\n") {
			t.Fatalf("MetadataURL(%q) = %q cannot be quoted", resource, got)
		}
		m := httpauth.New(fakeVerifier{}, httpauth.WithResourceMetadata(httpauth.ResourceMetadata{Resource: resource}))
		if m.MetadataURL() != got {
			t.Fatalf("middleware URL %q, want %q", m.MetadataURL(), got)
		}
	})
}
