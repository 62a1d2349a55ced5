// Package testkit holds reproducible fixtures for tests across Gatehouse:
// signing keys derived from fixed seeds (or embedded), a token factory that
// signs any header and claims (including malicious ones), an httptest
// issuer serving discovery and a JWKS that counts fetches and rotates keys,
// a trap server that counts hits, and a fake clock.
//
// It is for tests only. The keys are public; never use them elsewhere.
package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"hash/fnv"
	"math/big"
)

//go:embed testdata/rsa*.pem
var rsaPEMs embed.FS

// RSAKeys is how many distinct embedded RSA keys RS256Key can return.
const RSAKeys = 4

// Key is a signing key with its JOSE algorithm and key id.
type Key struct {
	Alg    string // "ES256", "EdDSA" or "RS256"
	KID    string
	Signer crypto.Signer
}

// NewKey returns the reproducible key for alg and kid: the same arguments
// give the same key in every run. ES256 and EdDSA keys are derived from
// kid; RS256 keys come from RSAKeys embedded keys chosen by a hash of kid
// (use RS256Key to pick one explicitly when two must differ).
func NewKey(alg, kid string) *Key {
	switch alg {
	case "ES256":
		return ES256Key(kid)
	case "EdDSA":
		return EdDSAKey(kid)
	case "RS256":
		h := fnv.New32a()
		h.Write([]byte(kid))
		return RS256Key(kid, int(h.Sum32()%RSAKeys))
	}
	panic("testkit: unsupported alg " + alg)
}

func seed(alg, kid string) []byte {
	s := sha256.Sum256([]byte("gatehouse-testkit/" + alg + "/" + kid))
	return s[:]
}

// ES256Key returns a P-256 key whose private scalar is derived from kid.
// (Go 1.26 ignores the random source of ecdsa.GenerateKey, so the scalar is
// set directly.)
func ES256Key(kid string) *Key {
	d := seed("ES256", kid)
	// A SHA-256 output is below the P-256 order with overwhelming
	// probability; reduce anyway so any kid works.
	n := elliptic.P256().Params().N
	dv := new(big.Int).Mod(new(big.Int).SetBytes(d), n)
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), dv.FillBytes(make([]byte, 32)))
	if err != nil {
		panic("testkit: " + err.Error())
	}
	return &Key{Alg: "ES256", KID: kid, Signer: priv}
}

// EdDSAKey returns an Ed25519 key whose seed is derived from kid.
func EdDSAKey(kid string) *Key {
	return &Key{Alg: "EdDSA", KID: kid, Signer: ed25519.NewKeyFromSeed(seed("EdDSA", kid))}
}

// RS256Key returns the i-th (0 ≤ i < RSAKeys) embedded 2048-bit RSA key
// under kid.
func RS256Key(kid string, i int) *Key {
	b, err := rsaPEMs.ReadFile(fmt.Sprintf("testdata/rsa%d.pem", i%RSAKeys+1))
	if err != nil {
		panic("testkit: " + err.Error())
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		panic("testkit: " + err.Error())
	}
	return &Key{Alg: "RS256", KID: kid, Signer: k.(*rsa.PrivateKey)}
}

// Public returns the public key.
func (k *Key) Public() crypto.PublicKey { return k.Signer.Public() }

// JWK returns the public key as an RFC 7517 JWK with kid, alg and use=sig,
// as Gatehouse publishes it.
func (k *Key) JWK() map[string]any {
	m := map[string]any{"kid": k.KID, "alg": k.Alg, "use": "sig"}
	enc := base64.RawURLEncoding.EncodeToString
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		b, _ := pub.Bytes() // 0x04 || X || Y
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", enc(b[1:33]), enc(b[33:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", enc(pub)
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", enc(pub.N.Bytes()), enc(big.NewInt(int64(pub.E)).Bytes())
	}
	return m
}

// PublicPEM returns the public key as a PEM "PUBLIC KEY" block (PKIX), the
// form an HS256-with-public-key attacker would use as the HMAC secret.
func (k *Key) PublicPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		panic("testkit: " + err.Error())
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// PublicRaw returns the public key's raw bytes: the uncompressed point for
// P-256, the 32 bytes for Ed25519, PKCS #1 DER for RSA.
func (k *Key) PublicRaw() []byte {
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		b, _ := pub.Bytes()
		return b
	case ed25519.PublicKey:
		return []byte(pub)
	case *rsa.PublicKey:
		return x509.MarshalPKCS1PublicKey(pub)
	}
	return nil
}

// JWKS returns the JSON of a JWK Set holding the public keys.
func JWKS(keys ...*Key) []byte {
	set := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		set = append(set, k.JWK())
	}
	return mustJSON(map[string]any{"keys": set})
}
