package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

// The proofs here are built with go-jose, an implementation independent
// of the checker, except where a proof must be malformed in ways go-jose
// refuses to produce (duplicate members, alg none): those are assembled
// by hand with rawProof.

var dpopNow = time.Unix(1_800_000_000, 0)

const (
	dpopURL    = "https://api.example.com/orders/42"
	dpopMethod = "POST"
	dpopToken  = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
)

// proofKey is a client's DPoP key.
type proofKey struct {
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

var (
	keysOnce sync.Once
	keys     map[string]proofKey
)

// dpopKeys returns one key per algorithm, made once per test binary.
func dpopKeys(t testing.TB) map[string]proofKey {
	keysOnce.Do(func() {
		p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			panic(err)
		}
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		rsaKey := testkit.RS256Key("dpop", 1).Signer
		keys = map[string]proofKey{
			"ES256": {jose.ES256, testkit.ES256Key("dpop").Signer},
			"ES384": {jose.ES384, p384},
			"EdDSA": {jose.EdDSA, ed},
			"RS256": {jose.RS256, rsaKey},
			"PS256": {jose.PS256, rsaKey},
		}
	})
	return keys
}

// proofClaims are valid claims for the default request.
func proofClaims() map[string]any {
	sum := sha256.Sum256([]byte(dpopToken))
	return map[string]any{
		"jti": "e1j3V_bKic8-LAEB",
		"htm": dpopMethod,
		"htu": dpopURL,
		"iat": dpopNow.Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:]),
	}
}

func with(c map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(c))
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// proofOpts say how go-jose builds the header.
type proofOpts struct {
	typ    string // "" means dpop+jwt; "-" means none
	noJWK  bool
	jwk    any // a header jwk instead of the signing key's
	extra  map[jose.HeaderKey]any
	signer any // signing key instead of k.priv (HS256)
	alg    jose.SignatureAlgorithm
}

func signProof(t testing.TB, k proofKey, claims map[string]any, o proofOpts) string {
	t.Helper()
	opts := &jose.SignerOptions{EmbedJWK: !o.noJWK && o.jwk == nil}
	switch o.typ {
	case "":
		opts.WithType("dpop+jwt")
	case "-":
	default:
		opts.WithType(jose.ContentType(o.typ))
	}
	if o.jwk != nil {
		opts.WithHeader("jwk", o.jwk)
	}
	for name, v := range o.extra {
		opts.WithHeader(name, v)
	}
	alg, key := k.alg, any(k.priv)
	if o.signer != nil {
		alg, key = o.alg, o.signer
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawProof signs header and payload JSON verbatim with an ES256 key.
func rawProof(t testing.TB, priv *ecdsa.PrivateKey, header, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	in := enc([]byte(header)) + "." + enc([]byte(payload))
	h := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, priv, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + enc(sig)
}

func publicJWK(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	b, err := jose.JSONWebKey{Key: pub}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newChecker(t testing.TB, cfg verify.ProofConfig) *verify.ProofChecker {
	t.Helper()
	if cfg.Clock == nil {
		cfg.Clock = func() time.Time { return dpopNow }
	}
	if cfg.Replay == nil {
		cfg.Replay = verify.NewMemoryReplayCacheClock(100, cfg.Clock)
	}
	c, err := verify.NewProofChecker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func defaultRequest() verify.ProofRequest {
	return verify.ProofRequest{Method: dpopMethod, URL: dpopURL, AccessToken: dpopToken}
}

// wantProofErr asserts err is a *verify.Error for check with code (when
// code is not empty) and the RFC 9449 error code that goes with it.
func wantProofErr(t *testing.T, err error, check verify.Check, code verify.Code) {
	t.Helper()
	ve := wantCheck(t, err, check)
	if ve == nil {
		return
	}
	if code != "" && ve.Code != code {
		t.Errorf("code %s, want %s (%v)", ve.Code, code, err)
	}
	want := verify.DPoPInvalidProof
	if check == verify.CheckProofNonce {
		want = verify.DPoPUseNonce
	}
	if got := ve.DPoPError(); got != want {
		t.Errorf("DPoPError %q, want %q", got, want)
	}
}

func TestProofValid(t *testing.T) {
	for alg, k := range dpopKeys(t) {
		t.Run(alg, func(t *testing.T) {
			c := newChecker(t, verify.ProofConfig{})
			proof := signProof(t, k, proofClaims(), proofOpts{})
			p, err := c.Check(context.Background(), proof, defaultRequest())
			if err != nil {
				t.Fatal(err)
			}
			jkt, err := (&jose.JSONWebKey{Key: k.priv.Public()}).Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if want := base64.RawURLEncoding.EncodeToString(jkt); p.JKT != want {
				t.Errorf("JKT %s, want go-jose's %s", p.JKT, want)
			}
			if p.JTI != "e1j3V_bKic8-LAEB" || !p.IssuedAt.Equal(dpopNow) || p.Algorithm != alg || p.Method != dpopMethod || p.URL != dpopURL {
				t.Errorf("proof %+v", p)
			}
			// The same proof again is a replay.
			_, err = c.Check(context.Background(), proof, defaultRequest())
			wantProofErr(t, err, verify.CheckProofReplay, verify.CodeReplayed)
		})
	}
}

func TestProofChecks(t *testing.T) {
	keys := dpopKeys(t)
	es := keys["ES256"]
	esPriv := es.priv.(*ecdsa.PrivateKey)
	esJWK := publicJWK(t, esPriv.Public())
	edPub := keys["EdDSA"].priv.Public()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	c := proofClaims()
	valid := signProof(t, es, c, proofOpts{})
	parts := strings.Split(valid, ".")
	enc := base64.RawURLEncoding.EncodeToString
	goodHdr := `{"alg":"ES256","typ":"dpop+jwt","jwk":` + esJWK + `}`
	goodPayload, _ := json.Marshal(c)

	tests := []struct {
		name  string
		proof string
		req   func(*verify.ProofRequest)
		cfg   verify.ProofConfig
		check verify.Check
		code  verify.Code
	}{
		{name: "valid", proof: valid},
		{name: "valid without token and ath", proof: signProof(t, es, with(c, "ath", nil), proofOpts{}), req: func(r *verify.ProofRequest) { r.AccessToken = "" }},
		{name: "valid htu with other case and default port", proof: signProof(t, es, with(c, "htu", "HTTPS://API.Example.COM:443/orders/42"), proofOpts{})},
		{name: "valid htu with percent-encoded unreserved", proof: signProof(t, es, with(c, "htu", "https://api.example.com/%6Frders/42"), proofOpts{})},
		{name: "valid request URL with query", proof: valid, req: func(r *verify.ProofRequest) { r.URL = dpopURL + "?page=2#x" }},
		{name: "valid iat within window", proof: signProof(t, es, with(c, "iat", dpopNow.Add(-59*time.Second).Unix()), proofOpts{})},
		{name: "valid iat slightly ahead", proof: signProof(t, es, with(c, "iat", dpopNow.Add(4*time.Second).Unix()), proofOpts{})},
		{name: "valid nonce", proof: signProof(t, es, with(c, "nonce", "n-1"), proofOpts{}), req: func(r *verify.ProofRequest) { r.Nonce = "n-1" }},
		{name: "valid unknown claims and headers", proof: signProof(t, es, with(c, "x", []int{1}), proofOpts{extra: map[jose.HeaderKey]any{"kid": "k"}})},

		{name: "empty", proof: "", check: verify.CheckProof, code: verify.CodeMissing},
		{name: "two proofs", proof: valid + ", " + valid, check: verify.CheckProof, code: verify.CodeMalformed},
		{name: "oversize", proof: valid + strings.Repeat("A", verify.MaxProofBytes), check: verify.CheckProof, code: verify.CodeNotAccepted},
		{name: "two parts", proof: parts[0] + "." + parts[1], check: verify.CheckProofFormat, code: verify.CodeMalformed},
		{name: "four parts", proof: valid + ".e30", check: verify.CheckProofFormat, code: verify.CodeMalformed},
		{name: "padded header", proof: parts[0] + "=." + parts[1] + "." + parts[2], check: verify.CheckProofFormat, code: verify.CodeMalformed},
		{name: "std base64 in payload", proof: parts[0] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(enc([]byte(`{"jti":"??>>"}`))) + "." + parts[2], check: verify.CheckProofFormat, code: verify.CodeMalformed},
		{name: "bad base64 signature", proof: parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + "*", check: verify.CheckProofFormat, code: verify.CodeMalformed},
		{name: "duplicate header member", proof: rawProof(t, esPriv, `{"alg":"ES256","typ":"dpop+jwt","typ":"dpop+jwt","jwk":`+esJWK+`}`, string(goodPayload)), check: verify.CheckProofFormat, code: verify.CodeDuplicateMember},
		{name: "duplicate jwk member", proof: rawProof(t, esPriv, strings.Replace(goodHdr, `"kty":"EC"`, `"kty":"EC","KTY":"EC"`, 1), string(goodPayload)), check: verify.CheckProofFormat, code: verify.CodeDuplicateMember},
		{name: "duplicate claim", proof: rawProof(t, esPriv, goodHdr, strings.TrimSuffix(string(goodPayload), "}")+`,"htm":"GET"}`), check: verify.CheckProofFormat, code: verify.CodeDuplicateMember},
		{name: "payload not an object", proof: rawProof(t, esPriv, goodHdr, `[]`), check: verify.CheckProofFormat, code: verify.CodeMalformed},
		{name: "crit", proof: signProof(t, es, c, proofOpts{extra: map[jose.HeaderKey]any{"crit": []string{"exp"}, "exp": 1}}), check: verify.CheckProofFormat, code: verify.CodeNotAccepted},

		{name: "typ missing", proof: signProof(t, es, c, proofOpts{typ: "-"}), check: verify.CheckProofType, code: verify.CodeMissing},
		{name: "typ JWT", proof: signProof(t, es, c, proofOpts{typ: "JWT"}), check: verify.CheckProofType, code: verify.CodeNotAccepted},
		{name: "typ at+jwt", proof: signProof(t, es, c, proofOpts{typ: "at+jwt"}), check: verify.CheckProofType, code: verify.CodeNotAccepted},
		{name: "typ number", proof: rawProof(t, esPriv, `{"alg":"ES256","typ":1,"jwk":`+esJWK+`}`, string(goodPayload)), check: verify.CheckProofType, code: verify.CodeWrongType},

		{name: "alg none", proof: enc([]byte(`{"alg":"none","typ":"dpop+jwt","jwk":`+esJWK+`}`)) + "." + enc(goodPayload) + ".", check: verify.CheckProofAlgorithm, code: verify.CodeForbiddenAlg},
		{name: "alg HS256", proof: signProof(t, es, c, proofOpts{signer: []byte("0123456789abcdef0123456789abcdef"), alg: jose.HS256, jwk: json.RawMessage(esJWK)}), check: verify.CheckProofAlgorithm, code: verify.CodeForbiddenAlg},
		{name: "alg missing", proof: rawProof(t, esPriv, `{"typ":"dpop+jwt","jwk":`+esJWK+`}`, string(goodPayload)), check: verify.CheckProofAlgorithm, code: verify.CodeMissing},
		{name: "alg not allowed", proof: signProof(t, keys["EdDSA"], c, proofOpts{}), cfg: verify.ProofConfig{Algorithms: []string{"ES256"}}, check: verify.CheckProofAlgorithm, code: verify.CodeNotAccepted},

		{name: "jwk missing", proof: signProof(t, es, c, proofOpts{noJWK: true}), check: verify.CheckProofKey, code: verify.CodeMissing},
		{name: "private EC key in header", proof: signProof(t, es, c, proofOpts{jwk: jose.JSONWebKey{Key: esPriv}}), check: verify.CheckProofKey, code: verify.CodePrivateKey},
		{name: "private RSA key in header", proof: signProof(t, keys["RS256"], c, proofOpts{jwk: jose.JSONWebKey{Key: keys["RS256"].priv}}), check: verify.CheckProofKey, code: verify.CodePrivateKey},
		{name: "symmetric key in header", proof: rawProof(t, esPriv, `{"alg":"ES256","typ":"dpop+jwt","jwk":{"kty":"oct","k":"c2VjcmV0"}}`, string(goodPayload)), check: verify.CheckProofKey, code: verify.CodePrivateKey},
		{name: "jwk of another type", proof: signProof(t, es, c, proofOpts{jwk: jose.JSONWebKey{Key: edPub}}), check: verify.CheckProofKey, code: verify.CodeKeyMismatch},
		{name: "ES256 with a P-384 key", proof: signProof(t, es, c, proofOpts{jwk: jose.JSONWebKey{Key: keys["ES384"].priv.Public()}}), check: verify.CheckProofKey, code: verify.CodeKeyMismatch},
		{name: "jwk alg differs", proof: rawProof(t, esPriv, strings.Replace(goodHdr, `"kty":"EC"`, `"kty":"EC","alg":"ES384"`, 1), string(goodPayload)), check: verify.CheckProofKey, code: verify.CodeKeyMismatch},
		{name: "jwk not an object", proof: rawProof(t, esPriv, `{"alg":"ES256","typ":"dpop+jwt","jwk":"x"}`, string(goodPayload)), check: verify.CheckProofKey, code: verify.CodeMalformed},
		{name: "jwk point off the curve", proof: rawProof(t, esPriv, `{"alg":"ES256","typ":"dpop+jwt","jwk":{"kty":"EC","crv":"P-256","x":"`+enc(make([]byte, 32))+`","y":"`+enc(make([]byte, 32))+`"}}`, string(goodPayload)), check: verify.CheckProofKey, code: verify.CodeMalformed},
		{name: "RSA key of 1024 bits", proof: signProof(t, proofKey{jose.RS256, small}, c, proofOpts{}), check: verify.CheckProofKey, code: verify.CodeNotAccepted},

		{name: "jti missing", proof: signProof(t, es, with(c, "jti", nil), proofOpts{}), check: verify.CheckProofJTI, code: verify.CodeMissing},
		{name: "jti empty", proof: signProof(t, es, with(c, "jti", ""), proofOpts{}), check: verify.CheckProofJTI, code: verify.CodeMissing},
		{name: "jti number", proof: signProof(t, es, with(c, "jti", 7), proofOpts{}), check: verify.CheckProofJTI, code: verify.CodeWrongType},
		{name: "jti too long", proof: signProof(t, es, with(c, "jti", strings.Repeat("j", 257)), proofOpts{}), check: verify.CheckProofJTI, code: verify.CodeNotAccepted},
		{name: "htm missing", proof: signProof(t, es, with(c, "htm", nil), proofOpts{}), check: verify.CheckProofMethod, code: verify.CodeMissing},
		{name: "wrong htm", proof: signProof(t, es, with(c, "htm", "GET"), proofOpts{}), check: verify.CheckProofMethod, code: verify.CodeNotAccepted},
		{name: "htm lower case", proof: signProof(t, es, with(c, "htm", "post"), proofOpts{}), check: verify.CheckProofMethod, code: verify.CodeNotAccepted},
		{name: "htu missing", proof: signProof(t, es, with(c, "htu", nil), proofOpts{}), check: verify.CheckProofURL, code: verify.CodeMissing},
		{name: "wrong htu path", proof: signProof(t, es, with(c, "htu", "https://api.example.com/orders/43"), proofOpts{}), check: verify.CheckProofURL, code: verify.CodeNotAccepted},
		{name: "wrong htu host", proof: signProof(t, es, with(c, "htu", "https://evil.example.com/orders/42"), proofOpts{}), check: verify.CheckProofURL, code: verify.CodeNotAccepted},
		{name: "wrong htu scheme", proof: signProof(t, es, with(c, "htu", "http://api.example.com/orders/42"), proofOpts{}), check: verify.CheckProofURL, code: verify.CodeNotAccepted},
		{name: "wrong htu port", proof: signProof(t, es, with(c, "htu", "https://api.example.com:8443/orders/42"), proofOpts{}), check: verify.CheckProofURL, code: verify.CodeNotAccepted},
		{name: "htu with query", proof: signProof(t, es, with(c, "htu", dpopURL+"?a=1"), proofOpts{}), check: verify.CheckProofURL, code: verify.CodeMalformed},
		{name: "htu with fragment", proof: signProof(t, es, with(c, "htu", dpopURL+"#f"), proofOpts{}), check: verify.CheckProofURL, code: verify.CodeMalformed},
		{name: "htu with userinfo", proof: signProof(t, es, with(c, "htu", "https://u@api.example.com/orders/42"), proofOpts{}), check: verify.CheckProofURL, code: verify.CodeMalformed},
		{name: "htu relative", proof: signProof(t, es, with(c, "htu", "/orders/42"), proofOpts{}), check: verify.CheckProofURL, code: verify.CodeMalformed},
		{name: "htu dot segments escape", proof: signProof(t, es, with(c, "htu", "https://api.example.com/orders/42/../43"), proofOpts{}), check: verify.CheckProofURL, code: verify.CodeNotAccepted},
		{name: "iat missing", proof: signProof(t, es, with(c, "iat", nil), proofOpts{}), check: verify.CheckProofTime, code: verify.CodeMissing},
		{name: "iat string", proof: signProof(t, es, with(c, "iat", "1800000000"), proofOpts{}), check: verify.CheckProofTime, code: verify.CodeWrongType},
		{name: "stale iat", proof: signProof(t, es, with(c, "iat", dpopNow.Add(-61*time.Second).Unix()), proofOpts{}), check: verify.CheckProofTime, code: verify.CodeExpired},
		{name: "future iat", proof: signProof(t, es, with(c, "iat", dpopNow.Add(6*time.Second).Unix()), proofOpts{}), check: verify.CheckProofTime, code: verify.CodeInFuture},
		{name: "stale iat, longer window", proof: signProof(t, es, with(c, "iat", dpopNow.Add(-61*time.Second).Unix()), proofOpts{}), cfg: verify.ProofConfig{Window: 2 * time.Minute}},
		{name: "ath missing", proof: signProof(t, es, with(c, "ath", nil), proofOpts{}), check: verify.CheckProofATH, code: verify.CodeMissing},
		{name: "wrong ath", proof: valid, req: func(r *verify.ProofRequest) { r.AccessToken = dpopToken + "x" }, check: verify.CheckProofATH, code: verify.CodeNotAccepted},
		{name: "ath of padded hash", proof: signProof(t, es, with(c, "ath", c["ath"].(string)+"="), proofOpts{}), check: verify.CheckProofATH, code: verify.CodeNotAccepted},
		{name: "nonce required, missing", proof: valid, req: func(r *verify.ProofRequest) { r.Nonce = "n-1" }, check: verify.CheckProofNonce, code: verify.CodeMissing},
		{name: "nonce required, wrong", proof: signProof(t, es, with(c, "nonce", "n-0"), proofOpts{}), req: func(r *verify.ProofRequest) { r.Nonce = "n-1" }, check: verify.CheckProofNonce, code: verify.CodeNotAccepted},
		{name: "bad signature", proof: parts[0] + "." + parts[1] + "." + enc(make([]byte, 64)), check: verify.CheckProofSignature, code: verify.CodeBadSignature},
		{name: "signed by another key", proof: signProof(t, keys["ES256"], c, proofOpts{jwk: jose.JSONWebKey{Key: testkit.ES256Key("other").Public()}}), check: verify.CheckProofSignature, code: verify.CodeBadSignature},
		{name: "payload swapped", proof: parts[0] + "." + enc([]byte(strings.Replace(string(goodPayload), "e1j3V", "zzzzz", 1))) + "." + parts[2], check: verify.CheckProofSignature, code: verify.CodeBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := newChecker(t, tt.cfg)
			req := defaultRequest()
			if tt.req != nil {
				tt.req(&req)
			}
			p, err := ch.Check(context.Background(), tt.proof, req)
			if tt.check == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				if p == nil || p.JKT == "" {
					t.Fatalf("accepted without a proof: %+v", p)
				}
				return
			}
			if p != nil {
				t.Errorf("refused with a proof %+v", p)
			}
			wantProofErr(t, err, tt.check, tt.code)
		})
	}
}

// failingCache records nothing and says so.
type failingCache struct{ calls atomic.Int64 }

func (f *failingCache) UseOnce(context.Context, string, time.Time) (bool, error) {
	f.calls.Add(1)
	return false, errors.New("down")
}

// TestProofReplayCacheOrder: the replay cache is consulted only for
// proofs with a valid signature, and a failing cache refuses the proof.
func TestProofReplayCacheOrder(t *testing.T) {
	es := dpopKeys(t)["ES256"]
	fc := &failingCache{}
	c := newChecker(t, verify.ProofConfig{Replay: fc})
	valid := signProof(t, es, proofClaims(), proofOpts{})
	forged := valid[:strings.LastIndexByte(valid, '.')+1] + base64.RawURLEncoding.EncodeToString(make([]byte, 64))
	_, err := c.Check(context.Background(), forged, defaultRequest())
	wantProofErr(t, err, verify.CheckProofSignature, verify.CodeBadSignature)
	if fc.calls.Load() != 0 {
		t.Fatal("the replay cache was consulted for a forged proof")
	}
	_, err = c.Check(context.Background(), valid, defaultRequest())
	ve := wantCheck(t, err, verify.CheckProofReplay)
	if ve.Code != verify.CodeReplayCheckFailed || ve.Err == nil {
		t.Errorf("error %+v", ve)
	}
}

// TestProofReplayKeyedByKey: the same jti from two keys is two proofs;
// from one key, whatever the request, a replay.
func TestProofReplayKeyedByKey(t *testing.T) {
	keys := dpopKeys(t)
	c := newChecker(t, verify.ProofConfig{})
	ctx := context.Background()
	for _, alg := range []string{"ES256", "EdDSA"} {
		if _, err := c.Check(ctx, signProof(t, keys[alg], proofClaims(), proofOpts{}), defaultRequest()); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
	}
	get := with(proofClaims(), "htm", "GET", "iat", dpopNow.Unix()-1)
	_, err := c.Check(ctx, signProof(t, keys["ES256"], get, proofOpts{}), verify.ProofRequest{Method: "GET", URL: dpopURL, AccessToken: dpopToken})
	wantProofErr(t, err, verify.CheckProofReplay, verify.CodeReplayed)
}

func TestMemoryReplayCache(t *testing.T) {
	now := dpopNow
	clock := func() time.Time { return now }
	c := verify.NewMemoryReplayCacheClock(2, clock)
	ctx := context.Background()
	use := func(key string, ttl time.Duration) (bool, error) {
		return c.UseOnce(ctx, key, now.Add(ttl))
	}
	mustFirst := func(key string, ttl time.Duration, want bool) {
		t.Helper()
		first, err := use(key, ttl)
		if err != nil || first != want {
			t.Fatalf("UseOnce(%s) = %v, %v; want %v", key, first, err, want)
		}
	}
	mustFirst("a", time.Minute, true)
	mustFirst("a", time.Minute, false)
	mustFirst("b", 2*time.Minute, true)
	// Full of live entries: fail closed.
	if _, err := use("c", time.Minute); !errors.Is(err, verify.ErrReplayCacheFull) {
		t.Fatalf("full cache: %v", err)
	}
	// a expires; c fits, b is still remembered.
	now = now.Add(61 * time.Second)
	mustFirst("c", time.Minute, true)
	mustFirst("b", time.Minute, false)
	// Everything expired: the cache is empty again.
	now = now.Add(200 * time.Second)
	mustFirst("a", time.Minute, true)
	if c.Len() != 1 {
		t.Errorf("Len %d after expiry, want 1", c.Len())
	}
}

func TestMemoryReplayCacheConcurrent(t *testing.T) {
	c := verify.NewMemoryReplayCache(1000)
	var firsts atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				first, err := c.UseOnce(context.Background(), "k"+string(rune('a'+i%26)), time.Now().Add(time.Minute))
				if err != nil {
					t.Error(err)
					return
				}
				if first {
					firsts.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if firsts.Load() != 26 {
		t.Errorf("%d firsts, want 26", firsts.Load())
	}
}

func TestNewProofCheckerConfig(t *testing.T) {
	rc := verify.NewMemoryReplayCache(10)
	for _, cfg := range []verify.ProofConfig{
		{},
		{Replay: rc, Algorithms: []string{"none"}},
		{Replay: rc, Algorithms: []string{"HS256"}},
		{Replay: rc, Algorithms: []string{"ES512"}},
		{Replay: rc, Window: -time.Second},
		{Replay: rc, Window: time.Hour},
		{Replay: rc, Window: time.Second, Leeway: 2 * time.Second},
	} {
		if _, err := verify.NewProofChecker(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	c, err := verify.NewProofChecker(verify.ProofConfig{Replay: rc})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Algorithms(), " "); got != "ES256 ES384 EdDSA RS256 PS256" {
		t.Errorf("default algorithms %s", got)
	}
}

func TestThumbprint(t *testing.T) {
	// RFC 7638 §3.1.
	const rfc7638 = `{
     "kty": "RSA",
     "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
     "e": "AQAB",
     "alg": "RS256",
     "kid": "2011-04-29"
    }`
	got, err := verify.Thumbprint([]byte(rfc7638))
	if err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("RFC 7638 example: %s, %v", got, err)
	}
	// Every key type agrees with go-jose, from JSON and from the key.
	for alg, k := range dpopKeys(t) {
		pub := k.priv.Public()
		want, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		w := base64.RawURLEncoding.EncodeToString(want)
		if got, err := verify.Thumbprint([]byte(publicJWK(t, pub))); err != nil || got != w {
			t.Errorf("%s: Thumbprint %s, %v; want %s", alg, got, err, w)
		}
		if got, err := verify.ThumbprintKey(pub); err != nil || got != w {
			t.Errorf("%s: ThumbprintKey %s, %v; want %s", alg, got, err, w)
		}
	}
	for _, bad := range []string{
		`{"kty":"RSA","e":"AQAB"}`,
		`{"kty":"oct","k":"c2VjcmV0"}`,
		`{"kty":"EC","crv":"P-256","x":"a+b","y":"AA"}`,
		`{"kty":"RSA","n":"AQAB","e":"AQAB","n":"AQAB"}`,
		`{"kty":"RSA","n":1,"e":"AQAB"}`,
		`[]`,
	} {
		if got, err := verify.Thumbprint([]byte(bad)); err == nil {
			t.Errorf("Thumbprint(%s) = %s", bad, got)
		}
	}
}
