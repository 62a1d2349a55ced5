package oauth

import (
	"errors"
	"net/url"
	"strings"
)

// CanonicalResource is the one canonical form of an audience value, used
// wherever one is compared: RFC 8707 resource and audience parameters at
// the authorization and token endpoints, the configuration's audiences,
// package verify's audience check, gatehouse proxy and the audit. Two
// values name the same recipient exactly when their canonical forms are
// equal.
//
// A value without a scheme is a short id (order-status-api) and is its own
// canonical form: ids are compared exactly, case-sensitively. An http or
// https URI (an absolute resource URI, RFC 8707 §2; an MCP server's
// https://mcp.example.com/mcp) is canonicalised as RFC 3986 §6.2.2–6.2.3
// allows:
//   - scheme and host in lower case;
//   - the scheme's default port (443 for https, 80 for http) dropped;
//   - percent-encodings normalised: an escaped unreserved character
//     (%41 → A) is decoded, every other escape written with upper-case hex;
//   - trailing slashes dropped, so https://mcp.example.com/mcp/ is
//     https://mcp.example.com/mcp and https://mcp.example.com/ is
//     https://mcp.example.com — the one rule for trailing slashes, chosen
//     because a client that adds or leaves out the slash means the same
//     server (the MCP specification's canonical URIs have none);
//   - the rest of the path, and any query, compared exactly.
//
// Refused (an error, never a guess): a fragment (RFC 8707 §2: the resource
// MUST NOT include one), user information, an empty host, "." or ".."
// segments, and a malformed escape. Other absolute URIs (urn:, api:) keep
// their text with the scheme in lower case.
func CanonicalResource(v string) (string, error) {
	scheme, rest, ok := strings.Cut(v, ":")
	if !ok || !validScheme(scheme) {
		return v, nil // a short id
	}
	lower := strings.ToLower(scheme)
	if lower != "http" && lower != "https" {
		if strings.Contains(v, "#") {
			return "", errors.New("a resource has no fragment (RFC 8707 §2)")
		}
		return lower + ":" + rest, nil
	}
	if strings.Contains(v, "#") {
		return "", errors.New("a resource has no fragment (RFC 8707 §2)")
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return "", errors.New("not a valid URI: " + SafeName(v))
	case u.User != nil:
		return "", errors.New("a resource URI has no user information")
	case u.Host == "" || u.Opaque != "":
		return "", errors.New("a resource URI needs a host: " + SafeName(v))
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", errors.New("a resource URI needs a host: " + SafeName(v))
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && !(lower == "https" && p == "443") && !(lower == "http" && p == "80") {
		host += ":" + p
	}
	path, err := normalizeEscapes(u.EscapedPath())
	if err != nil {
		return "", err
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return "", errors.New("a resource URI has no . or .. segments")
		}
	}
	path = strings.TrimRight(path, "/")
	out := lower + "://" + host + path
	if u.RawQuery != "" || u.ForceQuery {
		out += "?" + u.RawQuery
	}
	return out, nil
}

// SameResource reports whether a and b name the same recipient
// (CanonicalResource); a value that does not canonicalise names none.
func SameResource(a, b string) bool {
	if a == b {
		return true
	}
	ca, err := CanonicalResource(a)
	if err != nil {
		return false
	}
	cb, err := CanonicalResource(b)
	return err == nil && ca == cb
}

// IsResourceURI reports whether v is an http or https URI rather than a
// short id.
func IsResourceURI(v string) bool {
	scheme, _, ok := strings.Cut(v, ":")
	return ok && validScheme(scheme) && (strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http"))
}

// validScheme is RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// normalizeEscapes decodes escaped unreserved characters and upper-cases
// the hex of the others (RFC 3986 §6.2.2.1–6.2.2.2).
func normalizeEscapes(p string) (string, error) {
	if !strings.Contains(p, "%") {
		return p, nil
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", errors.New("a malformed percent-encoding in the resource URI")
		}
		c := unhex(p[i+1])<<4 | unhex(p[i+2])
		if unreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(p[i+1:i+3]))
		}
		i += 2
	}
	return b.String(), nil
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

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
