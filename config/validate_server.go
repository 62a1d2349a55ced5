package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// signingAlgs are the accepted signing_alg values, in the order hints
// list them. Read-only.
var signingAlgs = []string{"ES256", "EdDSA", "RS256"}

func (d *decoder) validateServer(cfg *Config) {
	t := d.posOf(cfg)
	if cfg.Issuer == "" {
		d.add(0, "add the public URL of this server, e.g. issuer: https://login.example.com", "issuer is required")
	} else {
		d.validateIssuer(cfg.Issuer, t.at("issuer"))
	}

	// Any host is fine, including none (all interfaces); the port must be
	// numeric so a typo is caught here rather than at bind time.
	if _, port, err := net.SplitHostPort(cfg.Listen); err != nil {
		d.add(t.at("listen"), "write host:port, e.g. 127.0.0.1:8080 or :8080", "listen %q is not host:port", cfg.Listen)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		d.add(t.at("listen"), "the port is a number from 0 to 65535", "listen %q has an invalid port %q", cfg.Listen, port)
	}

	d.validateTLS(cfg, t.at("issuer"))
	d.validateStorage(cfg.Storage, t.at("storage"))

	if !slices.Contains(signingAlgs, cfg.SigningAlg) {
		hint := "one of " + strings.Join(signingAlgs, ", ")
		// Only a case slip earns a suggestion: HS256 is one edit from
		// ES256 but a different kind of algorithm, not a typo.
		for _, a := range signingAlgs {
			if strings.EqualFold(a, cfg.SigningAlg) {
				hint = fmt.Sprintf("did you mean %q? %s", a, hint)
			}
		}
		d.add(t.at("signing_alg"), hint, "unsupported signing_alg %q", cfg.SigningAlg)
	}
	if cfg.AccessTokenTTL < 0 {
		d.add(t.at("access_token_ttl"), "use a positive duration such as 10m", "access_token_ttl must be positive")
	}
	if cfg.RefreshTokenTTL < 0 {
		d.add(t.at("refresh_token_ttl"), "use a positive duration such as 720h", "refresh_token_ttl must be positive")
	}
}

func (d *decoder) validateIssuer(s string, line int) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		d.add(line, "write an absolute URL such as https://login.example.com", "issuer %q is not an absolute URL", s)
		return
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		d.add(line, "use https://", "issuer %q must use https", s)
		return
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		d.add(line, "http is allowed only for localhost, 127.0.0.1 and ::1, for development; use https://", "issuer %q must use https", s)
	}
	if u.User != nil {
		d.add(line, "remove the user:password@ part", "issuer %q must not contain credentials", s)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		d.add(line, "OpenID Connect Discovery §3: an issuer has no query or fragment", "issuer %q has a query or fragment", s)
	}
	if strings.HasSuffix(s, "/") {
		d.add(line, fmt.Sprintf("write %q: iss is compared exactly and discovery appends /.well-known/…", strings.TrimRight(s, "/")), "issuer %q ends with \"/\"", s)
	}
}

func (d *decoder) validateStorage(s string, line int) {
	const hint = "use sqlite:PATH, e.g. sqlite:gatehouse.db, or a postgres:// URL"
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		if strings.TrimPrefix(s, "sqlite:") == "" {
			d.add(line, hint, "storage %q has no database path", s)
		}
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if problem := postgresURLProblem(s); problem != "" {
			// Neither the value nor any part of it is echoed: a password
			// with unescaped special characters spills into what would
			// look like the host, path or query.
			d.add(line, "percent-encode special characters in the user name and password (@ %40, / %2F, ? %3F, # %23, % %25), "+
				"or leave the password out (postgres://USER@HOST/DB) and set PGPASSWORD in the environment, which the PostgreSQL driver reads",
				"storage is not a valid PostgreSQL URL: %s", problem)
		}
	default:
		d.add(line, hint, "unsupported storage %q", RedactStorage(s))
	}
}

// postgresURLProblem says why a postgres:// URL would not mean what it
// seems to, or returns "". The typical cause is a password with special
// characters expanded into the URL from ${PGPASSWORD}. Two readers must
// agree on the URL: pgx, which parses like libpq (the user information ends
// at the first '@' before any '/', and '#' is an ordinary character), and
// net/url (the last '@', and '#' starts a fragment). Where they could
// differ the URL is refused, so that a password is never sent to a host
// taken from its own text. The result never quotes the URL.
func postgresURLProblem(s string) string {
	rest := s[strings.Index(s, "://")+len("://"):]
	switch strings.Count(rest, "@") {
	case 0:
	case 1:
		at := strings.IndexByte(rest, '@')
		if i := strings.IndexAny(rest, "/?"); i >= 0 && i < at {
			return "a '/' or '?' before the '@' (in the user name or password) ends the host part early"
		}
		if badEscape(rest[:at]) {
			return "a '%' in the user name or password is not followed by two hex digits"
		}
	default:
		return "more than one '@' (an '@' in the password must be written %40)"
	}
	if strings.Contains(rest, "#") {
		return "a '#' (in a password it must be written %23; a database URL has no fragment)"
	}
	if _, err := url.Parse(s); err != nil {
		// err quotes the URL; only its kind is reported.
		if badEscape(rest) {
			return "a '%' is not followed by two hex digits"
		}
		return "it does not parse as a URL"
	}
	return ""
}

// badEscape reports whether s has a '%' not followed by two hex digits.
func badEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])) {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
