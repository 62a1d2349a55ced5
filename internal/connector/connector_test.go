package connector

import (
	"strings"
	"testing"
)

// TestLocalSubject: subjects are stable, prefixed with the source, bounded
// and printable, and never collide across sources or with local users.
func TestLocalSubject(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct{ source, sub, want string }{
		{"corp", "248289761001", "corp:248289761001"},
		{"corp", "a:b", "corp:a:b"},
		{"staff", "bob", "staff:bob"},
		{"corp", "with space", "corp:sha256-"},
		{"corp", "", "corp:sha256-"},
		{"corp", long, "corp:sha256-"},
	}
	for _, tc := range tests {
		got := LocalSubject(tc.source, tc.sub)
		if !strings.HasPrefix(got, tc.want) || len(got) > MaxSubject || SourceOf(got) != tc.source {
			t.Errorf("LocalSubject(%q, %q) = %q", tc.source, tc.sub, got)
		}
		if got != LocalSubject(tc.source, tc.sub) {
			t.Errorf("not stable: %q", got)
		}
	}
	// Source IDs have no colon (config refuses one), so the first colon
	// ends the source and the same upstream sub at two sources differs.
	if LocalSubject("corp", "1") == LocalSubject("corp2", "1") || SourceOf(LocalSubject("corp", "x:y")) != "corp" {
		t.Error("sources collide")
	}
	if LocalSubject("corp", long) == LocalSubject("corp", long+"y") {
		t.Error("long subjects collide")
	}
	if SourceOf("alice") != "" {
		t.Error("a local user has a source")
	}
}
