package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// Signing algorithms (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	ES256 = "ES256" // ECDSA P-256 with SHA-256; the default
	EdDSA = "EdDSA" // Ed25519
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys
)

// rsaBits is the size of generated RSA keys; smaller stored keys are
// refused when loaded.
const rsaBits = 2048

// Signer signs with one private key held parsed in memory, so signing
// never decrypts or parses anything. A Signer is immutable and safe for
// concurrent use.
type Signer struct {
	// KID is the key's JWS "kid": its RFC 7638 SHA-256 thumbprint,
	// base64url.
	KID string
	// Alg is the JWS "alg" the key signs with.
	Alg string

	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
	rsa *rsa.PrivateKey
}

// Public returns the public key.
func (s *Signer) Public() crypto.PublicKey {
	switch {
	case s.ec != nil:
		return &s.ec.PublicKey
	case s.ed != nil:
		return s.ed.Public()
	default:
		return &s.rsa.PublicKey
	}
}

// Sign returns the JWS signature of signingInput (the ASCII
// BASE64URL(header) || '.' || BASE64URL(payload)) in the form RFC 7518
// wants: for ES256 the 64-byte R||S of §3.4 (not ASN.1), for EdDSA the
// 64-byte Ed25519 signature (RFC 8037 §3.1), for RS256 the PKCS#1 v1.5
// signature over SHA-256 (§3.3). The caller base64url-encodes it.
func (s *Signer) Sign(signingInput []byte) ([]byte, error) {
	switch {
	case s.ec != nil:
		digest := sha256.Sum256(signingInput)
		der, err := ecdsa.SignASN1(rand.Reader, s.ec, digest[:])
		if err != nil {
			return nil, fmt.Errorf("keys: ES256 sign: %w", err)
		}
		return asn1ToRaw(der)
	case s.ed != nil:
		return ed25519.Sign(s.ed, signingInput), nil
	case s.rsa != nil:
		digest := sha256.Sum256(signingInput)
		sig, err := rsa.SignPKCS1v15(rand.Reader, s.rsa, crypto.SHA256, digest[:])
		if err != nil {
			return nil, fmt.Errorf("keys: RS256 sign: %w", err)
		}
		return sig, nil
	default:
		return nil, errors.New("keys: signer has no key")
	}
}

// asn1ToRaw turns an ASN.1 ECDSA-Sig-Value for P-256 into R||S, each
// left-padded to 32 bytes. It reuses der's backing array when it is large
// enough (it always is for P-256), so ES256 signing allocates nothing
// beyond what crypto/ecdsa does.
func asn1ToRaw(der []byte) ([]byte, error) {
	// SEQUENCE { INTEGER r, INTEGER s }; for P-256 every length is below
	// 128, so each length is one byte.
	if len(der) < 2 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return nil, errors.New("keys: malformed ECDSA signature")
	}
	r, rest, ok := derUint(der[2:])
	if !ok {
		return nil, errors.New("keys: malformed ECDSA signature r")
	}
	sv, rest, ok := derUint(rest)
	if !ok || len(rest) != 0 {
		return nil, errors.New("keys: malformed ECDSA signature s")
	}
	// Assemble on the stack first: r and s live inside der, so writing into
	// der directly could overwrite s before it is read.
	var raw [64]byte
	copy(raw[32-len(r):32], r)
	copy(raw[64-len(sv):], sv)
	var out []byte
	if cap(der) >= len(raw) {
		out = der[:len(raw)]
	} else {
		out = make([]byte, len(raw))
	}
	copy(out, raw[:])
	return out, nil
}

// derUint reads one DER INTEGER of at most 32 magnitude bytes and returns
// its magnitude without the sign-padding zero.
func derUint(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 3 || b[0] != 0x02 || b[1] == 0 || b[1] >= 0x80 || int(b[1]) > len(b)-2 {
		return nil, nil, false
	}
	n := int(b[1])
	v, rest = b[2:2+n], b[2+n:]
	if len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	if len(v) > 32 {
		return nil, nil, false
	}
	return v, rest, true
}

// generate makes a new private key for alg.
func generate(alg string) (*Signer, error) {
	s := &Signer{Alg: alg}
	var err error
	switch alg {
	case ES256:
		s.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, s.ed, err = ed25519.GenerateKey(rand.Reader)
	case RS256:
		s.rsa, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return nil, fmt.Errorf("keys: unsupported signing algorithm %q (want %s, %s or %s)", alg, ES256, EdDSA, RS256)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: generating %s key: %w", alg, err)
	}
	if s.KID, err = thumbprint(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

// privateDER serialises the private key as PKCS#8.
func (s *Signer) privateDER() ([]byte, error) {
	var k any
	switch {
	case s.ec != nil:
		k = s.ec
	case s.ed != nil:
		k = s.ed
	default:
		k = s.rsa
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("keys: encoding key %s: %w", s.KID, err)
	}
	return der, nil
}

// parseSigner loads a PKCS#8 private key and checks it suits alg, so a
// stored row cannot make us sign ES256 with an RSA key, or with a weak one.
func parseSigner(kid, alg string, der []byte) (*Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: parsing private key: %w", kid, err)
	}
	s := &Signer{KID: kid, Alg: alg}
	switch key := k.(type) {
	case *ecdsa.PrivateKey:
		if alg != ES256 || key.Curve != elliptic.P256() {
			return nil, fmt.Errorf("keys: key %s: an ECDSA %s key cannot sign %s", kid, key.Curve.Params().Name, alg)
		}
		s.ec = key
	case ed25519.PrivateKey:
		if alg != EdDSA {
			return nil, fmt.Errorf("keys: key %s: an Ed25519 key cannot sign %s", kid, alg)
		}
		s.ed = key
	case *rsa.PrivateKey:
		if alg != RS256 || key.N.BitLen() < rsaBits {
			return nil, fmt.Errorf("keys: key %s: an RSA %d-bit key cannot sign %s", kid, key.N.BitLen(), alg)
		}
		s.rsa = key
	default:
		return nil, fmt.Errorf("keys: key %s: unsupported private key type %T", kid, k)
	}
	return s, nil
}

// jwk is the key's public JWK as published in JWKS.
func (s *Signer) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: s.Public(), KeyID: s.KID, Algorithm: s.Alg, Use: "sig"}
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of pub, base64url: a kid
// that names the key itself, so two instances can never disagree on it.
func thumbprint(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("keys: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}
