package testkit

import (
	"os/exec"
	"strings"
	"testing"
)

// AssertNoDeps fails t when pkg (an import path) depends, directly or not,
// on a package whose path contains one of banned; exact names ending in $
// must match a whole path (so "net/http$" bans net/http, not net/http/...).
func AssertNoDeps(t *testing.T, pkg string, banned ...string) {
	t.Helper()
	for _, dep := range deps(t, pkg) {
		for _, b := range banned {
			if whole, ok := strings.CutSuffix(b, "$"); ok && dep == whole || !ok && strings.Contains(dep, b) {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}

// AssertNoDatabaseDeps fails t when pkg (an import path) depends on
// anything database-related or on the issuer's internals: the public
// resource-server packages must stay usable without either (DESIGN.md).
func AssertNoDatabaseDeps(t *testing.T, pkg string) {
	t.Helper()
	AssertNoDeps(t, pkg, "database/", "sqlite", "pgx", "postgres", "gatehouse/store", "gatehouse/internal/", "gatehouse/config")
}
