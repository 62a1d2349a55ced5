package web

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/testkit"
)

// updateScreenshot rewrites the reviewed copy of the login screenshot in
// testdata. It is a flag, not the default, so that a normal test run never
// changes the source tree.
var updateScreenshot = flag.Bool("update-screenshot", false, "copy the login screenshot to testdata/screenshots/login.png")

// TestBrowser loads every page in a real, headless Chromium, checks that
// the stylesheet and logo load under the pages' own Content Security
// Policy, signs in and consents through the plain forms (the CSP forbids
// all scripts, so this also proves the forms work without JavaScript),
// and saves full-page screenshots for review.
func TestBrowser(t *testing.T) {
	bctx := testkit.Browser(t, 1024, 768)
	outDir := testkit.ArtifactDir(t, "web")

	p := newPages(t)

	// The client lives on another origin, as in production, so the test
	// sees a cross-origin redirect after the form POST: this is what a CSP
	// form-action directive would break in Chrome.
	arrived := make(chan string, 4)
	client := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.RequestURI()
		fmt.Fprintln(w, "client callback")
	}))
	t.Cleanup(client.Close)

	posted := make(chan url.Values, 4)
	mux := http.NewServeMux()
	mux.Handle(StaticPrefix, p.StaticHandler())
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		p.Login(w, http.StatusOK, sampleLogin())
	})
	mux.HandleFunc("GET /login-error", func(w http.ResponseWriter, r *http.Request) {
		d := sampleLogin()
		d.Username, d.Error = "alice", "Wrong username or password."
		p.Login(w, http.StatusUnauthorized, d)
	})
	mux.HandleFunc("GET /login-locked", func(w http.ResponseWriter, r *http.Request) {
		d := sampleLogin()
		d.Username, d.Locked = "alice", true
		p.Login(w, http.StatusTooManyRequests, d)
	})
	mux.HandleFunc("GET /login-sources", func(w http.ResponseWriter, r *http.Request) {
		d := sampleLogin()
		d.Directories = []Item{{ID: "staff", Name: "Staff directory"}}
		d.Upstreams = []Item{{ID: "corp", Name: "Example Corp"}, {ID: "partner", Name: "Partner SSO"}}
		p.Login(w, http.StatusOK, d)
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		p.Consent(w, sampleConsent())
	})
	mux.HandleFunc("GET /consent-metadata", func(w http.ResponseWriter, r *http.Request) {
		d := sampleConsent()
		d.ClientName, d.ClientID = "Example Agent", "https://agent.example.com/client.json"
		d.Unverified, d.RedirectHost, d.LoopbackOnly = true, "127.0.0.1:33418", true
		p.Consent(w, d)
	})
	mux.HandleFunc("GET /error", func(w http.ResponseWriter, r *http.Request) {
		p.Error(w, http.StatusBadRequest, ErrorData{
			Title:     "This sign-in link is not valid",
			Message:   "The application sent you here with a return address it has not registered with Gatehouse.",
			Hint:      "Go back to the application and try again. If it keeps happening, contact its support and quote the reference below.",
			RequestID: "4f1c2a9e-7d3b-4e8a-9c61-0b2d5e8f7a13",
		})
	})
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, r *http.Request) {
		p.LoggedOut(w, LoggedOutData{ClientName: "Customer Portal", ReturnURL: client.URL + "/signed-out"})
	})
	// Both forms post here; like the real server, answer with a redirect
	// to the client.
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		posted <- r.PostForm
		http.Redirect(w, r, client.URL+"/callback?code=abc&state=xyz", http.StatusSeeOther)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// Collect console and browser-log messages: a CSP violation (a blocked
	// stylesheet, image or inline style) shows up here.
	var (
		mu       sync.Mutex
		messages []string
	)
	console := chromedp.Console(bctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			mu.Lock()
			messages = append(messages, m.String())
			mu.Unlock()
		}
	}()

	// A headless tab is never the focused window, so :focus styles would
	// not show; emulate focus so the screenshots show the autofocused
	// field's focus ring, as a person would see it.
	emulateFocus := func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
			return err
		}))
	}
	if err := emulateFocus(bctx); err != nil {
		t.Fatalf("start browser: %v", err)
	}

	shoot := func(t *testing.T, bctx context.Context, name string) {
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
		if name == "login" && *updateScreenshot {
			if err := os.WriteFile(filepath.Join("testdata", "screenshots", "login.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	load := func(t *testing.T, bctx context.Context, path string) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS(".card"))); err != nil {
			t.Fatalf("load %s: %v", path, err)
		}
		// The stylesheet applied (so CSP allowed it) and the logo loaded.
		radius, err := chromedp.Run(bctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".card")).borderTopLeftRadius`))
		if err != nil || radius == "0px" || radius == "" {
			t.Errorf("%s: stylesheet not applied (card radius %q, %v)", path, radius, err)
		}
		logo, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { const i = document.querySelector(".brand img"); return i.complete && i.naturalWidth > 0 })()`))
		if err != nil || !logo {
			t.Errorf("%s: logo did not load (%v)", path, err)
		}
	}

	for _, page := range []struct{ path, name string }{
		{"/login", "login"},
		{"/login-error", "login-error"},
		{"/login-locked", "login-locked"},
		{"/login-sources", "login-sources"},
		{"/consent", "consent"},
		{"/consent-metadata", "consent-metadata"},
		{"/error", "error"},
		{"/logged-out", "logged-out"},
	} {
		t.Run(page.name, func(t *testing.T) {
			load(t, bctx, page.path)
			shoot(t, bctx, page.name)
		})
	}

	t.Run("login-mobile", func(t *testing.T) {
		// A tab of its own, so the phone emulation cannot leak into the
		// other screenshots.
		mctx, cancel := chromedp.NewContext(bctx)
		defer cancel()
		if err := chromedp.Do(mctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2))); err != nil {
			t.Fatal(err)
		}
		if err := emulateFocus(mctx); err != nil {
			t.Fatal(err)
		}
		load(t, mctx, "/login")
		// Nothing may overflow sideways on a phone.
		wide, err := chromedp.Run(mctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || wide {
			t.Errorf("page scrolls sideways on a phone (%v)", err)
		}
		shoot(t, mctx, "login-mobile")
	})

	t.Run("consent-dark", func(t *testing.T) {
		setScheme := func(scheme string) error {
			return chromedp.Do(bctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
				})
				return err
			}))
		}
		if err := setScheme("dark"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = setScheme("") })
		load(t, bctx, "/consent")
		shoot(t, bctx, "consent-dark")
	})

	t.Run("sign in", func(t *testing.T) {
		load(t, bctx, "/login")
		focused, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.activeElement.id`))
		if err != nil || focused != "username" {
			t.Errorf("focused element = %q (%v), want username", focused, err)
		}
		err = chromedp.Do(bctx,
			chromedp.SendKeys(chromedp.ID("username"), "alice"),
			chromedp.SendKeys(chromedp.ID("password"), "correct horse"),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		form := waitFor(t, posted)
		want := url.Values{
			FieldUsername: {"alice"}, FieldPassword: {"correct horse"},
			FieldCSRFToken: {"csrf-token-1"}, FieldRequestID: {"req-42"},
		}
		if fmt.Sprint(form) != fmt.Sprint(want) {
			t.Errorf("posted %v, want %v", form, want)
		}
		if got := waitFor(t, arrived); got != "/callback?code=abc&state=xyz" {
			t.Errorf("browser arrived at %q", got)
		}
		settled(t, bctx, "/callback")
	})

	t.Run("consent allow", func(t *testing.T) {
		load(t, bctx, "/consent")
		if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`button[value="allow"]`))); err != nil {
			t.Fatal(err)
		}
		form := waitFor(t, posted)
		if form.Get(FieldDecision) != DecisionAllow || form.Get(FieldCSRFToken) != "csrf-token-2" || form.Get(FieldRequestID) != "req-43" {
			t.Errorf("posted %v", form)
		}
		waitFor(t, arrived)
		settled(t, bctx, "/callback")
	})

	mu.Lock()
	defer mu.Unlock()
	for _, m := range messages {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Refused to") {
			t.Errorf("browser console: %s", m)
		}
	}
}

// settled waits until the browser has finished loading path: the server
// seeing the request is not enough, and a navigation started while the
// previous one still commits is aborted (net::ERR_ABORTED).
func settled(t *testing.T, bctx context.Context, path string) {
	t.Helper()
	js := `location.pathname === ` + strconv.Quote(path) + ` && document.readyState === "complete"`
	// A poll with a deadline, not an event: the check itself fails while
	// the page it runs in is being replaced, and Chromium tells nothing
	// else when the new one is done.
	deadline := time.Now().Add(10 * time.Second)
	for {
		done, err := chromedp.Run(bctx, chromedp.Evaluate[bool](js))
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the browser did not finish loading %s (%v)", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitFor[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting for the browser")
		panic("unreachable")
	}
}

func sampleLogin() LoginData {
	return LoginData{
		Action: "/submit", CSRFToken: "csrf-token-1", RequestID: "req-42",
		ClientName: "Customer Portal", ClientID: "customer-portal",
	}
}

func sampleConsent() ConsentData {
	return ConsentData{
		Action: "/submit", CSRFToken: "csrf-token-2", RequestID: "req-43",
		ClientName: "Customer Portal", ClientID: "customer-portal", Username: "alice",
		Scopes: []Item{{ID: "openid"}, {ID: "profile"}, {ID: "email"}, {ID: "orders:read"}, {ID: "offline_access"}},
		Audiences: []Item{
			{ID: "order-api", Name: "Order Status API", Description: "See where your orders are"},
		},
		OfflineAccess: true,
	}
}
