package httpauth_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

// dpopEnv is an issuer, a verifier checking DPoP proofs on the issuer's
// clock, middleware in front of a counting handler served over real HTTP,
// and a client key. Tokens and proofs are built with go-jose.
type dpopEnv struct {
	t      *testing.T
	iss    *testkit.Issuer
	key    *testkit.Key
	srv    *httptest.Server
	hits   atomic.Int64
	client crypto.Signer
	jkt    string
	jtis   atomic.Int64
}

const algs = `algs="ES256 ES384 EdDSA RS256 PS256"`

func newDPoPEnv(t *testing.T, vcfg func(*verify.Config), opts ...httpauth.Option) *dpopEnv {
	t.Helper()
	e := &dpopEnv{t: t, key: testkit.ES256Key("k1")}
	e.iss = testkit.NewIssuer(t, e.key)
	pc, err := verify.NewProofChecker(verify.ProofConfig{Replay: verify.NewMemoryReplayCacheClock(100, e.iss.Clock.Now), Clock: e.iss.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := verify.Config{Issuer: e.iss.URL, Audience: api, Clock: e.iss.Clock.Now, DPoP: pc}
	if vcfg != nil {
		vcfg(&cfg)
	}
	v, err := verify.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := httpauth.New(v, append([]httpauth.Option{httpauth.WithRealm(api)}, opts...)...)
	mux := http.NewServeMux()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		c, _ := httpauth.ClaimsFromContext(r.Context())
		io.WriteString(w, c.Subject+" "+c.JKT())
	})
	mux.Handle("/orders/", m.Require("orders:read")(next))
	mux.Handle("/admin/", m.Require("orders:admin")(next))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)

	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	e.client = priv
	e.jkt = thumbprint(t, priv.Public())
	return e
}

func thumbprint(t *testing.T, pub crypto.PublicKey) string {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

func joseSign(t *testing.T, alg jose.SignatureAlgorithm, key any, opts *jose.SignerOptions, claims any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// token is an access token for api with scope, bound to jkt unless empty.
func (e *dpopEnv) token(scope, jkt string) string {
	c := e.iss.Claims(client, scope, client, api)
	if jkt != "" {
		c = c.With("cnf", map[string]any{"jkt": jkt})
	}
	return joseSign(e.t, jose.ES256, e.key.Signer, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"), c)
}

// proof is the client's (or key's) proof for method and url with token.
func (e *dpopEnv) proof(key crypto.Signer, method, url, token string) string {
	sum := sha256.Sum256([]byte(token))
	alg := jose.EdDSA
	if _, ok := key.(ed25519.PrivateKey); !ok {
		alg = jose.ES256
	}
	return joseSign(e.t, alg, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), map[string]any{
		"jti": "jti-" + strconv.FormatInt(e.jtis.Add(1), 10), "htm": method, "htu": url,
		"iat": e.iss.Clock.Now().Unix(), "ath": base64.RawURLEncoding.EncodeToString(sum[:]),
	})
}

// send makes a real HTTP request: path, Authorization (if any), DPoP
// headers and extra header pairs.
func (e *dpopEnv) send(method, path, auth string, proofs []string, extra ...string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	for i := 0; i < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestDPoPAccepted(t *testing.T) {
	e := newDPoPEnv(t, nil)
	tok := e.token("orders:read", e.jkt)
	resp := e.send("GET", "/orders/42", "DPoP "+tok, []string{e.proof(e.client, "GET", e.srv.URL+"/orders/42", tok)})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "user-1 "+e.jkt {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// The scheme is case-insensitive; an unbound token is still a bearer
	// token.
	tok = e.token("orders:read", e.jkt)
	if resp := e.send("POST", "/orders/42", "dpop "+tok, []string{e.proof(e.client, "POST", e.srv.URL+"/orders/42", tok)}); resp.StatusCode != 200 {
		t.Fatalf("lower-case scheme: %d", resp.StatusCode)
	}
	if resp := e.send("GET", "/orders/42", "Bearer "+e.token("orders:read", ""), nil); resp.StatusCode != 200 {
		t.Fatalf("unbound bearer token: %d", resp.StatusCode)
	}
	if e.hits.Load() != 3 {
		t.Errorf("%d hits", e.hits.Load())
	}
}

// TestDPoPRefusals pins status and challenges (RFC 9449 §7.1) of each
// refusal, over real HTTP; the handler is never reached.
func TestDPoPRefusals(t *testing.T) {
	e := newDPoPEnv(t, nil)
	url := e.srv.URL + "/orders/42"
	bound := e.token("orders:read", e.jkt)
	unbound := e.token("orders:read", "")
	_, otherKey, _ := ed25519.GenerateKey(nil)
	replayed := e.proof(e.client, "GET", url, bound)
	if resp := e.send("GET", "/orders/42", "DPoP "+bound, []string{replayed}); resp.StatusCode != 200 {
		t.Fatalf("first use of the proof: %d", resp.StatusCode)
	}
	expired := joseSign(t, jose.ES256, e.key.Signer, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"),
		e.iss.Claims(client, "orders:read", client, api).With("exp", e.iss.Clock.Now().Add(-time.Hour).Unix()).With("cnf", map[string]any{"jkt": e.jkt}))

	bearer := `Bearer realm="order-status-api"`
	dpopErr := func(code, desc string) string {
		return `DPoP realm="order-status-api", error="` + code + `", error_description="` + desc + `", ` + algs
	}
	cases := []struct {
		name       string
		path, auth string
		proofs     []string
		extra      []string
		status     int
		challenges []string
	}{
		{"no credentials", "/orders/42", "", nil, nil, 401,
			[]string{bearer, `DPoP realm="order-status-api", ` + algs}},
		{"bound token as bearer", "/orders/42", "Bearer " + bound, nil, nil, 401,
			[]string{dpopErr("invalid_token", "The token is bound to a DPoP key; present it with the DPoP scheme and a proof"), bearer}},
		{"bound token as bearer with a proof", "/orders/42", "Bearer " + bound, []string{e.proof(e.client, "GET", url, bound)}, nil, 401,
			[]string{dpopErr("invalid_token", "The token is bound to a DPoP key; present it with the DPoP scheme and a proof"), bearer}},
		{"no proof", "/orders/42", "DPoP " + bound, nil, nil, 401,
			[]string{dpopErr("invalid_dpop_proof", "A DPoP proof is required in the DPoP header"), bearer}},
		{"two proofs", "/orders/42", "DPoP " + bound, []string{e.proof(e.client, "GET", url, bound), e.proof(e.client, "GET", url, bound)}, nil, 401,
			[]string{dpopErr("invalid_dpop_proof", "The request has more than one DPoP header"), bearer}},
		{"proof for another URL", "/orders/42", "DPoP " + bound, []string{e.proof(e.client, "GET", e.srv.URL+"/orders/43", bound)}, nil, 401,
			[]string{dpopErr("invalid_dpop_proof", "The DPoP proof is for "+e.srv.URL+"/orders/43, not "+url), bearer}},
		{"proof for another method", "/orders/42", "DPoP " + bound, []string{e.proof(e.client, "DELETE", url, bound)}, nil, 401,
			[]string{dpopErr("invalid_dpop_proof", "The DPoP proof is for method 'DELETE', not 'GET'"), bearer}},
		{"proof for another token", "/orders/42", "DPoP " + bound, []string{e.proof(e.client, "GET", url, unbound)}, nil, 401,
			[]string{dpopErr("invalid_dpop_proof", "The DPoP proof is not for this access token (ath)"), bearer}},
		{"replayed proof", "/orders/42", "DPoP " + bound, []string{replayed}, nil, 401,
			[]string{dpopErr("invalid_dpop_proof", "The DPoP proof was used before"), bearer}},
		{"proof by another key", "/orders/42", "DPoP " + bound, []string{e.proof(otherKey, "GET", url, bound)}, nil, 401,
			[]string{dpopErr("invalid_dpop_proof", "The DPoP proof's key is not the one the token is bound to"), bearer}},
		{"unbound token as DPoP", "/orders/42", "DPoP " + unbound, []string{e.proof(e.client, "GET", url, unbound)}, nil, 401,
			[]string{dpopErr("invalid_token", "The token is not bound to a DPoP key, which this resource requires"), bearer}},
		{"expired bound token", "/orders/42", "DPoP " + expired, []string{e.proof(e.client, "GET", url, expired)}, nil, 401,
			[]string{dpopErr("invalid_token", "The token is expired"), bearer}},
		{"insufficient scope", "/admin/x", "DPoP " + bound, []string{e.proof(e.client, "GET", e.srv.URL+"/admin/x", bound)}, nil, 403,
			[]string{`DPoP realm="order-status-api", error="insufficient_scope", error_description="The token lacks the scope 'orders:admin'", scope="orders:admin", ` + algs, bearer}},
		{"malformed DPoP header", "/orders/42", "DPoP a b", nil, nil, 400,
			[]string{dpopErr("invalid_request", "The Authorization header is malformed; send exactly one 'Authorization: DPoP <token>'"), bearer}},
		{"X-Forwarded-Host is not trusted", "/orders/42", "DPoP " + bound, []string{e.proof(e.client, "GET", "https://api.example.com/orders/42", bound)},
			[]string{"X-Forwarded-Host", "api.example.com", "X-Forwarded-Proto", "https"}, 401,
			[]string{dpopErr("invalid_dpop_proof", "The DPoP proof is for https://api.example.com/orders/42, not "+url), bearer}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.hits.Load()
			resp := e.send("GET", c.path, c.auth, c.proofs, c.extra...)
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
			got := resp.Header.Values("Www-Authenticate")
			if !slices.Equal(got, c.challenges) {
				t.Errorf("challenges\n%q\nwant\n%q", got, c.challenges)
			}
			if e.hits.Load() != before {
				t.Error("the handler was reached")
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Error("refusal without Cache-Control: no-store")
			}
		})
	}
}

func TestDPoPRequired(t *testing.T) {
	for name, setup := range map[string]func(t *testing.T) *dpopEnv{
		"option": func(t *testing.T) *dpopEnv { return newDPoPEnv(t, nil, httpauth.WithDPoPRequired()) },
		"verifier": func(t *testing.T) *dpopEnv {
			return newDPoPEnv(t, func(c *verify.Config) { c.RequireDPoP = true })
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := setup(t)
			only := `DPoP realm="order-status-api", `
			for _, c := range []struct {
				auth, challenge string
			}{
				{"", only + algs},
				{"Bearer " + e.token("orders:read", ""), only + `error="invalid_token", error_description="This resource requires a DPoP-bound access token and a DPoP proof", ` + algs},
				{"Bearer " + e.token("orders:read", e.jkt), only + `error="invalid_token", error_description="This resource requires a DPoP-bound access token and a DPoP proof", ` + algs},
			} {
				resp := e.send("GET", "/orders/42", c.auth, nil)
				if got := resp.Header.Values("Www-Authenticate"); resp.StatusCode != 401 || !slices.Equal(got, []string{c.challenge}) {
					t.Errorf("%.20s: %d %q", c.auth, resp.StatusCode, got)
				}
			}
			tok := e.token("orders:read", e.jkt)
			if resp := e.send("GET", "/orders/42", "DPoP "+tok, []string{e.proof(e.client, "GET", e.srv.URL+"/orders/42", tok)}); resp.StatusCode != 200 {
				t.Errorf("DPoP: %d", resp.StatusCode)
			}
			if e.hits.Load() != 1 {
				t.Errorf("%d hits", e.hits.Load())
			}
		})
	}
	// Without DPoP in the verifier, requiring it is a programming error.
	v, err := verify.New(context.Background(), verify.Config{Issuer: "https://id.example.com", Audience: api, StaticJWKS: testkit.JWKS(testkit.ES256Key("k1"))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("WithDPoPRequired without DPoP did not panic")
		}
	}()
	httpauth.New(v, httpauth.WithDPoPRequired())
}

// TestDPoPPublicURL: behind a TLS-terminating proxy the proof names the
// public URL, which WithPublicURL supplies; the internal one is refused.
func TestDPoPPublicURL(t *testing.T) {
	e := newDPoPEnv(t, nil, httpauth.WithPublicURL("https://API.example.com:443/"))
	tok := e.token("orders:read", e.jkt)
	if resp := e.send("GET", "/orders/42", "DPoP "+tok, []string{e.proof(e.client, "GET", "https://api.example.com/orders/42", tok)}); resp.StatusCode != 200 {
		t.Fatalf("public URL: %d %q", resp.StatusCode, resp.Header.Values("Www-Authenticate"))
	}
	resp := e.send("GET", "/orders/42", "DPoP "+tok, []string{e.proof(e.client, "GET", e.srv.URL+"/orders/42", tok)})
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("Www-Authenticate"), "invalid_dpop_proof") {
		t.Fatalf("internal URL: %d %q", resp.StatusCode, resp.Header.Values("Www-Authenticate"))
	}
	for _, bad := range []string{"api.example.com", "https://api.example.com/v1", "https://api.example.com/?x", "ftp://api.example.com", "https://u@api.example.com"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithPublicURL(%q) did not panic", bad)
				}
			}()
			httpauth.WithPublicURL(bad)
		}()
	}
}

// TestBearerOnlyUnchanged: a verifier without DPoP keeps the one Bearer
// challenge, and a DPoP-scheme request is one without a bearer token.
func TestBearerOnlyUnchanged(t *testing.T) {
	e := newEnv(t, api)
	h := e.m.Handler(e.next())
	w := do(h, "DPoP "+e.token("orders:read"))
	if got := w.Header().Values("Www-Authenticate"); w.Code != 401 || !slices.Equal(got, []string{`Bearer realm="order-status-api"`}) {
		t.Errorf("%d %q", w.Code, got)
	}
}

// TestDPoPMetadata: the protected resource metadata (RFC 9728 §2) lists
// the proof algorithms and whether DPoP is required, and the DPoP
// challenge carries resource_metadata like the Bearer one.
func TestDPoPMetadata(t *testing.T) {
	k := testkit.ES256Key("k1")
	pc, err := verify.NewProofChecker(verify.ProofConfig{Replay: verify.NewMemoryReplayCache(10), Algorithms: []string{"ES256", "EdDSA"}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(context.Background(), verify.Config{Issuer: "https://id.example.com", Audience: api, StaticJWKS: testkit.JWKS(k), DPoP: pc})
	if err != nil {
		t.Fatal(err)
	}
	m := httpauth.New(v, httpauth.WithDPoPRequired(), httpauth.WithResourceMetadata(httpauth.ResourceMetadata{Resource: "https://api.example.com/orders"}))
	w := httptest.NewRecorder()
	m.MetadataHandler().ServeHTTP(w, httptest.NewRequest("GET", m.MetadataPath(), nil))
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["dpop_bound_access_tokens_required"] != true || !slices.Equal(toStrings(doc["dpop_signing_alg_values_supported"]), []string{"ES256", "EdDSA"}) {
		t.Errorf("metadata %v", doc)
	}
	rec := httptest.NewRecorder()
	m.Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/orders", nil))
	want := `DPoP realm="order-status-api", resource_metadata="` + m.MetadataURL() + `", algs="ES256 EdDSA"`
	if got := rec.Header().Values("Www-Authenticate"); !slices.Equal(got, []string{want}) {
		t.Errorf("challenges %q, want %q", got, want)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
