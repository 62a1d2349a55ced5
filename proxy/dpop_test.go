package proxy_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/verify"
)

// dpopEnv is a proxy whose verifier checks DPoP proofs on the issuer's
// clock, and a client key.
type dpopEnv struct {
	*env
	testkit.DPoPKey
}

func newDPoPEnv(t *testing.T, required bool) *dpopEnv {
	t.Helper()
	k := testkit.ES256Key("k1")
	iss := testkit.NewIssuer(t, k)
	pc, err := verify.NewProofChecker(verify.ProofConfig{Clock: iss.Clock.Now,
		Replay: verify.NewMemoryReplayCacheClock(1000, iss.Clock.Now)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(context.Background(), verify.Config{Issuer: iss.URL, Audience: api, Clock: iss.Clock.Now,
		DPoP: pc, RequireDPoP: required})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{iss: iss, key: k, v: v, up: newUpstream(t), logs: &syncBuffer{}}
	e.h, err = proxy.New(proxy.Config{Verifier: v, Upstream: e.up.url(t), Scopes: []string{"orders:read"}, Realm: api,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), PublicURL: "https://api.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return &dpopEnv{env: e, DPoPKey: testkit.NewDPoPKey()}
}

// bound is an access token bound to the client's key.
func (d *dpopEnv) bound() string {
	return d.iss.Active().Sign(d.iss.Claims(client, "orders:read", client, api).With("cnf", map[string]any{"jkt": d.JKT}))
}

// proof is a proof by key for htm, htu and the token's ath, on the
// issuer's clock.
func (d *dpopEnv) proof(_ *testing.T, key testkit.DPoPKey, htm, htu, token string, edit func(map[string]any)) string {
	return key.Proof(htm, htu, d.iss.Clock.Now(), token, edit)
}

func dpopGet(path, scheme, token, proof string) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Authorization", scheme+" "+token)
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}

// TestDPoP (issue 15): a bound token with a proof by its key reaches the
// upstream, which sees neither the proof nor the token; every bad proof,
// and the bound token as Bearer, is refused with RFC 9449's error and
// challenge, the upstream never reached.
func TestDPoP(t *testing.T) {
	d := newDPoPEnv(t, false)
	const u = "https://api.example.com/orders/42"
	tok := d.bound()
	w := d.serve(dpopGet("/orders/42", "DPoP", tok, d.proof(t, d.DPoPKey, "GET", u, tok, nil)))
	if w.Code != http.StatusOK {
		t.Fatalf("a bound token with its proof: %d %s %v", w.Code, w.Body, w.Header())
	}
	h, _, _ := d.up.last()
	if h.Get("DPoP") != "" || h.Get("Authorization") != "" || h.Get("X-Gatehouse-Subject") == "" {
		t.Errorf("the upstream saw %v", h)
	}
	hits := d.up.hits.Load()

	other := testkit.NewDPoPKey()
	replayed := d.proof(t, d.DPoPKey, "GET", u, tok, nil)
	d.serve(dpopGet("/orders/42", "DPoP", tok, replayed))
	hits++
	now := d.iss.Clock.Now().Unix()
	pubMap, privMap := d.PublicJWK(), d.PrivateJWK()
	sum := sha256.Sum256([]byte(tok))
	claims := map[string]any{"jti": rand.Text(), "htm": "GET", "htu": u, "iat": now, "ath": base64.RawURLEncoding.EncodeToString(sum[:])}
	esSign := d.ES256Raw
	jws := func(hdr map[string]any, sign func([]byte) []byte) string {
		return testkit.HandMadeJWS(hdr, claims, sign)
	}
	for name, tc := range map[string]struct {
		scheme, proof, want string
	}{
		"as Bearer":    {"Bearer", "", `error="invalid_token"`},
		"no proof":     {"DPoP", "", `error="invalid_dpop_proof"`},
		"wrong htm":    {"DPoP", d.proof(t, d.DPoPKey, "POST", u, tok, nil), `error="invalid_dpop_proof"`},
		"wrong htu":    {"DPoP", d.proof(t, d.DPoPKey, "GET", "https://api.example.com/orders/43", tok, nil), `error="invalid_dpop_proof"`},
		"internal htu": {"DPoP", d.proof(t, d.DPoPKey, "GET", "http://example.com/orders/42", tok, nil), `error="invalid_dpop_proof"`},
		"stale iat":    {"DPoP", d.proof(t, d.DPoPKey, "GET", u, tok, func(c map[string]any) { c["iat"] = now - 600 }), `error="invalid_dpop_proof"`},
		"future iat":   {"DPoP", d.proof(t, d.DPoPKey, "GET", u, tok, func(c map[string]any) { c["iat"] = now + 600 }), `error="invalid_dpop_proof"`},
		"replayed jti": {"DPoP", replayed, `error="invalid_dpop_proof"`},
		"another key":  {"DPoP", d.proof(t, other, "GET", u, tok, nil), `error="invalid_dpop_proof"`},
		"missing ath":  {"DPoP", d.proof(t, d.DPoPKey, "GET", u, tok, func(c map[string]any) { delete(c, "ath") }), `error="invalid_dpop_proof"`},
		"wrong ath":    {"DPoP", d.proof(t, d.DPoPKey, "GET", u, tok, func(c map[string]any) { c["ath"] = "x" }), `error="invalid_dpop_proof"`},
		"private key":  {"DPoP", jws(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": privMap}, esSign), `error="invalid_dpop_proof"`},
		"alg none":     {"DPoP", jws(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": pubMap}, nil), `error="invalid_dpop_proof"`},
		"HMAC": {"DPoP", jws(map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}},
			func(in []byte) []byte { m := hmac.New(sha256.New, []byte("secret")); m.Write(in); return m.Sum(nil) }), `error="invalid_dpop_proof"`},
	} {
		w := d.serve(dpopGet("/orders/42", tc.scheme, tok, tc.proof))
		challenges := strings.Join(w.Header().Values("WWW-Authenticate"), " | ")
		if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "DPoP ") || !strings.Contains(challenges, tc.want) {
			t.Errorf("%s: %d %s", name, w.Code, challenges)
		}
	}
	if d.up.hits.Load() != hits {
		t.Errorf("the upstream was reached by a refused request")
	}
}

// TestDPoPRequired: with --dpop required an unbound token is refused even
// with a proof, and a Bearer request gets only the DPoP challenge.
func TestDPoPRequired(t *testing.T) {
	d := newDPoPEnv(t, true)
	plain := d.token("orders:read")
	for name, r := range map[string]*http.Request{
		"Bearer":                    get("/orders/42", plain),
		"an unbound token via DPoP": dpopGet("/orders/42", "DPoP", plain, d.proof(t, d.DPoPKey, "GET", "https://api.example.com/orders/42", plain, nil)),
	} {
		w := d.serve(r)
		if w.Code != http.StatusUnauthorized || len(w.Header().Values("WWW-Authenticate")) != 1 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "DPoP ") {
			t.Errorf("%s: %d %v", name, w.Code, w.Header().Values("WWW-Authenticate"))
		}
	}
	tok := d.bound()
	if w := d.serve(dpopGet("/orders/42", "DPoP", tok, d.proof(t, d.DPoPKey, "GET", "https://api.example.com/orders/42", tok, nil))); w.Code != http.StatusOK {
		t.Errorf("bound with proof: %d %v", w.Code, w.Header())
	}
}
