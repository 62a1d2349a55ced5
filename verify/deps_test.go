package verify_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/testkit"
)

// TestNoDatabaseDependencies keeps the public package free of anything
// database-related and of the issuer's internals (DESIGN.md: resource
// servers need no database).
func TestNoDatabaseDependencies(t *testing.T) {
	testkit.AssertNoDatabaseDeps(t, "github.com/gatehouse/gatehouse/verify")
}
