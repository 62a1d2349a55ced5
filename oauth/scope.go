package oauth

import "strings"

// ValidScopeToken checks one scope-token against RFC 6749 §3.3:
// scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func ValidScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return s != ""
}

// SplitScope splits a space-delimited scope parameter or claim (RFC 6749
// §3.3) into its tokens, tolerating repeated, leading and trailing spaces.
// It checks no token's syntax (ValidScopeToken does) and keeps duplicates.
// An empty or all-space value yields nil. It allocates one slice.
func SplitScope(scope string) []string {
	n := 0
	for i := 0; i < len(scope); {
		for i < len(scope) && scope[i] == ' ' {
			i++
		}
		if i < len(scope) {
			n++
		}
		for i < len(scope) && scope[i] != ' ' {
			i++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < len(scope); {
		for i < len(scope) && scope[i] == ' ' {
			i++
		}
		j := i
		for j < len(scope) && scope[j] != ' ' {
			j++
		}
		if j > i {
			out = append(out, scope[i:j])
		}
		i = j
	}
	return out
}

// JoinScope is the inverse of SplitScope: tokens joined by single spaces.
func JoinScope(tokens []string) string { return strings.Join(tokens, " ") }
