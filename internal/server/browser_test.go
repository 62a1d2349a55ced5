package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// TestBrowserSignIn drives Debian's headless Chromium through the real
// login and consent pages of a running Gatehouse and lands on the client's
// redirect URI with a code, which the client then redeems. Screenshots of
// the pages are kept as artifacts ($GATEHOUSE_ARTIFACTS/server, or the
// test's temp dir).
func TestBrowserSignIn(t *testing.T) {
	bctx := testkit.Browser(t, 1024, 768)
	arrived := make(chan url.Values, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			arrived <- r.URL.Query()
		}
		w.Write([]byte("<!doctype html><title>app</title><p>signed in</p>"))
	}))
	t.Cleanup(app.Close)
	callback := app.URL + "/callback"
	e := start(t, func(c *config.Config) {
		wp := c.Client("web-portal")
		wp.RedirectURIs = append(wp.RedirectURIs, callback)
	})

	outDir := testkit.ArtifactDir(t, "server")
	ctx := bctx
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		file := filepath.Join(outDir, name+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", file)
	}

	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", callback, "openid", "profile", "orders:read")
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-browser", oauth2.S256ChallengeOption(verifier))

	if err := chromedp.Do(bctx, chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("login page: %v", err)
	}
	shoot("login")
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-password-1"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	shoot("consent")
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`button[value="allow"]`))); err != nil {
		t.Fatalf("consent: %v", err)
	}
	var q url.Values
	select {
	case q = <-arrived:
	case <-ctx.Done():
		t.Fatal("the browser never reached the client's redirect URI")
	}
	if q.Get("state") != "state-browser" || q.Get("code") == "" || q.Get("iss") != e.srv.URL {
		t.Fatalf("callback query %v", q)
	}
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("redeeming the browser's code: %v", err)
	}
	ac, _ := claimsFromJWKS(t, e, tok.AccessToken)
	if aud, _ := ac["aud"].([]any); !slices.Contains(aud, any("order-status-api")) || ac["sub"] != "alice" {
		t.Errorf("access token claims %v", ac)
	}
	// The session cookie works: a second authorization needs no login and
	// no consent (already given) and goes straight back to the client.
	if err := chromedp.Do(bctx, chromedp.Navigate(cfg.AuthCodeURL("again", oauth2.S256ChallengeOption(verifier)))); err != nil {
		t.Fatal(err)
	}
	select {
	case q = <-arrived:
		if q.Get("state") != "again" || q.Get("code") == "" {
			t.Errorf("second authorization: %v", q)
		}
	case <-ctx.Done():
		t.Fatal("second authorization did not return to the client")
	}
}
