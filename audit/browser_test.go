package audit

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/testkit"

	"github.com/gatehouse/gatehouse/config"
)

// updateDocs rewrites docs/shop-audit.png, the README's picture. It is a
// flag so that a normal test run never changes the source tree.
var updateDocs = flag.Bool("update-screenshot", false, "copy the shop audit screenshot to docs/shop-audit.png")

// pageCSP is what the test serves the page with: nothing may load from
// anywhere and no script may run, so a passing test proves the page is
// self-contained and needs no JavaScript. Only inline styles are allowed.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

// TestHTMLInBrowser opens the HTML audit of the shop examples in headless
// Chromium under a CSP that forbids every external asset and all scripts,
// checks that the stylesheet applied, the inline SVG graph was drawn and
// the violation is highlighted, and keeps full-page screenshots as
// artifacts ($GATEHOUSE_ARTIFACTS/audit/, or a temporary directory).
func TestHTMLInBrowser(t *testing.T) {
	bctx := testkit.Browser(t, 1200, 900)
	outDir := testkit.ArtifactDir(t, "audit")

	pages := map[string][]byte{}
	for _, name := range []string{"shop", "policy", "policy-violation"} {
		cfg, err := config.Load(filepath.Join("..", "examples", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := Build(cfg).WriteHTML(&b); err != nil {
			t.Fatal(err)
		}
		pages["/"+name] = []byte(b.String())
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", pageCSP)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	}))
	t.Cleanup(srv.Close)

	// A CSP violation (an external asset, a script) shows up here.
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

	for _, tc := range []struct {
		name       string
		violations int
	}{{"shop", 0}, {"policy", 0}, {"policy-violation", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/"+tc.name), chromedp.WaitVisible(chromedp.CSS("figure svg"))); err != nil {
				t.Fatalf("load: %v", err)
			}
			radius, err := chromedp.Run(bctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("section")).borderTopLeftRadius`))
			if err != nil || radius == "0px" || radius == "" {
				t.Errorf("inline stylesheet not applied (section radius %q, %v)", radius, err)
			}
			// The graph is drawn: it has a size and one path per arrow.
			graph, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`(() => { const s = document.querySelector("figure svg").getBoundingClientRect(); return [s.width, s.height, document.querySelectorAll("figure svg path[marker-end]").length] })()`))
			if err != nil || len(graph) != 3 || graph[0] < 300 || graph[1] < 100 || graph[2] == 0 {
				t.Errorf("graph not drawn: %v (%v)", graph, err)
			}
			cells, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("td.violation").length`))
			if err != nil || cells != tc.violations {
				t.Errorf("%d highlighted cells, want %d (%v)", cells, tc.violations, err)
			}
			// A wide matrix scrolls inside its box, never the whole page.
			wide, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
			if err != nil || wide {
				t.Errorf("page scrolls sideways (%v)", err)
			}

			png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			file := filepath.Join(outDir, tc.name+"-audit.png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", file)
			if tc.name == "policy-violation" && *updateDocs {
				if err := os.MkdirAll(filepath.Join("..", "docs"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join("..", "docs", "shop-audit.png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	mu.Lock()
	defer mu.Unlock()
	for _, m := range messages {
		t.Errorf("browser console: %s", m)
	}
}
