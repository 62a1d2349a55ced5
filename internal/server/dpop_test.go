package server_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// dpopKey is a client's DPoP key; its proofs are made by go-jose
// (testkit.DPoPKey), dated now.
type dpopKey struct{ testkit.DPoPKey }

func newDPoPKey(testing.TB) dpopKey { return dpopKey{testkit.NewDPoPKey()} }

func (k dpopKey) proof(_ testing.TB, htm, htu string, edit func(map[string]any)) string {
	return k.Proof(htm, htu, time.Now(), "", edit)
}

// dpopToken posts a token request with the given DPoP headers.
func dpopToken(t *testing.T, e *env, auth string, form url.Values, proofs ...string) (map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m, resp.Header
}

var ccForm = url.Values{"grant_type": {"client_credentials"}, "resource": {"order-status-api"}}

// TestDPoPTokenEndpoint (issue 15): a proof by an independent library binds
// the token (cnf.jkt, token_type DPoP, introspection's cnf); every bad proof
// is refused with invalid_dpop_proof and issues nothing.
func TestDPoPTokenEndpoint(t *testing.T) {
	e := start(t)
	if algs, _ := json.Marshal(discovery(t, e)["dpop_signing_alg_values_supported"]); string(algs) != `["ES256","ES384","EdDSA","RS256","PS256"]` {
		t.Errorf("discovery: dpop_signing_alg_values_supported %s", algs)
	}
	k := newDPoPKey(t)
	htu := e.srv.URL + "/token"
	auth := basic("order-sync-job", "sync-job-secret-change-me")
	r, _ := dpopToken(t, e, auth, ccForm, k.proof(t, "POST", htu, nil))
	if r["token_type"] != "DPoP" {
		t.Fatalf("token response: %v", r)
	}
	c, _ := claimsFromJWKS(t, e, r["access_token"].(string))
	if cnf, _ := c["cnf"].(map[string]any); cnf["jkt"] != k.JKT {
		t.Errorf("cnf: %v, want jkt %s", c["cnf"], k.JKT)
	}
	intro := postForm(t, e, "/introspect", basic("order-status-api", "order-status-api-secret"), url.Values{"token": {r["access_token"].(string)}})
	var ir map[string]any
	json.NewDecoder(intro.Body).Decode(&ir)
	if cnf, _ := ir["cnf"].(map[string]any); ir["active"] != true || ir["token_type"] != "DPoP" || cnf["jkt"] != k.JKT {
		t.Errorf("introspection: %v", ir)
	}
	// Without a proof the same request gets a Bearer token.
	if r := tokenRequest(t, e, auth, ccForm); r["token_type"] != "Bearer" {
		t.Errorf("without a proof: %v", r)
	}

	replayed := k.proof(t, "POST", htu, nil)
	dpopToken(t, e, auth, ccForm, replayed)
	pubMap, privMap := k.PublicJWK(), k.PrivateJWK()
	now := time.Now().Unix()
	claims := map[string]any{"jti": rand.Text(), "htm": "POST", "htu": htu, "iat": now}
	esSign := k.ES256Raw
	handMade := testkit.HandMadeJWS
	for name, proofs := range map[string][]string{
		"wrong htm":     {k.proof(t, "GET", htu, nil)},
		"wrong htu":     {k.proof(t, "POST", e.srv.URL+"/introspect", nil)},
		"stale iat":     {k.proof(t, "POST", htu, func(c map[string]any) { c["iat"] = now - 600 })},
		"future iat":    {k.proof(t, "POST", htu, func(c map[string]any) { c["iat"] = now + 600 })},
		"replayed jti":  {replayed},
		"two proofs":    {k.proof(t, "POST", htu, nil), k.proof(t, "POST", htu, nil)},
		"not a JWS":     {"not-a-proof"},
		"private key":   {handMade(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": privMap}, claims, esSign)},
		"alg none":      {handMade(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": pubMap}, claims, nil)},
		"wrong typ":     {handMade(map[string]any{"typ": "JWT", "alg": "ES256", "jwk": pubMap}, claims, esSign)},
		"no jwk":        {handMade(map[string]any{"typ": "dpop+jwt", "alg": "ES256"}, claims, esSign)},
		"bad signature": {handMade(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": pubMap}, claims, func([]byte) []byte { return make([]byte, 64) })},
		"HMAC": {handMade(map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}, claims,
			func(in []byte) []byte { m := hmac.New(sha256.New, []byte("secret")); m.Write(in); return m.Sum(nil) })},
	} {
		r, _ := dpopToken(t, e, auth, ccForm, proofs...)
		if r["error"] != "invalid_dpop_proof" || r["access_token"] != nil {
			t.Errorf("%s: %v", name, r)
		}
	}
}

// TestDPoPBoundClient: a client with dpop_bound_access_tokens gets nothing
// without a proof.
func TestDPoPBoundClient(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Client("order-sync-job").DPoPBoundAccessTokens = true })
	auth := basic("order-sync-job", "sync-job-secret-change-me")
	if r := tokenRequest(t, e, auth, ccForm); r["error"] != "invalid_request" || !strings.Contains(r["error_description"].(string), "DPoP") {
		t.Errorf("without a proof: %v", r)
	}
	k := newDPoPKey(t)
	if r, _ := dpopToken(t, e, auth, ccForm, k.proof(t, "POST", e.srv.URL+"/token", nil)); r["token_type"] != "DPoP" {
		t.Errorf("with a proof: %v", r)
	}
}

// TestDPoPPublicClient (RFC 9449 §5 and §10): dpop_jkt binds the code; the
// public client's refresh tokens are bound to the key that redeemed it.
func TestDPoPPublicClient(t *testing.T) {
	e := start(t)
	k, other := newDPoPKey(t), newDPoPKey(t)
	htu := e.srv.URL + "/token"
	verifier := oauth2.GenerateVerifier()
	q := spaSignIn(t, e, "alice", "alice-password-1", verifier, url.Values{"dpop_jkt": {k.JKT}})
	redeem := url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {q.Get("code")},
		"redirect_uri": {"http://127.0.0.1:3000/spa"}, "code_verifier": {verifier}}
	if r, _ := dpopToken(t, e, "", redeem, other.proof(t, "POST", htu, nil)); r["error"] != "invalid_grant" {
		t.Fatalf("a code bound by dpop_jkt, redeemed with another key: %v", r)
	}
	r, _ := dpopToken(t, e, "", redeem, k.proof(t, "POST", htu, nil))
	if r["token_type"] != "DPoP" || r["refresh_token"] == nil {
		t.Fatalf("redeemed with its key: %v", r)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {r["refresh_token"].(string)}}
	if r := tokenRequest(t, e, "", refresh); r["error"] != "invalid_grant" {
		t.Errorf("a bound refresh token without a proof: %v", r)
	}
	if r, _ := dpopToken(t, e, "", refresh, other.proof(t, "POST", htu, nil)); r["error"] != "invalid_grant" {
		t.Errorf("a bound refresh token with another key's proof: %v", r)
	}
	r2, _ := dpopToken(t, e, "", refresh, k.proof(t, "POST", htu, nil))
	c, _ := claimsFromJWKS(t, e, r2["access_token"].(string))
	if cnf, _ := c["cnf"].(map[string]any); r2["token_type"] != "DPoP" || cnf["jkt"] != k.JKT {
		t.Errorf("refresh with its key: %v", r2)
	}
	// UserInfo is a protected resource: the bound token only with DPoP.
	at := r2["access_token"].(string)
	sum := sha256.Sum256([]byte(at))
	ath := func(c map[string]any) { c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:]) }
	ui := e.srv.URL + "/userinfo"
	for name, tc := range map[string]struct {
		scheme, proof string
		status        int
		want          string
	}{
		"DPoP with a proof by its key": {"DPoP", k.proof(t, "GET", ui, ath), 200, `"sub":"alice"`},
		"as Bearer":                    {"Bearer", "", 401, `DPoP algs="ES256 ES384 EdDSA RS256 PS256", realm="` + e.srv.URL + `", error="invalid_token"`},
		"a proof by another key":       {"DPoP", other.proof(t, "GET", ui, ath), 401, `error="invalid_dpop_proof"`},
		"a proof without ath":          {"DPoP", k.proof(t, "GET", ui, nil), 401, `error="invalid_dpop_proof"`},
		"a proof for another URL":      {"DPoP", k.proof(t, "GET", e.srv.URL+"/token", ath), 401, `error="invalid_dpop_proof"`},
		"no proof":                     {"DPoP", "", 401, `error="invalid_dpop_proof"`},
	} {
		req, _ := http.NewRequest("GET", ui, nil)
		req.Header.Set("Authorization", tc.scheme+" "+at)
		if tc.proof != "" {
			req.Header.Set("DPoP", tc.proof)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := string(body) + resp.Header.Get("WWW-Authenticate"); resp.StatusCode != tc.status || !strings.Contains(got, tc.want) {
			t.Errorf("userinfo, %s: %d %s", name, resp.StatusCode, got)
		}
	}
	if q := spaSignIn(t, e, "alice", "alice-password-1", verifier, url.Values{"dpop_jkt": {"too-short"}}); q.Get("error") != "invalid_request" {
		t.Errorf("a malformed dpop_jkt: %v", q)
	}
}

// TestDPoPNonce (RFC 9449 §8): with require_nonce a proof without the
// server's nonce is answered use_dpop_nonce and a DPoP-Nonce header; the
// retry with it succeeds.
func TestDPoPNonce(t *testing.T) {
	e := start(t, func(c *config.Config) { c.DPoP = &config.DPoP{RequireNonce: true} })
	k := newDPoPKey(t)
	auth := basic("order-sync-job", "sync-job-secret-change-me")
	htu := e.srv.URL + "/token"
	r, h := dpopToken(t, e, auth, ccForm, k.proof(t, "POST", htu, nil))
	nonce := h.Get("DPoP-Nonce")
	if r["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("without a nonce: %v %v", r, h)
	}
	if r, _ := dpopToken(t, e, auth, ccForm, k.proof(t, "POST", htu, func(c map[string]any) { c["nonce"] = "made-up" })); r["error"] != "use_dpop_nonce" {
		t.Errorf("a made-up nonce: %v", r)
	}
	if r, _ := dpopToken(t, e, auth, ccForm, k.proof(t, "POST", htu, func(c map[string]any) { c["nonce"] = nonce })); r["token_type"] != "DPoP" {
		t.Errorf("with the nonce: %v", r)
	}
}

// TestDPoPReplayAcrossInstances: a proof used at one instance is refused at
// another sharing the PostgreSQL store.
func TestDPoPReplayAcrossInstances(t *testing.T) {
	testkit.SkipShort(t, "two instances over PostgreSQL")
	c := startCluster(t, 2)
	k := newDPoPKey(t)
	p := k.proof(t, "POST", c[0].srv.URL+"/token", nil)
	auth := basic("order-sync-job", "sync-job-secret-change-me")
	if r, _ := dpopToken(t, c[0], auth, ccForm, p); r["token_type"] != "DPoP" {
		t.Fatalf("first use: %v", r)
	}
	if r, _ := dpopToken(t, c[1], auth, ccForm, p); r["error"] != "invalid_dpop_proof" {
		t.Errorf("replay at instance 2: %v", r)
	}
}
