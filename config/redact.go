package config

import (
	"net/url"
	"strings"
)

// redactedMark replaces a secret in a redacted storage setting.
const redactedMark = "xxxxx"

// RedactStorage returns a storage setting fit for logs and messages: the
// password of a URL's userinfo, and the value of every query parameter or
// keyword/value setting whose name holds "password" (password,
// sslpassword), "secret" or "token", replaced by xxxxx. It is the one
// redaction for every place that prints the setting, so that no caller can
// forget a form.
//
// It errs on the side of hiding: a password may hold '@', '/', '?' or '#'
// unescaped, so the userinfo runs to the last '@', and a query value runs
// to the next '&' whatever it contains. A string that is not understood
// is hidden where it could hold a password. sqlite: paths are returned as
// they are.
func RedactStorage(s string) string {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		return s
	case strings.Contains(s, "://"):
		return redactStorageURL(s)
	case strings.Contains(s, "="):
		return redactKeywordValue(s)
	}
	return s
}

func redactStorageURL(s string) string {
	i := strings.Index(s, "://") + len("://")
	head, p := s[:i], s[i:]
	if at := strings.LastIndexByte(p, '@'); at >= 0 {
		if user, _, hasPassword := strings.Cut(p[:at], ":"); hasPassword {
			p = user + ":" + redactedMark + p[at:]
		}
	}
	// Query parameters: every name=value after a '?' or '&', so that one
	// after a stray '?' (in a user name, say) is found too.
	var b strings.Builder
	for {
		j := strings.IndexAny(p, "?&")
		if j < 0 {
			b.WriteString(p)
			return head + b.String()
		}
		b.WriteString(p[:j+1])
		p = p[j+1:]
		name, _, ok := strings.Cut(p, "=")
		if !ok || strings.ContainsAny(name, "?&") || !secretName(name) {
			continue
		}
		b.WriteString(name + "=" + redactedMark)
		end := strings.IndexByte(p, '&')
		if end < 0 {
			return head + b.String()
		}
		p = p[end:]
	}
}

// redactKeywordValue redacts a libpq keyword/value string
// ("host=db password='a b'"), read the way pgx reads it: a value is quoted
// with single quotes or runs to the next unescaped white space, and a
// backslash escapes the character after it. Text that is not a keyword=value
// pair is hidden, and so is everything after a secret: an unquoted password
// with a space in it ("password=a b=c") would otherwise show its rest. Gatehouse
// refuses this form anyway; it is redacted for the message that says so.
func redactKeywordValue(s string) string {
	const space = " \t\n\r\v\f"
	var parts []string
	for s = strings.TrimLeft(s, space); s != ""; s = strings.TrimLeft(s, space) {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			parts = append(parts, redactedMark)
			break
		}
		name := strings.TrimRight(s[:eq], space)
		s = strings.TrimLeft(s[eq+1:], space)
		n := keywordValueLen(s)
		value := s[:n]
		s = s[n:]
		switch {
		case name == "" || strings.ContainsAny(name, space):
			parts = append(parts, redactedMark)
		case secretName(name):
			parts = append(parts, name+"="+redactedMark)
			if strings.TrimLeft(s, space) != "" {
				parts = append(parts, redactedMark)
			}
			return strings.Join(parts, " ")
		default:
			parts = append(parts, name+"="+value)
		}
	}
	return strings.Join(parts, " ")
}

// keywordValueLen is the length of the raw value at the start of s.
func keywordValueLen(s string) int {
	if strings.HasPrefix(s, "'") {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '\'':
				return i + 1
			}
		}
		return len(s)
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ' ', '\t', '\n', '\r', '\v', '\f':
			return i
		}
	}
	return len(s)
}

// secretName reports whether a parameter named name (as written, possibly
// percent-encoded: pgx decodes pass%77ord to password) carries a secret.
func secretName(name string) bool {
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	name = strings.ToLower(name)
	return strings.Contains(name, "password") || strings.Contains(name, "secret") || strings.Contains(name, "token")
}
