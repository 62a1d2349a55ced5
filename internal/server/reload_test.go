package server_test

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// reloaded is the test configuration of e with f applied, as a fresh
// file load would give it.
func reloaded(t *testing.T, e *env, f func(*config.Config)) *config.Config {
	t.Helper()
	cfg := parseTestConfig(t, e.srv.URL)
	if f != nil {
		f(cfg)
	}
	return cfg
}

func ccCode(t *testing.T, e *env, id, secret string, extra url.Values) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range extra {
		form[k] = v
	}
	m := tokenRequest(t, e, basic(id, secret), form)
	if m["access_token"] != nil {
		return 200, m
	}
	return 400, m
}

// TestReloadWithoutRestart (issue 11 item 4): each change is seen through
// real requests at once — a client added, a user removed (sessions and
// refresh tokens end), an audience taken away — and settings that need a
// restart keep their running values and are reported.
func TestReloadWithoutRestart(t *testing.T) {
	e := start(t)
	if code, _ := ccCode(t, e, "new-job", "new-job-secret-123456", nil); code == 200 {
		t.Fatal("new-job works before it is configured")
	}
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "offline_access")
	verifier, _ := pkce()
	b := newBrowser(t)
	tok, _ := redeem(t, e, cfg, signIn(t, e, b, cfg, "s", "n", verifier, true), verifier)

	next := reloaded(t, e, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "new-job", Secret: "new-job-secret-123456",
			GrantTypes: []string{"client_credentials"}, Audience: []string{"order-status-api"}})
		c.Users = nil
		c.Client("order-sync-job").Audience = []string{"order-status-api"}
		c.Listen = "127.0.0.1:1"
	})
	restart, err := e.server.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(restart, []string{"listen"}) {
		t.Errorf("needs restart: %v, want [listen]", restart)
	}
	if code, m := ccCode(t, e, "new-job", "new-job-secret-123456", nil); code != 200 {
		t.Errorf("the added client: %v", m)
	}
	if _, m := ccCode(t, e, "order-sync-job", "sync-job-secret-change-me", url.Values{"resource": {"https://billing.example.com"}}); m["error"] != "invalid_target" {
		t.Errorf("the audience taken away is still granted: %v", m)
	}
	if r := refresh(t, e, "web-portal", "web-portal-secret-123", tok.RefreshToken, nil); r["error"] != "invalid_grant" {
		t.Errorf("the removed user's refresh token: %v", r)
	}
	if p := b.get(authURL(cfg, "x", verifier, "prompt", "none")); p.location == nil || p.location.Query().Get("error") != "login_required" {
		t.Errorf("the removed user's session: %v", p.location)
	}

	// A configuration the server cannot build is refused; the old stays.
	bad := reloaded(t, e, func(c *config.Config) { c.Client("slow-hash-job").Secret = "$argon2id$broken" })
	if _, err := e.server.Reload(bad); err == nil {
		t.Error("a broken secret hash was accepted")
	}
	if code, _ := ccCode(t, e, "new-job", "new-job-secret-123456", nil); code != 200 {
		t.Error("after a refused reload the previous configuration is gone")
	}
}

// TestReloadUnderLoad: requests in flight during reloads are unharmed
// (run with -race in CI): every token request of a client present in
// both configurations succeeds while the configuration is swapped 20
// times.
func TestReloadUnderLoad(t *testing.T) {
	e := start(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	failures := make(chan string, 100)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if code, m := ccCode(t, e, "order-sync-job", "sync-job-secret-change-me", nil); code != 200 {
					failures <- m["error"].(string)
					return
				}
			}
		}()
	}
	for i := range 20 {
		next := reloaded(t, e, func(c *config.Config) {
			if i%2 == 0 {
				c.Clients = append(c.Clients, config.Client{ID: "new-job", Secret: "new-job-secret-123456", GrantTypes: []string{"client_credentials"}})
			}
		})
		if _, err := e.server.Reload(next); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Errorf("a request failed during reloads: %s", f)
	}
}

// TestReloadTwoInstancesOnPostgreSQL: two instances over one PostgreSQL
// are reloaded independently; each serves its own configuration, and the
// shared state (a code issued on one, redeemed on the other) still works.
func TestReloadTwoInstancesOnPostgreSQL(t *testing.T) {
	testkit.SkipShort(t, "two instances over PostgreSQL")
	c := startCluster(t, 2)
	a, b := c[0], c[1]
	withJob := reloaded(t, a, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "new-job", Secret: "new-job-secret-123456", GrantTypes: []string{"client_credentials"}})
	})
	if _, err := a.server.Reload(withJob); err != nil {
		t.Fatal(err)
	}
	if code, _ := ccCode(t, a, "new-job", "new-job-secret-123456", nil); code != 200 {
		t.Error("reloaded instance: new-job refused")
	}
	if code, _ := ccCode(t, b, "new-job", "new-job-secret-123456", nil); code == 200 {
		t.Error("the other instance changed without its own reload")
	}
	if _, err := b.server.Reload(withJob); err != nil {
		t.Fatal(err)
	}
	if code, _ := ccCode(t, b, "new-job", "new-job-secret-123456", nil); code != 200 {
		t.Error("second instance after its reload: new-job refused")
	}
	cfg := oauthConfig(a, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid")
	verifier, _ := pkce()
	code := signIn(t, a, newBrowser(t), cfg, "s", "n", verifier, true)
	cfg.Endpoint.TokenURL = b.srv.URL + "/token"
	if _, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Errorf("a code from one reloaded instance redeemed on the other: %v", err)
	}
}
