package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"time"
)

// Claims is a JWT claims set for the token factory. It is a map so tests can
// add, drop and mistype any claim.
type Claims map[string]any

// AccessClaims returns the claims of a Gatehouse access token (RFC 9068
// §2.2) issued at now by iss to client for aud, valid for ten minutes: a
// single aud is a JSON string, several an array, and azp is set when aud
// is not exactly [client].
func AccessClaims(iss, client string, now time.Time, scope string, aud ...string) Claims {
	c := Claims{
		"iss":       iss,
		"sub":       "user-1",
		"client_id": client,
		"scope":     scope,
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(10 * time.Minute).Unix(),
		"jti":       "jti-" + client + "-" + now.UTC().Format("150405.000"),
	}
	if len(aud) == 1 {
		c["aud"] = aud[0]
	} else {
		c["aud"] = aud
	}
	if len(aud) != 1 || aud[0] != client {
		c["azp"] = client
	}
	if scope == "" {
		delete(c, "scope")
	}
	return c
}

// With returns a copy of c with name set to v.
func (c Claims) With(name string, v any) Claims {
	out := maps.Clone(c)
	out[name] = v
	return out
}

// Without returns a copy of c without name.
func (c Claims) Without(name string) Claims {
	out := maps.Clone(c)
	delete(out, name)
	return out
}

// Header returns the header Gatehouse puts on access tokens signed by k:
// alg, kid and typ at+jwt.
func (k *Key) Header() map[string]any {
	return map[string]any{"alg": k.Alg, "kid": k.KID, "typ": "at+jwt"}
}

// Sign returns an access token for claims (any JSON-marshalable value)
// signed by k, with k.Header() plus extra header fields (which may
// override alg, kid or typ; a nil value deletes the field).
func (k *Key) Sign(claims any, extra ...map[string]any) string {
	h := k.Header()
	for _, e := range extra {
		for name, v := range e {
			if v == nil {
				delete(h, name)
			} else {
				h[name] = v
			}
		}
	}
	return k.SignRaw(mustJSON(h), mustJSON(claims))
}

// SignRaw signs exactly the given header and payload bytes with k's
// algorithm (whatever alg the header claims), for malformed and malicious
// tokens: duplicated members, invalid JSON, lying headers.
func (k *Key) SignRaw(header, payload []byte) string {
	in := enc(header) + "." + enc(payload)
	return in + "." + enc(k.sign([]byte(in)))
}

func (k *Key) sign(in []byte) []byte {
	switch s := k.Signer.(type) {
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(in)
		r, ss, err := ecdsa.Sign(rand.Reader, s, h[:])
		if err != nil {
			panic("testkit: " + err.Error())
		}
		// RFC 7518 §3.4: fixed 32-byte R || S.
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
		return sig
	case ed25519.PrivateKey:
		return ed25519.Sign(s, in)
	case *rsa.PrivateKey:
		h := sha256.Sum256(in)
		sig, err := rsa.SignPKCS1v15(nil, s, crypto.SHA256, h[:])
		if err != nil {
			panic("testkit: " + err.Error())
		}
		return sig
	}
	panic("testkit: unsupported signer")
}

// Unsigned returns a token with alg "none" and an empty signature (RFC 7519
// §6), the oldest JWT attack.
func Unsigned(header map[string]any, claims any) string {
	h := maps.Clone(header)
	if h == nil {
		h = map[string]any{}
	}
	h["alg"] = "none"
	return enc(mustJSON(h)) + "." + enc(mustJSON(claims)) + "."
}

// HS256 returns a token whose header says alg HS256, MACed with secret:
// with secret set to a public key (PEM or raw) it is the key-confusion
// attack against verifiers that let the token choose the algorithm.
func HS256(secret []byte, header map[string]any, claims any) string {
	h := maps.Clone(header)
	if h == nil {
		h = map[string]any{}
	}
	h["alg"] = "HS256"
	in := enc(mustJSON(h)) + "." + enc(mustJSON(claims))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + enc(m.Sum(nil))
}

// Compact joins raw header, payload and signature bytes into a compact JWS
// without signing anything.
func Compact(header, payload, sig []byte) string {
	return enc(header) + "." + enc(payload) + "." + enc(sig)
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("testkit: " + err.Error())
	}
	return b
}

// JSON marshals v with encoding/json, panicking on error (fixtures only).
func JSON(v any) []byte { return mustJSON(v) }
