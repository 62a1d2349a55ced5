package cimd

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// maxRedirectURIs bounds a client's redirect URIs.
const maxRedirectURIs = 20

// document is the RFC 7591 metadata a client publishes.
type document struct {
	ClientID                string          `json:"client_id"`
	ClientName              string          `json:"client_name"`
	RedirectURIs            []string        `json:"redirect_uris"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	JWKSURI                 string          `json:"jwks_uri"`
	JWKS                    json.RawMessage `json:"jwks"`
	Scope                   string          `json:"scope"`
	ClientSecret            *string         `json:"client_secret"`
	ClientSecretExpiresAt   *json.Number    `json:"client_secret_expires_at"`
}

// ParseDocument checks the document fetched from id (draft §4): it names
// itself, lists redirect URIs, uses no shared secret and asks only for the
// code flow. allowLoopbackHTTP has no effect on redirect URIs, which may
// always be http loopback ones (RFC 8252 §7.3); it exists for symmetry
// with the Resolver's policy and future use.
func ParseDocument(id string, body []byte, allowLoopbackHTTP bool) (*Client, error) {
	_ = allowLoopbackHTTP
	var d document
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fail(ErrInvalid, "the client's metadata document is not a JSON object")
	}
	if d.ClientID != id {
		return nil, fail(ErrInvalid, "client_id in the metadata document is not the document's URL")
	}
	return check(id, d)
}

// ParseRegistration checks an RFC 7591 registration request's metadata by
// the same rules as a metadata document's (no client_id: the server
// assigns it; no secret; the code flow only). The Client's ID is "".
func ParseRegistration(body []byte) (*Client, error) {
	var d document
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fail(ErrInvalid, "the registration request is not a JSON object")
	}
	if d.ClientID != "" {
		return nil, fail(ErrInvalid, "a registration request does not choose its client_id")
	}
	return check("", d)
}

// check applies the rules documents and registrations share.
func check(id string, d document) (*Client, error) {
	switch {
	case d.ClientSecret != nil || d.ClientSecretExpiresAt != nil:
		return nil, fail(ErrInvalid, "a metadata document may not carry a client secret")
	case len(d.RedirectURIs) == 0:
		return nil, fail(ErrInvalid, "the client metadata lists no redirect_uris")
	}
	c := &Client{ID: id, Name: clip(d.ClientName), AuthMethod: d.TokenEndpointAuthMethod, JWKSURI: d.JWKSURI, JWKS: d.JWKS, Scope: d.Scope}
	switch c.AuthMethod {
	case "", "none":
		c.AuthMethod = "none"
	case "private_key_jwt":
		if d.JWKSURI == "" && len(d.JWKS) == 0 {
			return nil, fail(ErrInvalid, "private_key_jwt needs jwks or jwks_uri in the metadata document")
		}
	default:
		return nil, fail(ErrInvalid, "token_endpoint_auth_method %q is not allowed for a metadata-document client (none or private_key_jwt)", clip(c.AuthMethod))
	}
	for _, g := range d.GrantTypes {
		switch {
		case g == "authorization_code" || g == "refresh_token":
			c.GrantTypes = append(c.GrantTypes, g)
		case strings.HasPrefix(g, "urn:"):
			// An extension grant (device code, say) this server does not
			// offer such clients is ignored, not a reason to refuse the
			// client: published documents list them.
		default:
			return nil, fail(ErrInvalid, "grant type %q is not allowed for a metadata-document client", clip(g))
		}
	}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{"authorization_code"}
	}
	if len(d.RedirectURIs) > maxRedirectURIs {
		return nil, fail(ErrInvalid, "more than %d redirect_uris", maxRedirectURIs)
	}
	for _, rt := range d.ResponseTypes {
		if rt != "code" {
			return nil, fail(ErrInvalid, "response type %q is not allowed (only code)", clip(rt))
		}
	}
	c.LoopbackOnly = true
	for _, ru := range d.RedirectURIs {
		host, loop, err := redirectURI(ru)
		if err != nil {
			return nil, err
		}
		c.LoopbackOnly = c.LoopbackOnly && loop
		if !slices.Contains(c.RedirectHosts, host) {
			c.RedirectHosts = append(c.RedirectHosts, host)
		}
		c.RedirectURIs = append(c.RedirectURIs, ru)
	}
	return c, nil
}

// redirectURI checks one redirect URI: absolute, no fragment, https or an
// http loopback one (RFC 8252 §7.3), or a private-use scheme of a native
// app (RFC 8252 §7.1, a reverse domain name with a dot).
func redirectURI(ru string) (host string, loopback bool, _ error) {
	u, err := url.Parse(ru)
	switch {
	case err != nil || !u.IsAbs():
		return "", false, fail(ErrInvalid, "redirect_uri %q is not an absolute URI", clip(ru))
	case u.Fragment != "" || strings.Contains(ru, "#"):
		return "", false, fail(ErrInvalid, "redirect_uri %q has a fragment", clip(ru))
	case u.Scheme == "https" && u.Host != "":
		return u.Host, false, nil
	case u.Scheme == "http":
		// A loopback IP literal, not "localhost", which a resolver could
		// point elsewhere (RFC 8252 §8.3).
		if a, err := netip.ParseAddr(u.Hostname()); err == nil && a.IsLoopback() {
			return u.Host, true, nil
		}
		return "", false, fail(ErrInvalid, "redirect_uri %q uses http off a loopback IP address", clip(ru))
	case strings.Contains(u.Scheme, "."):
		return u.Scheme + ":", false, nil
	}
	return "", false, fail(ErrInvalid, "redirect_uri %q has a scheme Gatehouse does not accept", clip(ru))
}
