package proxy

import (
	"strings"
	"unicode/utf8"
)

// ambiguousPath reports why an upstream might read the escaped request
// path p as a different path than the one its route was matched on, or ""
// when it cannot. In route mode the token is checked for the route p
// matches, and p is what the upstream receives (after its base path):
// ServeMux matches it segment by segment, each segment decoded, while the
// upstream may decode the whole path first, resolve dot segments after
// decoding, treat '\' as '/', decode twice, strip ";parameters" (Java
// servlet containers), stop at NUL, or accept overlong UTF-8. Rather than
// guess which, the proxy refuses every path on which such readings could
// disagree:
//
//   - the path does not start with '/' ("*", a CONNECT authority);
//   - an empty segment ("//") other than a trailing slash, or a "." or
//     ".." segment: ServeMux would redirect, upstreams resolve them;
//   - a percent-encoded '/', '\', '.', '%', ';' or control character
//     (any case of hex digit): each can become a separator, a dot segment,
//     a second round of escapes, a path parameter or a truncation once
//     decoded ('.' is unreserved, so no conforming client encodes it);
//   - a ';' (path parameters) or a '\' or control byte as such (net/url
//     escapes these, so they arrive here as %5C and %XX anyway);
//   - a decoded path that is not UTF-8, which covers the overlong forms
//     of '.' and '/' (%C0%AE, %C0%AF, %E0%80%AE).
//
// Everything else decodes to the same segments for every reader.
func ambiguousPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "no leading '/'"
	}
	var buf [256]byte
	decoded := buf[:0]
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		switch {
		case seg == "" && i < len(segs)-1:
			return "an empty segment (//)"
		case seg == "." || seg == "..":
			return "a dot segment (. or ..)"
		}
		for j := 0; j < len(seg); j++ {
			c := seg[j]
			if c == '%' {
				if j+2 >= len(seg) || !isHex(seg[j+1]) || !isHex(seg[j+2]) {
					return "a malformed percent-encoding"
				}
				c = unhex(seg[j+1])<<4 | unhex(seg[j+2])
				if why := encodedWhy(c); why != "" {
					return "an encoded " + why + " (" + seg[j:j+3] + ")"
				}
				decoded = append(decoded, c)
				j += 2
				continue
			}
			switch {
			case c == ';':
				return "a ';' (path parameters, which some servers strip before resolving dot segments)"
			case c == '\\':
				return `a '\'`
			case c < 0x20 || c == 0x7f:
				return "a control character"
			}
			decoded = append(decoded, c)
		}
		decoded = append(decoded, '/')
	}
	if !utf8.Valid(decoded) {
		return "percent-encoded bytes that are not UTF-8 (such as %C0%AE, an overlong '.')"
	}
	return ""
}

// encodedWhy names a byte that must not arrive percent-encoded, or "".
func encodedWhy(c byte) string {
	switch {
	case c == '/', c == '\\', c == '.', c == '%', c == ';':
		return "'" + string(rune(c)) + "'"
	case c < 0x20 || c == 0x7f:
		return "control character"
	}
	return ""
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
