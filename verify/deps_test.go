package verify_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDatabaseDependencies keeps the public verifier free of anything
// database-related (DESIGN.md: resource servers need no database), and of
// the issuer's internals.
func TestNoDatabaseDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/gatehouse/gatehouse/verify").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"database/", "sqlite", "pgx", "postgres", "gatehouse/store", "gatehouse/internal/", "gatehouse/config"} {
			if strings.Contains(dep, banned) {
				t.Errorf("verify depends on %s", dep)
			}
		}
	}
}
