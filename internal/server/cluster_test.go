package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/testkit/pgtest"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// startCluster runs n Gatehouse instances on loopback ports over one
// PostgreSQL schema, as behind a load balancer: one issuer URL, separate
// processes' worth of state (pools, key rings, limiters) per instance.
func startCluster(t testing.TB, n int, extra ...func(*config.Config)) []*env {
	t.Helper()
	dsn := pgtest.Schema(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var envs []*env
	var issuer string
	for i := range n {
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		if i == 0 {
			issuer = srv.URL
		}
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		ring, err := keys.Open(ctx, st, keys.Options{Alg: "ES256", Secret: strings.Repeat("k", 32),
			RetireAfter: time.Hour, PollInterval: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		go ring.Run(ctx)
		cfg := parseTestConfig(t, issuer)
		for _, f := range extra {
			f(cfg)
		}
		s, err := server.New(server.Options{Config: cfg, Keys: ring, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		mux.Handle("/", s.Handler())
		envs = append(envs, &env{srv: srv, store: st, ring: ring, server: s})
	}
	return envs
}

// TestClusterFlowAcrossInstances: authorize on the first instance, redeem
// the code on the second, refresh on the third; concurrent refreshes of one
// token across all three have one winner and the reuse revokes the family;
// after a rotation on one instance all three publish the same JWKS.
func TestClusterFlowAcrossInstances(t *testing.T) {
	testkit.SkipShort(t, "the cluster test (three instances over PostgreSQL)")
	c := startCluster(t, 3)
	a, b, cc := c[0], c[1], c[2]
	ctx := context.Background()

	cfg := oauthConfig(a, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "offline_access", "orders:read")
	verifier := oauth2.GenerateVerifier()
	code := signIn(t, a, newBrowser(t), cfg, "s", "n", verifier, true)

	cfg.Endpoint.TokenURL = b.srv.URL + "/token"
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("redeeming on the second instance: %v", err)
	}
	r := refresh(t, cc, "web-portal", "web-portal-secret-123", tok.RefreshToken, nil)
	rt, ok := r["refresh_token"].(string)
	if !ok {
		t.Fatalf("refresh on the third instance: %v", r)
	}
	// The access token from the third instance verifies against the first's JWKS.
	claimsFromJWKS(t, a, r["access_token"].(string))

	// Concurrent refreshes of one token, one per instance (twice each).
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wins, reused int
	for i := range 6 {
		e := c[i%3]
		wg.Go(func() {
			r := refresh(t, e, "web-portal", "web-portal-secret-123", rt, nil)
			mu.Lock()
			defer mu.Unlock()
			if r["access_token"] != nil {
				wins++
			} else if r["error"] == "invalid_grant" {
				reused++
			}
		})
	}
	wg.Wait()
	if wins != 1 || reused != 5 {
		t.Fatalf("concurrent refreshes across instances: %d won, %d refused; want 1 and 5", wins, reused)
	}
	// Reuse detection revoked the family: the winner's new token is dead too.
	if m := introspect(t, b, "order-status-api", "order-status-api-secret", tok.AccessToken); m["active"] != false {
		t.Errorf("access token of the revoked family still active on another instance: %v", m)
	}

	// Rotation on one instance reaches every instance's JWKS.
	if err := a.ring.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	jwks := func(e *env) []byte {
		resp, err := http.Get(e.srv.URL + "/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return body
	}
	// Each instance's key ring polls PostgreSQL (every 100ms here) in its
	// own goroutine and answers over a real socket, so there is no event
	// to wait for: poll what every instance publishes, with a deadline.
	want := jwks(a)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if bytes.Equal(jwks(b), want) && bytes.Equal(jwks(cc), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instances publish different JWKS after a rotation:\n%s\n%s\n%s", want, jwks(b), jwks(cc))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if a.ring.Signer().KID != b.ring.Signer().KID || b.ring.Signer().KID != cc.ring.Signer().KID {
		t.Error("instances sign with different keys after the rotation")
	}
	// A token signed after the rotation on the second instance verifies
	// against the JWKS the third serves.
	tok2, err := ccConfig(b, "order-sync-job", "sync-job-secret-change-me", url.Values{}, oauth2.AuthStyleInHeader).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	claimsFromJWKS(t, cc, tok2.AccessToken)
}
