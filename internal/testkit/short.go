package testkit

import (
	"os"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true, as .ci/run is run).
// CI must run every test: there a slow test never skips and a missing
// prerequisite is a failure, so a broken CI image cannot pass by skipping.
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipShort skips a slow test (a real browser, a subprocess, several
// servers) under -short, so that `go test -short ./...` is a fast inner
// loop; what says what is skipped. Under CI it does nothing.
func SkipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() && !InCI() {
		t.Skipf("skipping %s in -short mode", what)
	}
}

// Missing skips a test whose prerequisite (reason says which) is not
// installed, or fails it under CI, where the prerequisite must be present.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatal(reason + " (CI=true: required)")
	}
	t.Skip("skipping: " + reason)
}
