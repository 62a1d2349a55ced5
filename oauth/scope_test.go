package oauth

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitScope(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil}, {"   ", nil}, {"a", []string{"a"}}, {" a  b ", []string{"a", "b"}},
		{"openid openid", []string{"openid", "openid"}}, {"a\tb", []string{"a\tb"}},
	} {
		if got := SplitScope(c.in); !slices.Equal(got, c.want) {
			t.Errorf("SplitScope(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestValidScopeToken(t *testing.T) {
	for s, want := range map[string]bool{"orders:read": true, "a!#[]~": true, "": false, `a"b`: false,
		`a\b`: false, "a b": false, "é": false, "a\x7f": false} {
		if got := ValidScopeToken(s); got != want {
			t.Errorf("ValidScopeToken(%q) = %v", s, got)
		}
	}
}

// FuzzSplitScope: the tokens are exactly the non-empty pieces between
// spaces, in order (only ' ' separates in RFC 6749 §3.3).
func FuzzSplitScope(f *testing.F) {
	f.Add(" openid  profile ")
	f.Add("a\tb  c")
	f.Fuzz(func(t *testing.T, s string) {
		var want []string
		for _, piece := range strings.Split(s, " ") {
			if piece != "" {
				want = append(want, piece)
			}
		}
		if got := SplitScope(s); !slices.Equal(got, want) {
			t.Fatalf("SplitScope(%q) = %q, want %q", s, got, want)
		}
	})
}
