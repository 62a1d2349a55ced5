package oauth

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// ResourceCase is one row of testdata/resources.json, the canonicalisation
// table every component that compares audiences is tested against.
type ResourceCase struct {
	In, Want, Err, Note string
}

func resourceCases(t testing.TB) []ResourceCase {
	t.Helper()
	b, err := os.ReadFile("testdata/resources.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []ResourceCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestCanonicalResource(t *testing.T) {
	for _, tc := range resourceCases(t) {
		got, err := CanonicalResource(tc.In)
		switch {
		case tc.Err != "" && (err == nil || !strings.Contains(err.Error(), tc.Err)):
			t.Errorf("%q: got %q, %v; want an error about %q", tc.In, got, err, tc.Err)
		case tc.Err == "" && (err != nil || got != tc.Want):
			t.Errorf("%q: got %q, %v; want %q (%s)", tc.In, got, err, tc.Want, tc.Note)
		case tc.Err == "":
			// Canonical forms are fixed points.
			if again, err := CanonicalResource(got); err != nil || again != got {
				t.Errorf("%q: canonical %q is not stable: %q %v", tc.In, got, again, err)
			}
			if !SameResource(tc.In, tc.Want) {
				t.Errorf("SameResource(%q, %q) is false", tc.In, tc.Want)
			}
		}
	}
	if SameResource("https://a.example/mcp", "https://a.example/mcp2") || SameResource("api", "API") {
		t.Error("different resources compare equal")
	}
}

// FuzzCanonicalResource: canonicalisation never panics, its result is a
// fixed point, and it never turns a value with a fragment into one.
func FuzzCanonicalResource(f *testing.F) {
	for _, s := range []string{"api", "https://a.example/mcp/", "HTTP://A:80/%7e", "urn:x:y", "https://a/#", "https://[::1]:1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := CanonicalResource(v)
		if err != nil {
			return
		}
		again, err := CanonicalResource(c)
		if err != nil || again != c {
			t.Fatalf("%q → %q → %q (%v)", v, c, again, err)
		}
		if IsResourceURI(c) && strings.Contains(c, "#") {
			t.Fatalf("%q kept a fragment: %q", v, c)
		}
	})
}
