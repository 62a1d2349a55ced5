package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// grantTypes are the supported grant types, in the order hints list them.
// Read-only.
var grantTypes = []string{"client_credentials", "authorization_code", "refresh_token"}

// minPlainSecret is the shortest plain client secret accepted.
const minPlainSecret = 16

func (d *decoder) validateClient(c *Client, p *pos, clientIDs, externalIDs map[string]int, known []string) {
	who := fmt.Sprintf("client %q", c.ID)
	if c.ID == "" {
		who = fmt.Sprintf("client at line %d", c.Line)
	}

	d.noDuplicates(who, "grant_types", c.GrantTypes, p)
	for i, g := range c.GrantTypes {
		line := p.item("grant_types", i)
		switch g {
		case "client_credentials", "authorization_code", "refresh_token":
		case "implicit":
			d.add(line, "Gatehouse does not support the implicit grant, which puts tokens in URLs; use authorization_code with PKCE", "%s: grant type %q is not supported", who, g)
		case "password":
			d.add(line, "Gatehouse does not support the resource owner password grant; use authorization_code so users sign in at Gatehouse", "%s: grant type %q is not supported", who, g)
		default:
			hint := "supported: " + strings.Join(grantTypes, ", ")
			if s := suggest(g, grantTypes); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.add(line, hint, "%s: unknown grant type %q", who, g)
		}
	}
	has := func(g string) bool { return slices.Contains(c.GrantTypes, g) }
	if has("client_credentials") && c.Public() {
		d.add(p.at("grant_types"), "give the client a secret, or remove client_credentials", "%s: a public client (no secret) cannot use client_credentials", who)
	}
	if has("authorization_code") && len(c.RedirectURIs) == 0 {
		d.add(p.at("grant_types"), "add redirect_uris: [https://app.example.com/callback]", "%s: authorization_code needs at least one redirect_uri", who)
	}
	if has("refresh_token") && !has("authorization_code") {
		d.add(p.at("grant_types"), "refresh tokens are issued only with authorization_code; add it or remove refresh_token", "%s: refresh_token requires authorization_code", who)
	}

	d.noDuplicates(who, "post_logout_redirect_uris", c.PostLogoutRedirectURIs, p)
	for i, r := range c.PostLogoutRedirectURIs {
		d.validateRedirect(who, r, p.item("post_logout_redirect_uris", i))
	}
	d.noDuplicates(who, "redirect_uris", c.RedirectURIs, p)
	for i, r := range c.RedirectURIs {
		d.validateRedirect(who, r, p.item("redirect_uris", i))
	}

	d.noDuplicates(who, "allowed_origins", c.AllowedOrigins, p)
	for i, o := range c.AllowedOrigins {
		d.validateOrigin(who, o, p.item("allowed_origins", i))
	}

	d.noDuplicates(who, "audience", c.Audience, p)
	for i, a := range c.Audience {
		if _, ok := clientIDs[a]; ok {
			continue
		}
		if _, ok := externalIDs[a]; ok {
			continue
		}
		hint := "list client ids, or declare it under external_audiences"
		if s := suggest(a, known); s != "" {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
		d.add(p.item("audience", i), hint, "%s: audience %q is not a client id or an external audience", who, a)
	}

	d.validateTags(who, c.Tags, p)

	if c.JWKSURI != "" {
		switch u, err := url.Parse(c.JWKSURI); {
		case len(c.JWKS) > 0:
			d.add(p.at("jwks_uri"), "keep one: jwks inline or jwks_uri", "%s: both jwks and jwks_uri", who)
		case err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))):
			d.add(p.at("jwks_uri"), "an https URL (http only on loopback)", "%s: jwks_uri %q is not an https URL", who, c.JWKSURI)
		}
	}

	d.noDuplicates(who, "exchange_to", c.ExchangeTo, p)
	if len(c.ExchangeTo) > 0 && c.Public() {
		d.add(p.at("exchange_to"), "give the client a secret: a token exchange needs a client that authenticates", "%s: a public client cannot exchange tokens", who)
	}
	for i, a := range c.ExchangeTo {
		if _, ok := clientIDs[a]; ok {
			continue
		}
		if _, ok := externalIDs[a]; ok {
			continue
		}
		hint := "list client ids or external audiences"
		if s := suggest(a, known); s != "" {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
		d.add(p.item("exchange_to", i), hint, "%s: exchange_to %q is not a client id or an external audience", who, a)
	}

	d.noDuplicates(who, "scopes", c.Scopes, p)
	for i, s := range c.Scopes {
		if s == "" {
			d.add(p.item("scopes", i), "remove the empty entry", "%s: empty scope", who)
		} else if bad := badScopeChar(s); bad != "" {
			d.add(p.item("scopes", i), "RFC 6749 §3.3: a scope is printable ASCII without spaces, '\"' or '\\'; list several scopes as separate entries", "%s: scope %q contains %s", who, s, bad)
		}
	}

	if c.Secret != "" {
		line := p.at("secret")
		if LooksHashed(c.Secret) {
			if msg, hint := checkHash(c.Secret); msg != "" {
				d.add(line, hint, "%s: secret %s", who, msg)
			}
		} else if len(c.Secret) < minPlainSecret {
			d.add(line, fmt.Sprintf("use at least %d characters, or an argon2id/bcrypt hash; e.g. ${%s_SECRET} from the environment", minPlainSecret, envNameFor(c.ID)),
				"%s: secret is too short (%d characters)", who, len(c.Secret))
		}
	}
}

// validateIDTokenAlg checks id_token_signed_response_alg against what the
// key ring can sign ID tokens with: signing_alg and RS256.
func (d *decoder) validateIDTokenAlg(who string, c *Client, p *pos, cfg *Config) {
	alg := c.IDTokenSignedResponseAlg
	algs := cfg.IDTokenSigningAlgs()
	if alg == "" || slices.Contains(algs, alg) {
		return
	}
	line := p.at("id_token_signed_response_alg")
	hint := fmt.Sprintf("use %s (signing_alg, the default when the key is absent) or RS256", cfg.SigningAlg)
	if cfg.SigningAlg == "RS256" {
		hint = "use RS256 (signing_alg, the default when the key is absent)"
	}
	for _, a := range algs {
		if strings.EqualFold(a, alg) {
			d.add(line, fmt.Sprintf("did you mean %q? %s", a, hint), "%s: unsupported id_token_signed_response_alg %q", who, alg)
			return
		}
	}
	if slices.Contains(signingAlgs, alg) {
		// A real algorithm the ring holds no keys for: the key ring keeps
		// signing_alg's keys and RS256's, nothing else.
		d.add(line, fmt.Sprintf("%s; to sign ID tokens with %s, set signing_alg: %s (access tokens then use it too)", hint, alg, alg),
			"%s: id_token_signed_response_alg %q is not available while signing_alg is %s", who, alg, cfg.SigningAlg)
		return
	}
	d.add(line, hint, "%s: unsupported id_token_signed_response_alg %q", who, alg)
}

func (d *decoder) validateRedirect(who, r string, line int) {
	u, err := url.Parse(r)
	if err != nil || !u.IsAbs() {
		d.add(line, "write an absolute URI such as https://app.example.com/callback", "%s: redirect_uri %q is not an absolute URI", who, r)
		return
	}
	if u.Fragment != "" || strings.Contains(r, "#") {
		d.add(line, "RFC 6749 §3.1.2 forbids a fragment in a redirect URI; remove it", "%s: redirect_uri %q has a fragment", who, r)
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		if !isLoopback(u.Hostname()) {
			d.add(line, "http is allowed only for loopback hosts: localhost, 127.0.0.1, ::1; use https", "%s: redirect_uri %q must use https", who, r)
		}
	case "https":
		if u.Host == "" {
			d.add(line, "", "%s: redirect_uri %q has no host", who, r)
		}
	case "javascript", "data", "vbscript", "file":
		d.add(line, "use an https URL, or for a native app a private-use scheme as in RFC 8252 §7.1", "%s: redirect_uri %q uses a forbidden scheme", who, r)
	}
}

// validateOrigin checks one allowed_origins entry: an origin as a browser
// sends it in the Origin header, which has no path, so that a URL pasted
// from the address bar is caught here rather than silently never matching.
func (d *decoder) validateOrigin(who, o string, line int) {
	const form = "write scheme://host[:port], e.g. https://app.example.com"
	if o == "*" || o == "null" {
		d.add(line, "list each origin: any site (or a sandboxed page) could then read token responses in its visitors' browsers", "%s: allowed_origin %q is not allowed", who, o)
		return
	}
	u, err := url.Parse(o)
	if err != nil || !u.IsAbs() || u.Host == "" {
		d.add(line, form, "%s: allowed_origin %q is not an origin", who, o)
		return
	}
	canon, web := Origin(o)
	switch {
	case !web:
		d.add(line, "browsers enforce CORS for http and https pages only", "%s: allowed_origin %q must use https", who, o)
	case u.User != nil:
		d.add(line, fmt.Sprintf("write %q", canon), "%s: allowed_origin %q must not contain credentials", who, o)
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(o, "#"):
		d.add(line, fmt.Sprintf("an origin has no path, query or fragment (not even a trailing /); write %q", canon), "%s: allowed_origin %q is not an origin", who, o)
	case strings.EqualFold(u.Scheme, "http") && !isLoopback(u.Hostname()):
		d.add(line, "http is allowed only for loopback hosts: localhost, 127.0.0.1, ::1; use https", "%s: allowed_origin %q must use https", who, o)
	}
}

// Origin returns the web origin of an http or https URL as browsers
// serialize it in the Origin header (RFC 6454 §6.2): lower-case scheme and
// host, the port only when it is not the scheme's default. ok is false for
// any other URL, such as a native app's private-use redirect URI, which
// has no origin a browser would send.
func Origin(rawURL string) (origin string, ok bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" && !(scheme == "http" && port == "80" || scheme == "https" && port == "443") {
		host += ":" + port
	}
	return scheme + "://" + host, true
}

// validateAdmins checks that every admin is a confidential client: a
// public client authenticates with its id alone, so naming one would open
// the admin endpoints to anyone.
func (d *decoder) validateAdmins(cfg *Config, clientIDs map[string]int, known []string) {
	top := d.posOf(cfg)
	d.noDuplicates("admins", "admins", cfg.Admins, top)
	for i, id := range cfg.Admins {
		line := top.item("admins", i)
		if _, ok := clientIDs[id]; !ok {
			hint := "list client ids; an admin authenticates as that client"
			if s := suggest(id, known); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.add(line, hint, "admins: %q is not a client id", id)
			continue
		}
		if c := cfg.Client(id); c != nil && c.Public() {
			d.add(line, "give the client a secret, or remove it from admins", "admins: client %q is public (no secret), so it cannot authenticate as an admin", id)
		}
	}
}
