package server_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// corsProbe is the page's script: it calls Gatehouse the way a browser
// app does and reports what the page was allowed to read, or the name of
// the error fetch rejected with (TypeError when CORS refuses). The token
// request is a simple request (form body, no preflight); the userinfo
// request carries Authorization, so the browser preflights it first.
const corsProbe = `(async (issuer, redirect) => {
	const out = {};
	const read = async (name, f) => { try { out[name] = await f(); } catch (e) { out[name] = e.name; } };
	await read("token", async () => {
		const r = await fetch(issuer + "/token", {method: "POST", body: new URLSearchParams({
			grant_type: "authorization_code", code: "bogus", client_id: "spa",
			redirect_uri: redirect, code_verifier: "v".repeat(43)})});
		return (await r.json()).error;
	});
	await read("userinfo", async () => {
		const r = await fetch(issuer + "/userinfo", {headers: {Authorization: "Bearer bogus"}});
		return r.status + " " + (r.headers.get("WWW-Authenticate") || "").split(" ")[0];
	});
	await read("discovery", async () => {
		const r = await fetch(issuer + "/.well-known/openid-configuration");
		return (await r.json()).issuer === issuer ? "read" : "wrong issuer";
	});
	return out;
})(%s, %s)`

// TestCORSBrowser runs headless Chromium on a page of another loopback
// origin than Gatehouse's. From http://localhost:PORT, the origin of the
// public client's redirect URI, the page reads the token endpoint's
// invalid_grant and userinfo's 401 challenge (after a preflight); from
// http://127.0.0.1:PORT, the same page under an origin nobody
// registered, fetch fails for both and only discovery is readable.
func TestCORSBrowser(t *testing.T) {
	bctx := testkit.Browser(t, 800, 600)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!doctype html><title>app</title><p>app"))
	}))
	t.Cleanup(page.Close)
	_, port, err := net.SplitHostPort(page.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	allowed := "http://localhost:" + port
	redirect := allowed + "/callback"
	e := start(t, func(c *config.Config) {
		spa := c.Client("spa")
		spa.RedirectURIs = append(spa.RedirectURIs, redirect)
	})
	issuerJS, _ := json.Marshal(e.srv.URL)
	redirectJS, _ := json.Marshal(redirect)
	script := fmt.Sprintf(corsProbe, issuerJS, redirectJS)

	probe := func(origin string) map[string]string {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(origin+"/")); err != nil {
			t.Fatalf("page at %s: %v", origin, err)
		}
		out, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](script, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("script at %s: %v", origin, err)
		}
		return out
	}

	got := probe(allowed)
	want := map[string]string{"token": "invalid_grant", "userinfo": "401 Bearer", "discovery": "read"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("from %s, %s: %q, want %q", allowed, k, got[k], v)
		}
	}

	refused := strings.Replace(allowed, "localhost", "127.0.0.1", 1)
	got = probe(refused)
	want = map[string]string{"token": "TypeError", "userinfo": "TypeError", "discovery": "read"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("from %s, %s: %q, want %q", refused, k, got[k], v)
		}
	}
}
