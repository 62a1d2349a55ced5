package verify

import (
	"encoding/json"
	"time"

	"github.com/gatehouse/gatehouse/oauth"
)

// Claims are the verified claims of an RFC 9068 access token (§2.2).
// Values are exactly as the issuer sent them; absent claims are zero.
//
// Verify guarantees Issuer, Audience (containing this API) and Expiry; the
// others are whatever the issuer put in the token. Claims returned by a
// Verifier with a cache are shared between calls: treat them as read-only.
type Claims struct {
	// Issuer is "iss" (RFC 7519 §4.1.1), equal to Config.Issuer.
	Issuer string
	// Subject is "sub": the resource owner, or the client itself for the
	// client-credentials grant (RFC 9068 §2.2).
	Subject string
	// ClientID is "client_id" (RFC 9068 §2.2, RFC 8693 §4.3): the client the
	// token was issued to.
	ClientID string
	// AZP is "azp" (OIDC Core §2): the authorized party, which Gatehouse
	// sets whenever aud is not exactly the requesting client.
	AZP string
	// Audience is "aud" (RFC 7519 §4.1.3); it contains Config.Audience.
	Audience oauth.Audience
	// Scopes is "scope" split on spaces (RFC 9068 §2.2.3, RFC 6749 §3.3).
	Scopes []string
	// Expiry, IssuedAt and NotBefore are "exp", "iat" and "nbf".
	Expiry, IssuedAt, NotBefore time.Time
	// JTI is "jti" (RFC 7519 §4.1.7). Replay detection, if wanted, is the
	// caller's job.
	JTI string
	// Raw is the payload JSON exactly as signed; use Unmarshal for claims
	// this struct does not carry.
	Raw []byte
}

// HasScope reports whether scope is one of the token's scopes, compared
// exactly.
func (c *Claims) HasScope(scope string) bool { return contains(c.Scopes, scope) }

// Unmarshal decodes the raw payload into v with encoding/json, for claims
// beyond the registered ones. The payload has already passed the strict
// parser, so there are no duplicate members for encoding/json to resolve;
// note that encoding/json matches struct field names case-insensitively.
func (c *Claims) Unmarshal(v any) error { return json.Unmarshal(c.Raw, v) }
