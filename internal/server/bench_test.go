package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// BenchmarkRefreshGrant measures one refresh-token rotation end to end over
// loopback HTTP and real SQLite: client authentication, the store
// transaction, the access and ID token signatures and the response.
func BenchmarkRefreshGrant(b *testing.B) {
	e := start(b)
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "offline_access")
	code := signInB(b, e, cfg)
	tok, err := cfg.Exchange(context.Background(), code)
	if err != nil {
		b.Fatal(err)
	}
	rt := tok.RefreshToken
	auth := basic("web-portal", "web-portal-secret-123")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		req, _ := http.NewRequest("POST", e.srv.URL+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := jsonDecode(resp, &body); err != nil || body.RefreshToken == "" {
			b.Fatalf("refresh failed: %v", err)
		}
		rt = body.RefreshToken
	}
}

func signInB(b *testing.B, e *env, cfg *oauth2.Config) string {
	br := newBrowser(b)
	p := br.get(cfg.AuthCodeURL("s"))
	p = br.login(e, p, "alice", "alice-password-1")
	p = br.consent(e, p, "allow")
	if p.location == nil {
		b.Fatal("sign-in failed")
	}
	return p.location.Query().Get("code")
}
