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
		if _, err := url.Parse(s); err != nil {
			// Do not echo the value: it may hold a database password.
			d.add(line, "check the URL's escaping: special characters in the password need %XX", "storage is not a valid PostgreSQL URL")
		}
	default:
		d.add(line, hint, "unsupported storage %q", RedactStorage(s))
	}
}
