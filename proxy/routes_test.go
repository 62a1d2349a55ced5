package proxy

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/oauth"
)

func TestRoutesMatch(t *testing.T) {
	rt, err := NewRoutes([]oauth.Route{
		{Path: "/orders/{id}", Methods: []string{"GET"}, Scopes: []string{"orders:read"}},
		{Path: "/orders/{id}", Methods: []string{"PUT", "DELETE"}, Scopes: []string{"orders:write"}},
		{Path: "/orders/{id}/notes/{$}", Scopes: []string{"notes"}},
		{Path: "/static/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		matched      bool
		scopes       []string
		status       int // of the refusal when not matched
	}{
		{"GET", "/orders/42", true, []string{"orders:read"}, 0},
		{"HEAD", "/orders/42", true, []string{"orders:read"}, 0},
		{"DELETE", "/orders/42", true, []string{"orders:write"}, 0},
		{"POST", "/orders/42/notes/", true, []string{"notes"}, 0},
		{"GET", "/static/app.js", true, nil, 0},
		{"POST", "/orders/42", false, nil, http.StatusMethodNotAllowed},
		{"GET", "/orders/42/notes/x", false, nil, http.StatusNotFound},
		{"GET", "/admin", false, nil, http.StatusNotFound},
		// ServeMux redirects to the clean path; the proxy never gets here
		// (400 first: TestRoutePathAmbiguousRefused).
		{"GET", "/static/../admin", false, nil, http.StatusTemporaryRedirect},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, "http://api.example.com"+tc.path, nil)
		scopes, matched, refuse := rt.match(r)
		if matched != tc.matched || !slices.Equal(scopes, tc.scopes) {
			t.Errorf("%s %s: matched %v scopes %v, want %v %v", tc.method, tc.path, matched, scopes, tc.matched, tc.scopes)
			continue
		}
		if !matched {
			rec := httptest.NewRecorder()
			refuse.ServeHTTP(rec, r)
			if rec.Code != tc.status {
				t.Errorf("%s %s: refused with %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			}
		}
	}
}

func TestRoutesSetInvalidKeepsRules(t *testing.T) {
	rt, err := NewRoutes([]oauth.Route{{Path: "/a", Scopes: []string{"x"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]oauth.Route{
		{{Path: "a"}},
		{{Path: "/a/{b"}},
		{{Path: "/a", Methods: []string{"get"}}},
		{{Path: "/a", Scopes: []string{"a b"}}},
		{{Path: "/o/{id}"}, {Path: "/o/{x}"}},
	} {
		if err := rt.Set(bad); err == nil {
			t.Errorf("Set(%+v) = nil, want an error", bad)
		}
	}
	scopes, matched, _ := rt.match(httptest.NewRequest("GET", "/a", nil))
	if !matched || !slices.Equal(scopes, []string{"x"}) || rt.Len() != 1 {
		t.Errorf("after invalid sets: matched %v scopes %v len %d; the first rules should stay", matched, scopes, rt.Len())
	}
	// An empty set refuses everything: fail closed.
	if err := rt.Set(nil); err != nil {
		t.Fatal(err)
	}
	if _, matched, _ := rt.match(httptest.NewRequest("GET", "/a", nil)); matched {
		t.Error("an empty route set matched a request")
	}
}

func TestRoutesAndScopesExclusive(t *testing.T) {
	rt, _ := NewRoutes(nil)
	_, err := New(Config{Verifier: nil, Upstream: nil, Scopes: []string{"x"}, Routes: rt})
	if err == nil || !strings.Contains(err.Error(), "Scopes and Routes are exclusive") {
		t.Errorf("New with Scopes and Routes = %v", err)
	}
}
