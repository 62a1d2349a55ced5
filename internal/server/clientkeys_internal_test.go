package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRemoteKeysFence: a jwks_uri resolving to a link-local address (cloud
// instance metadata) is refused before any packet leaves; a loopback one
// (an operator's own host) is fetched.
func TestRemoteKeysFence(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://[fe80::1]:80/jwks", "http://0.0.0.0:80/jwks"} {
		_, err := newRemoteKeys(u, time.Now).fetch(ctx)
		if err == nil || !strings.Contains(err.Error(), "link-local or not a host") {
			t.Errorf("%s: %v", u, err)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`))
	}))
	defer srv.Close()
	if set, err := newRemoteKeys(srv.URL, time.Now).fetch(ctx); err != nil || len(set.Keys) != 1 {
		t.Errorf("loopback: %v %v", set, err)
	}
}
