package testkit

import (
	"os/exec"
	"strings"
	"testing"
)

// AssertNoDatabaseDeps fails t when pkg (an import path) depends on
// anything database-related or on the issuer's internals: the public
// resource-server packages must stay usable without either (DESIGN.md).
func AssertNoDatabaseDeps(t *testing.T, pkg string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"database/", "sqlite", "pgx", "postgres", "gatehouse/store", "gatehouse/internal/", "gatehouse/config"} {
			if strings.Contains(dep, banned) {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
