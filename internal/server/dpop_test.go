package server_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
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

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// dpopKey is a client's DPoP key and its RFC 7638 thumbprint, computed by
// go-jose (an independent JOSE library).
type dpopKey struct {
	priv *ecdsa.PrivateKey
	jkt  string
}

func newDPoPKey(t testing.TB) dpopKey {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tp, err := (&jose.JSONWebKey{Key: &k.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return dpopKey{priv: k, jkt: base64.RawURLEncoding.EncodeToString(tp)}
}

// proof signs a DPoP proof (RFC 9449 §4.2) with go-jose; edit changes the
// claims before signing.
func (k dpopKey) proof(t testing.TB, htm, htu string, edit func(map[string]any)) string {
	t.Helper()
	c := map[string]any{"jti": rand.Text(), "htm": htm, "htu": htu, "iat": time.Now().Unix()}
	if edit != nil {
		edit(c)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// handMade builds a compact JWS from a header and claims, signed by sign
// (nil: no signature), for the proofs go-jose refuses to make.
func handMade(header, claims map[string]any, sign func([]byte) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
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
	k := newDPoPKey(t)
	htu := e.srv.URL + "/token"
	auth := basic("order-sync-job", "sync-job-secret-change-me")
	r, _ := dpopToken(t, e, auth, ccForm, k.proof(t, "POST", htu, nil))
	if r["token_type"] != "DPoP" {
		t.Fatalf("token response: %v", r)
	}
	c, _ := claimsFromJWKS(t, e, r["access_token"].(string))
	if cnf, _ := c["cnf"].(map[string]any); cnf["jkt"] != k.jkt {
		t.Errorf("cnf: %v, want jkt %s", c["cnf"], k.jkt)
	}
	intro := postForm(t, e, "/introspect", basic("order-status-api", "order-status-api-secret"), url.Values{"token": {r["access_token"].(string)}})
	var ir map[string]any
	json.NewDecoder(intro.Body).Decode(&ir)
	if cnf, _ := ir["cnf"].(map[string]any); ir["active"] != true || ir["token_type"] != "DPoP" || cnf["jkt"] != k.jkt {
		t.Errorf("introspection: %v", ir)
	}
	// Without a proof the same request gets a Bearer token.
	if r := tokenRequest(t, e, auth, ccForm); r["token_type"] != "Bearer" {
		t.Errorf("without a proof: %v", r)
	}

	replayed := k.proof(t, "POST", htu, nil)
	dpopToken(t, e, auth, ccForm, replayed)
	pub := jose.JSONWebKey{Key: &k.priv.PublicKey}
	pubJSON, _ := pub.MarshalJSON()
	var pubMap map[string]any
	json.Unmarshal(pubJSON, &pubMap)
	privJSON, _ := (&jose.JSONWebKey{Key: k.priv}).MarshalJSON()
	var privMap map[string]any
	json.Unmarshal(privJSON, &privMap)
	now := time.Now().Unix()
	claims := map[string]any{"jti": rand.Text(), "htm": "POST", "htu": htu, "iat": now}
	esSign := func(in []byte) []byte {
		d := sha256.Sum256(in)
		r, s, _ := ecdsa.Sign(rand.Reader, k.priv, d[:])
		return append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	}
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
	q := spaSignIn(t, e, "alice", "alice-password-1", verifier, url.Values{"dpop_jkt": {k.jkt}})
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
	if cnf, _ := c["cnf"].(map[string]any); r2["token_type"] != "DPoP" || cnf["jkt"] != k.jkt {
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
