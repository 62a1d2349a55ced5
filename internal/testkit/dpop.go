package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DPoPKey is a client's DPoP key pair (ES256) and its RFC 7638
// thumbprint, both computed by go-jose — a JOSE library independent of
// Gatehouse, so tests of Gatehouse's checks do not use Gatehouse's code to
// make their input.
type DPoPKey struct {
	Priv *ecdsa.PrivateKey
	// JKT is the thumbprint, base64url: a bound token's cnf.jkt.
	JKT string
}

// NewDPoPKey makes a key.
func NewDPoPKey() DPoPKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tp, err := (&jose.JSONWebKey{Key: &k.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		panic(err)
	}
	return DPoPKey{Priv: k, JKT: base64.RawURLEncoding.EncodeToString(tp)}
}

// Proof signs a DPoP proof (RFC 9449 §4.2) with go-jose: a fresh jti, htm,
// htu, iat, and ath when token is not empty; edit may change the claims
// before signing.
func (k DPoPKey) Proof(htm, htu string, iat time.Time, token string, edit func(map[string]any)) string {
	c := map[string]any{"jti": rand.Text(), "htm": htm, "htu": htu, "iat": iat.Unix()}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if edit != nil {
		edit(c)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.Priv},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		panic(err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return out
}

// HandMadeJWS builds a compact JWS from a header and claims, signed by
// sign (nil: an empty signature): for the proofs and tokens go-jose
// refuses to make (alg none, HMAC with a key in the header, a private
// key in jwk).
func HandMadeJWS(header, claims map[string]any, sign func([]byte) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// ES256Raw signs input as JWS ES256 does (r || s, 32 bytes each).
func (k DPoPKey) ES256Raw(input []byte) []byte {
	d := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, k.Priv, d[:])
	if err != nil {
		panic(err)
	}
	return append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
}

// PublicJWK and PrivateJWK are the key as JWK members, for hand-made
// headers.
func (k DPoPKey) PublicJWK() map[string]any { return jwkMap(&jose.JSONWebKey{Key: &k.Priv.PublicKey}) }

// PrivateJWK is the key with its private member d: what a proof must never
// carry.
func (k DPoPKey) PrivateJWK() map[string]any { return jwkMap(&jose.JSONWebKey{Key: k.Priv}) }

func jwkMap(k *jose.JSONWebKey) map[string]any {
	b, err := k.MarshalJSON()
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}
