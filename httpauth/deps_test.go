package httpauth_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDatabaseDependencies keeps the public middleware free of anything
// database-related (resource servers need no database) and of the
// issuer's internals, as verify/deps_test.go does for verify.
func TestNoDatabaseDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/gatehouse/gatehouse/httpauth").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"database/", "sqlite", "pgx", "postgres", "gatehouse/store", "gatehouse/internal/", "gatehouse/config"} {
			if strings.Contains(dep, banned) {
				t.Errorf("httpauth depends on %s", dep)
			}
		}
	}
}
