package verify_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

// boundEnv is an issuer, a verifier with a ProofChecker on the issuer's
// clock, and a client DPoP key.
type boundEnv struct {
	*env
	client proofKey
	jkt    string
	replay *countingCache
}

// countingCache is a memory replay cache that counts its uses.
type countingCache struct {
	*verify.MemoryReplayCache
	calls int
}

func (c *countingCache) UseOnce(ctx context.Context, key string, exp time.Time) (bool, error) {
	c.calls++
	return c.MemoryReplayCache.UseOnce(ctx, key, exp)
}

func newBoundEnv(t *testing.T, opts ...func(*verify.Config)) *boundEnv {
	t.Helper()
	var be boundEnv
	k := testkit.ES256Key("k1")
	iss := testkit.NewIssuer(t, k)
	be.replay = &countingCache{MemoryReplayCache: verify.NewMemoryReplayCacheClock(100, iss.Clock.Now)}
	pc, err := verify.NewProofChecker(verify.ProofConfig{Replay: be.replay, Clock: iss.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := verify.Config{Issuer: iss.URL, Audience: api, Clock: iss.Clock.Now, DPoP: pc}
	for _, o := range opts {
		o(&cfg)
	}
	v, err := verify.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	be.env = &env{t: t, iss: iss, key: k, v: v}
	be.client = dpopKeys(t)["EdDSA"]
	tp, err := (&jose.JSONWebKey{Key: be.client.priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	be.jkt = base64.RawURLEncoding.EncodeToString(tp)
	return &be
}

// token signs claims with the issuer's key using go-jose.
func (be *boundEnv) token(claims map[string]any) string {
	be.t.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", be.key.KID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: be.key.Signer}, opts)
	if err != nil {
		be.t.Fatal(err)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		be.t.Fatal(err)
	}
	jws, err := s.Sign(b)
	if err != nil {
		be.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		be.t.Fatal(err)
	}
	return out
}

// bound returns a token bound to the client's key.
func (be *boundEnv) bound() string {
	return be.token(be.claims().With("cnf", map[string]any{"jkt": be.jkt}))
}

// proof returns the client's proof for token, with jti.
func (be *boundEnv) proof(k proofKey, token, jti string) string {
	sum := sha256.Sum256([]byte(token))
	return signProof(be.t, k, map[string]any{
		"jti": jti, "htm": "GET", "htu": "https://api.example.com/orders",
		"iat": be.iss.Clock.Now().Unix(), "ath": base64.RawURLEncoding.EncodeToString(sum[:]),
	}, proofOpts{})
}

var boundReq = verify.ProofRequest{Method: "GET", URL: "https://api.example.com/orders"}

func TestVerifyDPoP(t *testing.T) {
	be := newBoundEnv(t)
	ctx := context.Background()
	tok := be.bound()
	c, p, err := be.v.VerifyDPoP(ctx, tok, be.proof(be.client, tok, "1"), boundReq, "orders:read")
	if err != nil {
		t.Fatal(err)
	}
	if c.JKT() != be.jkt || p.JKT != be.jkt || c.Confirmation.JKT != be.jkt {
		t.Errorf("claims jkt %q, proof jkt %q, want %q", c.JKT(), p.JKT, be.jkt)
	}

	// Each refusal names its check; DPoPError sorts proof failures from
	// token failures.
	other := dpopKeys(t)["ES256"]
	unbound := be.token(be.claims())
	expired := be.token(be.claims().With("exp", be.iss.Clock.Now().Add(-time.Hour).Unix()).With("cnf", map[string]any{"jkt": be.jkt}))
	tests := []struct {
		name, token, proof string
		scopes             []string
		check              verify.Check
		code               verify.Code
		dpopErr            string
	}{
		{name: "proof by another key", token: tok, proof: be.proof(other, tok, "2"), check: verify.CheckProofBinding, code: verify.CodeKeyMismatch, dpopErr: verify.DPoPInvalidProof},
		{name: "proof for another token", token: tok, proof: be.proof(be.client, unbound, "3"), check: verify.CheckProofATH, code: verify.CodeNotAccepted, dpopErr: verify.DPoPInvalidProof},
		{name: "proof replayed", token: tok, proof: be.proof(be.client, tok, "1"), check: verify.CheckProofReplay, code: verify.CodeReplayed, dpopErr: verify.DPoPInvalidProof},
		{name: "no proof", token: tok, proof: "", check: verify.CheckProof, code: verify.CodeMissing, dpopErr: verify.DPoPInvalidProof},
		{name: "unbound token", token: unbound, proof: be.proof(be.client, unbound, "4"), check: verify.CheckConfirmation, code: verify.CodeUnbound},
		{name: "expired bound token", token: expired, proof: be.proof(be.client, expired, "5"), check: verify.CheckExpiry, code: verify.CodeExpired},
		{name: "missing scope", token: tok, proof: be.proof(be.client, tok, "6"), scopes: []string{"orders:write"}, check: verify.CheckScope},
		{name: "invalid proof before missing scope", token: tok, proof: be.proof(other, tok, "7"), scopes: []string{"orders:write"}, check: verify.CheckProofBinding, dpopErr: verify.DPoPInvalidProof},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p, err := be.v.VerifyDPoP(ctx, tt.token, tt.proof, boundReq, tt.scopes...)
			if c != nil || p != nil {
				t.Errorf("refused with claims %v, proof %v", c, p)
			}
			ve := wantCheck(t, err, tt.check)
			if tt.code != "" && ve.Code != tt.code {
				t.Errorf("code %s, want %s", ve.Code, tt.code)
			}
			if ve.DPoPError() != tt.dpopErr {
				t.Errorf("DPoPError %q, want %q", ve.DPoPError(), tt.dpopErr)
			}
		})
	}
}

// TestVerifyDPoPTokenFirst: a proof that comes with a refused token uses
// up no jti, so the client can retry with the same proof's jti.
func TestVerifyDPoPTokenFirst(t *testing.T) {
	be := newBoundEnv(t)
	tok := be.token(be.claims().With("aud", "other-api").With("cnf", map[string]any{"jkt": be.jkt}))
	_, _, err := be.v.VerifyDPoP(context.Background(), tok, be.proof(be.client, tok, "1"), boundReq)
	wantCheck(t, err, verify.CheckAudience)
	if be.replay.calls != 0 {
		t.Errorf("the replay cache was used %d times for a refused token", be.replay.calls)
	}
}

func TestBoundTokenAsBearer(t *testing.T) {
	ctx := context.Background()
	t.Run("refused by default", func(t *testing.T) {
		be := newBoundEnv(t)
		_, err := be.v.Verify(ctx, be.bound())
		ve := wantCheck(t, err, verify.CheckConfirmation)
		if ve.Code != verify.CodeBoundAsBearer || ve.DPoPError() != "" || !strings.Contains(ve.Description(), "DPoP") {
			t.Errorf("error %+v, description %q", ve, ve.Description())
		}
		// An unbound token is still a bearer token.
		if _, err := be.v.Verify(ctx, be.token(be.claims())); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("accepted for the issuer", func(t *testing.T) {
		be := newBoundEnv(t, func(c *verify.Config) { c.AcceptBoundAsBearer = true })
		c, err := be.v.Verify(ctx, be.bound())
		if err != nil {
			t.Fatal(err)
		}
		if c.JKT() != be.jkt {
			t.Errorf("JKT %q", c.JKT())
		}
	})
	t.Run("RequireDPoP refuses every bearer token", func(t *testing.T) {
		be := newBoundEnv(t, func(c *verify.Config) { c.RequireDPoP = true })
		_, err := be.v.Verify(ctx, be.token(be.claims()))
		if ve := wantCheck(t, err, verify.CheckConfirmation); ve.Code != verify.CodeUnbound {
			t.Errorf("unbound: code %s", ve.Code)
		}
		_, err = be.v.Verify(ctx, be.bound())
		if ve := wantCheck(t, err, verify.CheckConfirmation); ve.Code != verify.CodeBoundAsBearer {
			t.Errorf("bound: code %s", ve.Code)
		}
		tok := be.bound()
		if _, _, err := be.v.VerifyDPoP(ctx, tok, be.proof(be.client, tok, "1"), boundReq); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("explain", func(t *testing.T) {
		be := newBoundEnv(t)
		x := be.v.Explain(ctx, be.bound())
		for _, s := range x.Steps {
			if s.Check == verify.CheckConfirmation && (s.OK || s.Hint == "") {
				t.Errorf("cnf step %+v", s)
			}
		}
		if x.Accepted() {
			t.Error("Explain accepts a bound token")
		}
	})
}

// TestBoundTokenCache: a bound token cached by VerifyDPoP is still refused
// by Verify, and a second VerifyDPoP from the cache still checks the proof.
func TestBoundTokenCache(t *testing.T) {
	be := newBoundEnv(t, func(c *verify.Config) { c.CacheSize = 16 })
	ctx := context.Background()
	tok := be.bound()
	if _, _, err := be.v.VerifyDPoP(ctx, tok, be.proof(be.client, tok, "1"), boundReq); err != nil {
		t.Fatal(err)
	}
	if verify.CacheLen(be.v) != 1 {
		t.Fatalf("cache holds %d tokens, want 1", verify.CacheLen(be.v))
	}
	_, err := be.v.Verify(ctx, tok)
	if ve := wantCheck(t, err, verify.CheckConfirmation); ve.Code != verify.CodeBoundAsBearer {
		t.Errorf("code %s", ve.Code)
	}
	_, _, err = be.v.VerifyDPoP(ctx, tok, be.proof(dpopKeys(t)["ES256"], tok, "2"), boundReq)
	wantCheck(t, err, verify.CheckProofBinding)
	_, _, err = be.v.VerifyDPoP(ctx, tok, be.proof(be.client, tok, "1"), boundReq)
	wantCheck(t, err, verify.CheckProofReplay)
	if _, _, err := be.v.VerifyDPoP(ctx, tok, be.proof(be.client, tok, "3"), boundReq); err != nil {
		t.Fatal(err)
	}
	// And an unbound token cached by Verify is refused by VerifyDPoP.
	unbound := be.token(be.claims())
	if _, err := be.v.Verify(ctx, unbound); err != nil {
		t.Fatal(err)
	}
	_, _, err = be.v.VerifyDPoP(ctx, unbound, be.proof(be.client, unbound, "4"), boundReq)
	if ve := wantCheck(t, err, verify.CheckConfirmation); ve.Code != verify.CodeUnbound {
		t.Errorf("code %s", ve.Code)
	}
}

func TestConfirmationClaim(t *testing.T) {
	be := newBoundEnv(t)
	ctx := context.Background()
	tests := []struct {
		name string
		cnf  any
		code verify.Code
	}{
		{"cnf a string", "x", verify.CodeWrongType},
		{"cnf an array", []string{be.jkt}, verify.CodeWrongType},
		{"cnf null", nil, verify.CodeWrongType},
		{"cnf empty", map[string]any{}, verify.CodeMissing},
		{"jkt a number", map[string]any{"jkt": 1}, verify.CodeWrongType},
		{"jkt not a thumbprint", map[string]any{"jkt": "abc"}, verify.CodeMalformed},
		{"jkt padded", map[string]any{"jkt": be.jkt + "="}, verify.CodeMalformed},
		{"mTLS binding", map[string]any{"x5t#S256": be.jkt}, verify.CodeNotAccepted},
		{"jkt and mTLS binding", map[string]any{"jkt": be.jkt, "x5t#S256": be.jkt}, verify.CodeNotAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := be.token(be.claims().With("cnf", tt.cnf))
			_, err := be.v.Verify(ctx, tok)
			if ve := wantCheck(t, err, verify.CheckConfirmation); ve.Code != tt.code {
				t.Errorf("Verify: code %s, want %s", ve.Code, tt.code)
			}
			_, _, err = be.v.VerifyDPoP(ctx, tok, be.proof(be.client, tok, tt.name), boundReq)
			if ve := wantCheck(t, err, verify.CheckConfirmation); ve.Code != tt.code {
				t.Errorf("VerifyDPoP: code %s, want %s", ve.Code, tt.code)
			}
		})
	}
	// Duplicate jkt members are a format error, as everywhere.
	tok := be.raw(be.hdr(), be.payload("cnf", `{"jkt":"`+be.jkt+`","jkt":"`+be.jkt+`"}`))
	_, err := be.v.Verify(ctx, tok)
	if ve := wantCheck(t, err, verify.CheckFormat); ve.Code != verify.CodeDuplicateMember {
		t.Errorf("code %s", ve.Code)
	}
}

func TestDPoPConfig(t *testing.T) {
	k := testkit.ES256Key("k1")
	pc, err := verify.NewProofChecker(verify.ProofConfig{Replay: verify.NewMemoryReplayCache(10)})
	if err != nil {
		t.Fatal(err)
	}
	base := verify.Config{Issuer: "https://id.example.com", Audience: api, StaticJWKS: testkit.JWKS(k)}
	for name, mod := range map[string]func(*verify.Config){
		"RequireDPoP without DPoP":             func(c *verify.Config) { c.RequireDPoP = true },
		"RequireDPoP with AcceptBoundAsBearer": func(c *verify.Config) { c.RequireDPoP, c.DPoP, c.AcceptBoundAsBearer = true, pc, true },
	} {
		cfg := base
		mod(&cfg)
		if _, err := verify.New(context.Background(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	v, err := verify.New(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = v.VerifyDPoP(context.Background(), "a.b.c", "p", boundReq)
	var ve *verify.Error
	if err == nil || errors.As(err, &ve) {
		t.Errorf("VerifyDPoP without DPoP: %v", err)
	}
}
