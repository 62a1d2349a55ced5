package verify

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"

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
	// Confirmation is "cnf" (RFC 7800 §3.1): the key the token is bound
	// to, zero for a bearer token.
	Confirmation Confirmation
	// Raw is the payload JSON exactly as signed; use Unmarshal for claims
	// this struct does not carry.
	Raw []byte
}

// Confirmation is the confirmation claim of a sender-constrained token
// (RFC 7800 §3.1). Only the DPoP method is understood: a token carrying any
// other is refused, so a token bound by a method this package cannot
// check never passes as a bearer token.
type Confirmation struct {
	// JKT is cnf.jkt (RFC 9449 §6.1): the RFC 7638 SHA-256 thumbprint,
	// base64url, of the DPoP key the token is bound to.
	JKT string
}

// JKT returns the thumbprint of the DPoP key the token is bound to (cnf.jkt),
// or "" for a token bound to no key (a bearer token).
func (c *Claims) JKT() string { return c.Confirmation.JKT }

// HasScope reports whether scope is one of the token's scopes, compared
// exactly.
func (c *Claims) HasScope(scope string) bool { return contains(c.Scopes, scope) }

// Unmarshal decodes the raw payload into v, for claims beyond the
// registered ones. Claim names are case-sensitive (RFC 7519 §4), and so is
// the decoding: a member fills a struct field only when its name equals
// the field's json tag, or its Go name when untagged, exactly. (Unlike
// encoding/json, which would fill a field tagged "role" from a member
// "ROLE" that the issuer may have let a user choose.) Payloads with
// repeated member names, exactly or up to case, are refused: Verify
// refuses such tokens already, and the check is repeated here for Claims
// built by hand.
//
// Decoding follows JSON v2 semantics (github.com/go-json-experiment/json,
// the implementation of the proposed encoding/json/v2): besides exact name
// matching, a JSON null sets a non-pointer field to its zero value.
func (c *Claims) Unmarshal(v any) error {
	s := scanner{s: string(c.Raw)}
	if err := s.skip(); err != nil {
		return fmt.Errorf("verify: claims: %w", err)
	}
	if err := s.end(); err != nil {
		return fmt.Errorf("verify: claims: %w", err)
	}
	return json.Unmarshal(c.Raw, v)
}

// actClaim is RFC 8693 §4.1's act: an actor, and the actor before it.
type actClaim struct {
	Sub string    `json:"sub"`
	Act *actClaim `json:"act"`
}

// maxActors bounds the chain Actors reads: deeper nesting is refused.
const maxActors = 16

// Actors returns the token's delegation chain (RFC 8693 §4.1: act, nested
// for every earlier hop), the current actor first, or nil when the token
// carries no act: the token was issued to its client directly. An act that
// is not an object with a string sub, or deeper than 16, is an error.
func (c *Claims) Actors() ([]string, error) {
	var v struct {
		Act *actClaim `json:"act"`
	}
	if err := c.Unmarshal(&v); err != nil {
		return nil, fmt.Errorf("verify: act: %w", err)
	}
	var out []string
	for a := v.Act; a != nil; a = a.Act {
		if a.Sub == "" || len(out) == maxActors {
			return nil, errors.New("verify: act: an actor without sub, or a chain deeper than 16")
		}
		out = append(out, a.Sub)
	}
	return out, nil
}
