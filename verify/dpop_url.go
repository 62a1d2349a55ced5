package verify

import (
	"net/netip"
	"strings"
)

// normalizeHTU returns u in the normal form htu values are compared in
// (RFC 9449 §4.3 item 9 asks for the syntax- and scheme-based
// normalisation of RFC 3986 §6.2.2 and §6.2.3):
//
//   - scheme and host in lower case; only http and https;
//   - the default port (80, 443) and an empty port removed;
//   - an empty path made "/";
//   - percent-encodings in upper case, and those of unreserved characters
//     decoded (§6.2.2.1, §6.2.2.2);
//   - dot segments removed (§6.2.2.3).
//
// A query or fragment is dropped when stripQuery (the request's URL) and
// refused otherwise (htu is defined without them, RFC 9449 §4.2). Userinfo
// is refused in both. why is "" on success and otherwise completes "the
// htu ...". An already normal u is returned as it is, without allocating.
func normalizeHTU(u string, stripQuery bool) (norm string, why string) {
	i := strings.Index(u, "://")
	if i <= 0 {
		return "", "is not an absolute http(s) URL"
	}
	scheme := u[:i]
	var defPort string
	switch {
	case scheme == "https" || strings.EqualFold(scheme, "https"):
		scheme, defPort = "https", "443"
	case scheme == "http" || strings.EqualFold(scheme, "http"):
		scheme, defPort = "http", "80"
	default:
		return "", "has scheme " + scheme + "; only http and https are accepted"
	}
	rest := u[i+3:]
	if q := strings.IndexAny(rest, "?#"); q >= 0 {
		if !stripQuery {
			return "", "has a query or fragment; htu is the URL without them (RFC 9449 §4.2)"
		}
		rest = rest[:q]
	}
	authority, path := rest, ""
	if s := strings.IndexByte(rest, '/'); s >= 0 {
		authority, path = rest[:s], rest[s:]
	}
	if strings.IndexByte(authority, '@') >= 0 {
		return "", "has userinfo, which an htu cannot carry"
	}
	host, port, hasColon := authority, "", false
	if c := strings.LastIndexByte(authority, ':'); c >= 0 && !strings.Contains(authority[c:], "]") {
		host, port, hasColon = authority[:c], authority[c+1:], true
	}
	rawPort := port
	if host == "" {
		return "", "has no host"
	}
	for j := 0; j < len(port); j++ {
		if port[j] < '0' || port[j] > '9' {
			return "", "has a port that is not a number"
		}
	}
	if !validHost(host) {
		return "", "has a host that is neither a DNS name nor an IP address"
	}
	if t := strings.TrimLeft(port, "0"); t != port && t != "" {
		port = t
	}
	if port == defPort {
		port = ""
	}
	np, why := normalizePath(path)
	if why != "" {
		return "", why
	}
	lowerHost := strings.ToLower(host)
	// Rebuild only when something changed: u is usually normal already.
	if scheme == u[:i] && lowerHost == host && np == path && port == rawPort && (rawPort != "" || !hasColon) && len(u) == i+3+len(authority)+len(path) {
		return u, ""
	}
	var b strings.Builder
	b.Grow(len(u) + 1)
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(lowerHost)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(np)
	return b.String(), ""
}

// validHost accepts the hosts an API is addressed by: names and IPv4
// addresses of unreserved characters, and bracketed IPv6 addresses. The
// rest of RFC 3986's reg-name (percent-encodings, sub-delims) and IPv6
// zones are refused rather than normalised.
func validHost(h string) bool {
	if h[0] == '[' {
		if len(h) < 3 || h[len(h)-1] != ']' {
			return false
		}
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		return err == nil && a.Is6() && a.Zone() == ""
	}
	for j := 0; j < len(h); j++ {
		if !unreserved(h[j]) {
			return false
		}
	}
	return true
}

// normalizePath applies RFC 3986 §6.2.2 to a path: "" becomes "/",
// percent-encodings are upper-cased or, for unreserved characters,
// decoded, and dot segments are removed.
func normalizePath(p string) (string, string) {
	if p == "" {
		return "/", ""
	}
	clean := true
	for j := 0; j < len(p); j++ {
		c := p[j]
		switch {
		case c == '%':
			if j+2 >= len(p) || unhex(p[j+1]) < 0 || unhex(p[j+2]) < 0 {
				return "", "has an invalid percent-encoding"
			}
			v := byte(unhex(p[j+1])<<4 | unhex(p[j+2]))
			if unreserved(v) || isLowerHex(p[j+1]) || isLowerHex(p[j+2]) {
				clean = false
			}
			j += 2
		case c <= ' ' || c >= 0x7f || c == '\\':
			return "", "has characters a URL cannot carry unencoded"
		case c == '.' && (j == 0 || p[j-1] == '/') && (j+1 == len(p) || p[j+1] == '/' || p[j+1] == '.'):
			clean = false
		}
	}
	if clean {
		return p, ""
	}
	var b strings.Builder
	b.Grow(len(p))
	for j := 0; j < len(p); j++ {
		c := p[j]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		v := byte(unhex(p[j+1])<<4 | unhex(p[j+2]))
		j += 2
		if unreserved(v) {
			b.WriteByte(v)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[v>>4])
		b.WriteByte(hex[v&15])
	}
	return removeDotSegments(b.String()), ""
}

// removeDotSegments is RFC 3986 §5.2.4 for an absolute path.
func removeDotSegments(in string) string {
	var out []string
	segs := strings.Split(in[1:], "/")
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }

// unreserved is RFC 3986 §2.3's set: ALPHA / DIGIT / "-" / "." / "_" / "~".
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
