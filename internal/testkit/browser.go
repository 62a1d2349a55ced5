package testkit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium lives (installed by .ci/deps.sh).
const ChromiumPath = "/usr/bin/chromium"

// Browser starts a headless Chromium for one test and returns its chromedp
// context (width × height window). It skips the test under -short, and
// with a one-line reason when Chromium is not installed, except under CI
// (CI=true), where the browser tests always run and a missing Chromium
// fails them. The flags keep it off the network: this machine allows
// loopback only.
func Browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	SkipShort(t, "the real-browser test")
	if _, err := os.Stat(ChromiumPath); err != nil {
		Missing(t, ChromiumPath+" not found (install it with .ci/deps.sh)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	profile := t.TempDir() // made before the browser, so removed after it exits
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.NoSandbox, // CI runs as root in a container
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(width, height),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	return bctx
}

// ArtifactDir is where browser tests keep screenshots for review:
// $GATEHOUSE_ARTIFACTS/sub when set (CI sets it), else a temp dir.
func ArtifactDir(t *testing.T, sub string) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
