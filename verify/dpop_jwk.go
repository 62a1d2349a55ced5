package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"math/big"
	"strconv"
)

// proofJWK is the jwk of a proof header (RFC 7517 §4): the members a
// thumbprint and the key need, as read, plus what disqualifies it.
type proofJWK struct {
	kty, crv, x, y, n, e, alg string
	// private names the first private-key member seen (RFC 7518 §6.2.2,
	// §6.3.2, §6.4.1, RFC 8037 §2), "" when there is none.
	private string
	// bad says why the jwk cannot be read (a member of the wrong type).
	bad string
}

func readProofJWK(s *scanner, j *proofJWK) error {
	return s.object(func(name string) error {
		var dst *string
		switch name {
		case "kty":
			dst = &j.kty
		case "crv":
			dst = &j.crv
		case "x":
			dst = &j.x
		case "y":
			dst = &j.y
		case "n":
			dst = &j.n
		case "e":
			dst = &j.e
		case "alg":
			dst = &j.alg
		case "d", "p", "q", "dp", "dq", "qi", "oth", "k":
			if j.private == "" {
				j.private = name
			}
			return s.skip()
		default:
			return s.skip()
		}
		var wrong bool
		if err := readString(s, dst, &wrong); err != nil {
			return err
		}
		if wrong && j.bad == "" {
			j.bad = "jwk member " + name + " is not a string"
		}
		return nil
	})
}

// proofKey returns the public key of the proof's jwk after checking that
// it suits the proof's alg, which checkAlg has accepted.
func proofKey(h *proofHeader) (crypto.PublicKey, *Error) {
	j := &h.jwk
	keyErr := func(code Code, reason string) *Error {
		return fail(CheckProofKey, code, reason, j.kty, h.alg)
	}
	switch {
	case !h.hasJWK:
		return nil, keyErr(CodeMissing, "the proof header has no jwk; a DPoP proof carries its public key (RFC 9449 §4.2)")
	case j.bad != "":
		return nil, keyErr(CodeMalformed, j.bad)
	case j.private != "" || j.kty == "oct":
		// Whatever else is wrong, a leaked private key is the news.
		what := "private key member " + j.private
		if j.private == "" {
			what = "a symmetric key (kty oct)"
		}
		return nil, keyErr(CodePrivateKey, "the proof's jwk holds "+what+"; it must be the public key only (RFC 9449 §4.3 item 7), and the client's key must be considered compromised")
	case j.alg != "" && j.alg != h.alg:
		return nil, keyErr(CodeKeyMismatch, "the proof's jwk is for alg "+j.alg+", the proof says "+h.alg)
	}
	pub, code, why := parseProofKey(h.alg, j)
	if why != "" {
		return nil, keyErr(code, why)
	}
	return pub, nil
}

// parseProofKey builds the public key for alg from j, or says why not:
// CodeKeyMismatch for a key of another type than alg needs,
// CodeMalformed for a key that is not one, CodeNotAccepted for an RSA key
// of a refused size.
func parseProofKey(alg string, j *proofJWK) (crypto.PublicKey, Code, string) {
	switch alg {
	case "ES256", "ES384":
		crv, curve, size := "P-256", elliptic.P256(), 32
		if alg == "ES384" {
			crv, curve, size = "P-384", elliptic.P384(), 48
		}
		if j.kty != "EC" || j.crv != crv {
			return nil, CodeKeyMismatch, alg + " needs an EC key on " + crv + ", the jwk is " + describeKey(j)
		}
		var pt [1 + 2*48]byte
		pt[0] = 4
		b, okx := decodeB64(pt[:1], j.x)
		if !okx || len(b) != 1+size {
			return nil, CodeMalformed, "" + crv + " x must be " + strconv.Itoa(size) + " bytes of base64url"
		}
		b, oky := decodeB64(b, j.y)
		if !oky || len(b) != 1+2*size {
			return nil, CodeMalformed, "" + crv + " y must be " + strconv.Itoa(size) + " bytes of base64url"
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, b)
		if err != nil {
			return nil, CodeMalformed, "the jwk's point is not on " + crv
		}
		return pub, "", ""
	case "EdDSA":
		if j.kty != "OKP" || j.crv != "Ed25519" {
			return nil, CodeKeyMismatch, "EdDSA needs an OKP key on Ed25519, the jwk is " + describeKey(j)
		}
		x, ok := decodeB64(make([]byte, 0, ed25519.PublicKeySize), j.x)
		if !ok || len(x) != ed25519.PublicKeySize {
			return nil, CodeMalformed, "Ed25519 x must be 32 bytes of base64url"
		}
		return ed25519.PublicKey(x), "", ""
	case "RS256", "PS256":
		if j.kty != "RSA" {
			return nil, CodeKeyMismatch, alg + " needs an RSA key, the jwk is " + describeKey(j)
		}
		n, okn := decodeB64(nil, j.n)
		e, oke := decodeB64(nil, j.e)
		// RFC 7518 §6.3.1: minimal big-endian octets, so one key has one
		// thumbprint.
		if !okn || !oke || len(e) == 0 || len(e) > 4 || len(n) == 0 || n[0] == 0 || e[0] == 0 {
			return nil, CodeMalformed, "RSA n and e must be minimal unpadded big-endian base64url"
		}
		var ev int
		for _, b := range e {
			ev = ev<<8 | int(b)
		}
		bits := new(big.Int).SetBytes(n).BitLen()
		if bits < 2048 || bits > 8192 {
			// Over 8192 bits, verification would cost a server more than a
			// client could be made to pay.
			return nil, CodeNotAccepted, "an RSA key of " + strconv.Itoa(bits) + " bits; 2048 to 8192 are accepted"
		}
		if ev < 3 || ev%2 == 0 || ev > 1<<31-1 {
			return nil, CodeMalformed, "RSA exponent " + strconv.Itoa(ev) + " is not odd, at least 3 and below 2^31"
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ev}, "", ""
	}
	return nil, CodeNotAccepted, "unsupported alg " + alg
}

func describeKey(j *proofJWK) string {
	if j.crv != "" {
		return j.kty + "/" + j.crv
	}
	if j.kty == "" {
		return "without kty"
	}
	return j.kty
}

// verifyProofSignature checks sig over signingInput by alg with pub, which
// parseProofKey made for alg.
func verifyProofSignature(alg string, pub crypto.PublicKey, signingInput string, sig []byte) bool {
	switch alg {
	case "ES256":
		if len(sig) != 64 {
			return false
		}
		h := sha256.Sum256([]byte(signingInput))
		var der [72]byte
		return ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), h[:], encodeDER(der[:0], sig[:32], sig[32:]))
	case "ES384":
		if len(sig) != 96 {
			return false
		}
		h := sha512.Sum384([]byte(signingInput))
		var der [104]byte
		return ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), h[:], encodeDER(der[:0], sig[:48], sig[48:]))
	case "EdDSA":
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub.(ed25519.PublicKey), []byte(signingInput), sig)
	case "RS256":
		h := sha256.Sum256([]byte(signingInput))
		return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig) == nil
	case "PS256":
		// RFC 7518 §3.5: the salt is as long as the hash.
		h := sha256.Sum256([]byte(signingInput))
		return rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	return false
}

// thumbprint returns the RFC 7638 SHA-256 thumbprint of j, base64url. The
// members were checked by parseProofKey (or by Thumbprint): they are
// base64url or fixed names, so they need no JSON escaping.
func (j *proofJWK) thumbprint() string {
	// RFC 7638 §3.2: the required members only, in lexicographic order,
	// no whitespace.
	var buf [256]byte
	b := buf[:0]
	switch j.kty {
	case "EC":
		b = append(b, `{"crv":"`...)
		b = append(b, j.crv...)
		b = append(b, `","kty":"EC","x":"`...)
		b = append(b, j.x...)
		b = append(b, `","y":"`...)
		b = append(b, j.y...)
		b = append(b, `"}`...)
	case "OKP":
		b = append(b, `{"crv":"`...)
		b = append(b, j.crv...)
		b = append(b, `","kty":"OKP","x":"`...)
		b = append(b, j.x...)
		b = append(b, `"}`...)
	case "RSA":
		b = append(b, `{"e":"`...)
		b = append(b, j.e...)
		b = append(b, `","kty":"RSA","n":"`...)
		b = append(b, j.n...)
		b = append(b, `"}`...)
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Thumbprint returns the RFC 7638 JWK thumbprint of jwk (a JSON object),
// SHA-256, base64url-encoded without padding: the value of cnf.jkt (RFC
// 9449 §6.1). It takes the required members of EC (crv, kty, x, y), OKP
// (crv, kty, x) and RSA (e, kty, n) keys; other members do not change
// it, and a private key has the thumbprint of its public key (RFC 7638
// §3.2.1). The JSON is read as strictly as tokens (duplicate members
// refused), and the key members must be base64url; the key itself is not
// otherwise validated.
func Thumbprint(jwk []byte) (string, error) {
	s := scanner{s: string(jwk)}
	var j proofJWK
	err := readProofJWK(&s, &j)
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return "", errors.New("verify: thumbprint: " + err.Error())
	}
	if j.bad != "" {
		return "", errors.New("verify: thumbprint: " + j.bad)
	}
	b64 := func(vals ...string) bool {
		for _, v := range vals {
			if v == "" {
				return false
			}
			if _, ok := decodeB64(nil, v); !ok {
				return false
			}
		}
		return true
	}
	var ok bool
	switch j.kty {
	case "EC":
		ok = j.crv != "" && b64(j.x, j.y) && isPrintableName(j.crv)
	case "OKP":
		ok = j.crv != "" && b64(j.x) && isPrintableName(j.crv)
	case "RSA":
		ok = b64(j.n, j.e)
	default:
		return "", errors.New("verify: thumbprint: unsupported kty " + strconv.Quote(j.kty))
	}
	if !ok {
		return "", errors.New("verify: thumbprint: the " + j.kty + " key lacks a required member or one is not base64url")
	}
	return j.thumbprint(), nil
}

// isPrintableName reports whether a crv can go into the thumbprint JSON
// without escaping.
func isPrintableName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ThumbprintKey returns the RFC 7638 SHA-256 thumbprint, base64url, of a
// public key: *ecdsa.PublicKey on P-256, P-384 or P-521,
// ed25519.PublicKey, or *rsa.PublicKey. It is what Thumbprint returns for
// the key's JWK.
func ThumbprintKey(pub crypto.PublicKey) (string, error) {
	enc := base64.RawURLEncoding.EncodeToString
	var j proofJWK
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		b, err := k.Bytes()
		if err != nil {
			return "", errors.New("verify: thumbprint: " + err.Error())
		}
		size := (len(b) - 1) / 2
		j = proofJWK{kty: "EC", crv: k.Curve.Params().Name, x: enc(b[1 : 1+size]), y: enc(b[1+size:])}
	case ed25519.PublicKey:
		j = proofJWK{kty: "OKP", crv: "Ed25519", x: enc(k)}
	case *rsa.PublicKey:
		j = proofJWK{kty: "RSA", n: enc(k.N.Bytes()), e: enc(big.NewInt(int64(k.E)).Bytes())}
	default:
		return "", errors.New("verify: thumbprint: unsupported key type")
	}
	return j.thumbprint(), nil
}
