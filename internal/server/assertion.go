package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
)

// private_key_jwt client authentication (RFC 7523 §2.2), with RFC 10070's
// rule from the 2025 audience-injection disclosure (CVE-2025-27370/27371):
// the assertion's aud must be exactly this issuer's identifier — a single
// string or a one-element array — and nothing else, not even the token
// endpoint's URL. The assertion is checked with go-jose (a well-kept JOSE
// library) against the client's registered public keys, and its jti is
// used once across every instance (store.OnceStore).

const (
	// assertionType is client_assertion_type's only value (RFC 7523 §2.2).
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// maxAssertionLifetime bounds how far ahead an assertion's exp may
	// be: it is a one-time proof, not a credential to keep.
	maxAssertionLifetime = 5 * time.Minute
	// assertionLeeway is the clock skew allowed on exp and nbf.
	assertionLeeway = 30 * time.Second
	// maxAssertionBytes bounds what is parsed.
	maxAssertionBytes = 8 << 10
)

// assertionAlgs are the signing algorithms accepted: asymmetric only.
var assertionAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256, jose.PS256}

// assertionClaims are the claims RFC 7523 §3 requires.
type assertionClaims struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	Expiry    *int64          `json:"exp"`
	NotBefore *int64          `json:"nbf"`
	JTI       string          `json:"jti"`
}

// parseClientKeys reads a client's configured JWKS; a private key in it
// is refused.
func parseClientKeys(m map[string]any) (*jose.JSONWebKeySet, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("jwks has no keys")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return nil, errors.New("jwks holds a private key: give the public keys only")
		}
	}
	return &set, nil
}

// assertionSubject reads the client id an assertion claims, unverified:
// it names whose keys to check it with.
func assertionSubject(assertion string) (string, error) {
	if len(assertion) > maxAssertionBytes {
		return "", errors.New("the client assertion is too large")
	}
	tok, err := jose.ParseSigned(assertion, assertionAlgs)
	if err != nil {
		return "", errors.New("the client assertion is not a JWS signed with " + algList())
	}
	var c assertionClaims
	if err := json.Unmarshal(tok.UnsafePayloadWithoutVerification(), &c); err != nil || c.Subject == "" {
		return "", errors.New("the client assertion has no sub")
	}
	return c.Subject, nil
}

func algList() string { return "ES256, EdDSA, RS256 or PS256" }

// checkAssertion verifies a private_key_jwt assertion of client id with
// keys; the reason of a refusal is for the log and audit trail only.
func (s *Server) checkAssertion(ctx context.Context, id string, keys clientKeys, assertion string) error {
	tok, err := jose.ParseSigned(assertion, assertionAlgs)
	if err != nil || len(tok.Signatures) != 1 {
		return errors.New("not a JWS with one signature by " + algList())
	}
	h := tok.Signatures[0].Header
	switch typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ {
	case "", "JWT", "client-authentication+jwt":
		// RFC 10070 asks for client-authentication+jwt and advises against
		// refusing a missing typ; JWT is what common libraries write.
	default:
		return errors.New("typ " + oauth.SafeName(typ) + " is not a client assertion's")
	}
	candidates, err := keys.candidates(ctx, h.KeyID)
	if err != nil {
		return err
	}
	payload, err := verifyWithKeys(tok, candidates)
	if err != nil {
		return err
	}
	var c assertionClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return errors.New("the claims are not a JSON object")
	}
	if err := s.checkAssertionClaims(id, &c); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(c.JTI))
	if err := s.store.UseOnce(ctx, "client-assertion:"+id+":"+hex.EncodeToString(sum[:]), time.Unix(*c.Expiry, 0).Add(assertionLeeway), s.now()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errors.New("the jti was used before (a replayed assertion)")
		}
		return err
	}
	return nil
}

// verifyWithKeys checks the signature with each candidate key.
func verifyWithKeys(tok *jose.JSONWebSignature, candidates []jose.JSONWebKey) ([]byte, error) {
	for _, k := range candidates {
		if payload, err := tok.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("no registered key verifies the signature")
}

// checkAssertionClaims applies RFC 7523 §3 and RFC 10070 §3.
func (s *Server) checkAssertionClaims(id string, c *assertionClaims) error {
	now := s.now()
	var aud []string
	if err := json.Unmarshal(c.Audience, &aud); err != nil {
		var one string
		if json.Unmarshal(c.Audience, &one) != nil {
			return errors.New("aud is neither a string nor an array of strings")
		}
		aud = []string{one}
	}
	switch {
	case c.Issuer != id || c.Subject != id:
		return errors.New("iss and sub must both be the client id")
	case len(aud) != 1 || aud[0] != s.issuer:
		return fmt.Errorf("aud must be exactly the issuer %s, alone (RFC 10070)", s.issuer)
	case c.Expiry == nil:
		return errors.New("exp is required")
	case !now.Before(time.Unix(*c.Expiry, 0).Add(assertionLeeway)):
		return errors.New("the assertion has expired")
	case time.Unix(*c.Expiry, 0).After(now.Add(maxAssertionLifetime + assertionLeeway)):
		return errors.New("exp is more than five minutes ahead: an assertion is a one-time proof")
	case c.NotBefore != nil && now.Add(assertionLeeway).Before(time.Unix(*c.NotBefore, 0)):
		return errors.New("the assertion is not valid yet (nbf)")
	case c.JTI == "":
		return errors.New("jti is required, so the assertion can be used once")
	}
	return nil
}
