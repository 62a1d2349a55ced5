package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/server"
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

// BenchmarkClientCredentialsUsage measures a client_credentials token
// request served in-process (client authentication, policy, ES256
// signature, response) with issuance counting on and off, so the cost of
// counting shows as the difference: run with -count 10 and compare.
func BenchmarkClientCredentialsUsage(b *testing.B) {
	for _, counting := range []bool{false, true} {
		name := "counting=off"
		if counting {
			name = "counting=on"
		}
		b.Run(name, func(b *testing.B) {
			e := start(b)
			s := newServer(b, parseTestConfig(b, e.srv.URL), e, e.store)
			if !counting {
				server.DisableUsage(s)
			}
			h := s.Handler()
			auth := basic("order-sync-job", "sync-job-secret-change-me")
			body := "grant_type=client_credentials&resource=order-status-api"
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "/token", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Authorization", auth)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}
