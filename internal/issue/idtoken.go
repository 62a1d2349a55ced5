package issue

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"time"
)

// Identity describes one OpenID Connect ID token (OIDC Core §2).
type Identity struct {
	Subject  string
	ClientID string
	Nonce    string
	// SessionID is the "sid" claim: a public identifier of the login
	// session, never the session cookie itself.
	SessionID string
	AuthTime  time.Time
	// AccessToken, when not empty, is hashed into "at_hash" (§3.1.3.6).
	AccessToken string
	// Claims are the user claims to release in the ID token.
	Claims map[string]any
	// ACR and AMR say how the user authenticated (OIDC Core §2, RFC
	// 8176); empty leaves them out.
	ACR string
	AMR []string
	// Alg is the JWS algorithm the client registered for its ID tokens
	// (id_token_signed_response_alg, OIDC Dynamic Client Registration
	// §2); empty means the primary one, that of access tokens.
	Alg string
}

// IDToken signs an ID token with the active key of id.Alg: header typ
// "JWT" (so it can never pass as an RFC 9068 access token) and that key's
// kid, aud = the client id alone, and no azp since the audience is exactly
// the authorized party (§2). at_hash follows the same alg.
func (m *Minter) IDToken(id Identity) (Minted, error) {
	s := m.keys.Signer()
	if id.Alg != "" && id.Alg != s.Alg {
		var ok bool
		if s, ok = m.keys.SignerFor(id.Alg); !ok {
			return Minted{}, fmt.Errorf("issue: no active %s key to sign the ID token with", id.Alg)
		}
	}
	now := m.now().Truncate(time.Second)
	exp := now.Add(m.ttl)
	c := make(map[string]any, len(id.Claims)+10)
	for k, v := range id.Claims {
		c[k] = v
	}
	c["iss"] = m.issuer
	c["sub"] = id.Subject
	c["aud"] = id.ClientID
	c["iat"] = now.Unix()
	c["exp"] = exp.Unix()
	if !id.AuthTime.IsZero() {
		c["auth_time"] = id.AuthTime.Unix()
	}
	if id.Nonce != "" {
		c["nonce"] = id.Nonce
	}
	if id.SessionID != "" {
		c["sid"] = id.SessionID
	}
	if id.ACR != "" {
		c["acr"] = id.ACR
	}
	if len(id.AMR) > 0 {
		c["amr"] = id.AMR
	}
	if id.AccessToken != "" {
		c["at_hash"] = HalfHash(s.Alg, id.AccessToken)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return Minted{}, err
	}
	hdr, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{s.Alg, s.KID, "JWT"})
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := s.Sign([]byte(input))
	if err != nil {
		return Minted{}, err
	}
	return Minted{Token: input + "." + base64.RawURLEncoding.EncodeToString(sig), IssuedAt: now, ExpiresAt: exp}, nil
}

// HalfHash is the at_hash / c_hash of OIDC Core §3.1.3.6: the left half of
// the hash of the ASCII value, base64url. The hash follows the JWS alg:
// SHA-256 for ES256 and RS256, SHA-512 for EdDSA (Ed25519 signs with
// SHA-512), as go-oidc and other relying parties compute it.
func HalfHash(alg, value string) string {
	var h hash.Hash
	if alg == "EdDSA" {
		h = sha512.New()
	} else {
		h = sha256.New()
	}
	h.Write([]byte(value))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// NewOpaque returns a random 256-bit opaque token (refresh tokens,
// authorization codes, session cookies) and the hash under which the store
// keeps it: the token itself is never stored.
func NewOpaque() (token, hashHex string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashOpaque(token), nil
}

// HashOpaque is the store key of an opaque token. A fast hash is right
// here: the token has 256 bits of entropy, so it cannot be guessed from its
// hash, and lookups happen on every refresh.
func HashOpaque(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
