package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

const testConfig = `
issuer: ISSUER
storage: sqlite:unused.db
clients:
  - id: customer-portal
    secret: customer-portal-secret
    grant_types: [authorization_code]
    redirect_uris: [http://127.0.0.1:3000/callback]
    audience: [order-status-api]
    scopes: [openid, orders:read]
  - id: backoffice-portal
    secret: backoffice-portal-secret
    grant_types: [client_credentials]
    audience: [order-status-api, hr-api]
    scopes: [orders:read, hr:read]
  - id: order-status-api
    secret: order-status-api-secret
    grant_types: [client_credentials]
    scopes: [orders:read]
  - id: hr-api
    secret: hr-api-secret-xyz
    grant_types: [client_credentials]
  - id: order-sync-job
    secret: sync-job-secret-change-me
    grant_types: [client_credentials]
    audience: [order-status-api, https://billing.example.com]
    scopes: [orders:read, orders:write]
  - id: web-portal
    name: Web Portal
    secret: web-portal-secret-123
    require_pkce: false
    grant_types: [authorization_code, refresh_token]
    redirect_uris: [http://127.0.0.1:3000/callback]
    post_logout_redirect_uris: [http://127.0.0.1:3000/bye]
    audience: [order-status-api]
    scopes: [openid, profile, email, offline_access, orders:read]
  - id: spa
    name: Single Page App
    first_party: true
    grant_types: [authorization_code, refresh_token]
    redirect_uris: [http://127.0.0.1:3000/spa]
    audience: [order-status-api, hr-api]
    scopes: [openid, profile, offline_access, orders:read, hr:read]
  - id: strict-portal
    secret: strict-portal-secret-1
    grant_types: [authorization_code]
    redirect_uris: [http://127.0.0.1:3000/strict]
    scopes: [openid]
  - id: slow-hash-job
    secret: SLOWHASH
    grant_types: [client_credentials]
external_audiences:
  - https://billing.example.com
trusted_proxies: [10.9.0.0/16]
users:
  - username: alice
    password: alice-password-1
    claims:
      name: Alice Example
      email: alice@example.com
      email_verified: true
`

type env struct {
	srv    *httptest.Server
	store  store.Store
	ring   *keys.Ring
	server *server.Server
}

// start runs a real server over real SQLite on a loopback port.
func start(t testing.TB, extra ...func(*config.Config)) *env {
	t.Helper()
	return startAt(t, nil, extra...)
}

// startAt is start with the server's clock (time.Now when nil).
func startAt(t testing.TB, now func() time.Time, extra ...func(*config.Config)) *env {
	t.Helper()
	return startWith(t, func(o *server.Options) { o.Now = now }, extra...)
}

// startWith is start with the server's options adjusted by opts.
func startWith(t testing.TB, opts func(*server.Options), extra ...func(*config.Config)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)

	cfg := parseTestConfig(t, e.srv.URL)
	for _, f := range extra {
		f(cfg)
	}
	e.ring, err = keys.Open(ctx, st, keys.Options{Alg: cfg.SigningAlg, Secret: strings.Repeat("k", 32), RetireAfter: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	o := server.Options{Config: cfg, Keys: e.ring, Store: st, AccessLog: true, MetricsOnMainListener: true}
	if opts != nil {
		opts(&o)
	}
	s, err := server.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", s.Handler())
	e.server = s
	return e
}

func parseTestConfig(t testing.TB, issuer string) *config.Config {
	t.Helper()
	cfg, err := testConfigFor(issuer)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testConfigFor(issuer string) (*config.Config, error) {
	// A bcrypt hash of "slow-hash-secret-1234" at the minimum cost keeps
	// the test quick while exercising the hashed-secret path.
	yaml := strings.ReplaceAll(testConfig, "ISSUER", issuer)
	yaml = strings.ReplaceAll(yaml, "SLOWHASH", `"$2a$04$5frLC/u0MYjIh3LkdIo4Y.f//gRGscUr77kr1zILNysfR.pHMgWOm"`)
	return config.Parse([]byte(yaml), "test.yaml", func(string) (string, bool) { return "", false })
}

// claimsFromJWKS verifies tok independently of Gatehouse's code: go-jose
// against the JWKS the server publishes.
func claimsFromJWKS(t *testing.T, e *env, tok string) (map[string]any, jose.Header) {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Protected
	ks := set.Key(h.KeyID)
	if len(ks) != 1 {
		t.Fatalf("kid %q not in JWKS", h.KeyID)
	}
	payload, err := jws.Verify(ks[0].Key)
	if err != nil {
		t.Fatalf("signature does not verify against JWKS: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c, h
}

func ccConfig(e *env, id, secret string, params url.Values, style oauth2.AuthStyle) *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.srv.URL + "/token",
		EndpointParams: params, AuthStyle: style}
}

func TestClientCredentialsWithRealClient(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		tok, err := ccConfig(e, "order-sync-job", "sync-job-secret-change-me", nil, style).Token(ctx)
		if err != nil {
			t.Fatalf("style %d: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
			t.Errorf("token_type %q expiry %v", tok.TokenType, tok.Expiry)
		}
		c, h := claimsFromJWKS(t, e, tok.AccessToken)
		if h.ExtraHeaders["typ"] != "at+jwt" || h.Algorithm != "ES256" || h.KeyID == "" {
			t.Errorf("header = %+v", h)
		}
		wantAud := []any{"order-sync-job", "order-status-api", "https://billing.example.com"}
		if !slices.Equal(c["aud"].([]any), wantAud) {
			t.Errorf("aud = %v, want %v", c["aud"], wantAud)
		}
		for k, v := range map[string]any{"iss": e.srv.URL, "sub": "order-sync-job", "client_id": "order-sync-job",
			"azp": "order-sync-job", "scope": "orders:read orders:write"} {
			if c[k] != v {
				t.Errorf("%s = %v, want %v", k, c[k], v)
			}
		}
		iat, exp := c["iat"].(float64), c["exp"].(float64)
		if exp-iat != 600 || c["jti"] == "" {
			t.Errorf("iat %v exp %v jti %v", iat, exp, c["jti"])
		}
	}
}

func TestAudienceNarrowing(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	tok, err := ccConfig(e, "order-sync-job", "sync-job-secret-change-me",
		url.Values{"resource": {"order-status-api"}, "scope": {"orders:read"}}, oauth2.AuthStyleInHeader).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := claimsFromJWKS(t, e, tok.AccessToken)
	if c["aud"] != "order-status-api" {
		t.Errorf("single aud must be a JSON string, got %#v", c["aud"])
	}
	if c["azp"] != "order-sync-job" || c["scope"] != "orders:read" {
		t.Errorf("azp %v scope %v", c["azp"], c["scope"])
	}

	// A client with no audience gets exactly itself and no azp.
	tok, err = ccConfig(e, "hr-api", "hr-api-secret-xyz", nil, oauth2.AuthStyleInHeader).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, _ = claimsFromJWKS(t, e, tok.AccessToken)
	if c["aud"] != "hr-api" || c["azp"] != nil || c["scope"] != nil {
		t.Errorf("hr-api token: aud %v azp %v scope %v", c["aud"], c["azp"], c["scope"])
	}

	_, err = ccConfig(e, "order-sync-job", "sync-job-secret-change-me",
		url.Values{"resource": {"hr-api"}}, oauth2.AuthStyleInHeader).Token(ctx)
	var re *oauth2.RetrieveError
	if !asRetrieve(err, &re) || re.ErrorCode != "invalid_target" || re.Response.StatusCode != 400 {
		t.Fatalf("want invalid_target, got %v", err)
	}
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	if !ok {
		return false
	}
	*re = r
	return true
}

func TestHashedSecretIsCached(t *testing.T) {
	e := start(t)
	for i := range 3 {
		if _, err := ccConfig(e, "slow-hash-job", "slow-hash-secret-1234", nil, oauth2.AuthStyleInHeader).Token(context.Background()); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	if _, err := ccConfig(e, "slow-hash-job", "slow-hash-secret-12345", nil, oauth2.AuthStyleInHeader).Token(context.Background()); err == nil {
		t.Fatal("wrong secret accepted after a cached success")
	}
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// TestBadTokenRequests sends malformed requests; each gets its RFC error
// and nothing reaches the store.
func TestBadTokenRequests(t *testing.T) {
	e := start(t)
	good := basic("order-sync-job", "sync-job-secret-change-me")
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, method, ctype, body, auth, query string
		status                                 int
		code                                   string
		challenge                              bool
	}{
		{name: "GET", method: "GET", auth: good, status: 405, code: "invalid_request"},
		{name: "JSON body", method: "POST", ctype: "application/json", body: `{"grant_type":"client_credentials"}`, auth: good, status: 415, code: "invalid_request"},
		{name: "no content type", method: "POST", body: "grant_type=client_credentials", auth: good, status: 415, code: "invalid_request"},
		{name: "charset param is fine but grant missing", method: "POST", ctype: form + "; charset=UTF-8", body: "scope=orders:read", auth: good, status: 400, code: "invalid_request"},
		{name: "duplicated grant_type", method: "POST", ctype: form, body: "grant_type=client_credentials&grant_type=client_credentials", auth: good, status: 400, code: "invalid_request"},
		{name: "duplicated scope", method: "POST", ctype: form, body: "grant_type=client_credentials&scope=a&scope=b", auth: good, status: 400, code: "invalid_request"},
		{name: "oversized body", method: "POST", ctype: form, body: "grant_type=client_credentials&x=" + strings.Repeat("a", 70<<10), auth: good, status: 413, code: "invalid_request"},
		{name: "parameters in query", method: "POST", ctype: form, body: "grant_type=client_credentials", query: "client_secret=x", auth: good, status: 400, code: "invalid_request"},
		{name: "unknown grant", method: "POST", ctype: form, body: "grant_type=password&username=a&password=b", auth: good, status: 400, code: "unsupported_grant_type"},
		{name: "implicit-style grant", method: "POST", ctype: form, body: "grant_type=implicit", auth: good, status: 400, code: "unsupported_grant_type"},
		{name: "missing credentials", method: "POST", ctype: form, body: "grant_type=client_credentials", status: 401, code: "invalid_client", challenge: true},
		{name: "wrong secret basic", method: "POST", ctype: form, body: "grant_type=client_credentials", auth: basic("order-sync-job", "nope-nope-nope-nope"), status: 401, code: "invalid_client", challenge: true},
		{name: "wrong secret post", method: "POST", ctype: form, body: "grant_type=client_credentials&client_id=order-sync-job&client_secret=nope", status: 401, code: "invalid_client", challenge: true},
		{name: "unknown client", method: "POST", ctype: form, body: "grant_type=client_credentials", auth: basic("ghost", "whatever-whatever"), status: 401, code: "invalid_client", challenge: true},
		{name: "client id differing in case", method: "POST", ctype: form, body: "grant_type=client_credentials", auth: basic("Order-Sync-Job", "sync-job-secret-change-me"), status: 401, code: "invalid_client", challenge: true},
		{name: "two auth methods", method: "POST", ctype: form, body: "grant_type=client_credentials&client_secret=sync-job-secret-change-me", auth: good, status: 400, code: "invalid_request"},
		{name: "bearer instead of basic", method: "POST", ctype: form, body: "grant_type=client_credentials", auth: "Bearer abc", status: 401, code: "invalid_client", challenge: true},
		{name: "garbage basic", method: "POST", ctype: form, body: "grant_type=client_credentials", auth: "Basic !!!", status: 401, code: "invalid_client", challenge: true},
		{name: "unknown resource", method: "POST", ctype: form, body: "grant_type=client_credentials&resource=https%3A%2F%2Fevil.example", auth: good, status: 400, code: "invalid_target"},
		{name: "one allowed one not", method: "POST", ctype: form, body: "grant_type=client_credentials&resource=order-status-api&resource=hr-api", auth: good, status: 400, code: "invalid_target"},
		{name: "audience outside set", method: "POST", ctype: form, body: "grant_type=client_credentials&audience=order-status-api+hr-api", auth: good, status: 400, code: "invalid_target"},
		{name: "scope outside set", method: "POST", ctype: form, body: "grant_type=client_credentials&scope=hr%3Aread", auth: good, status: 400, code: "invalid_scope"},
		{name: "client not allowed the grant", method: "POST", ctype: form, body: "grant_type=client_credentials", auth: basic("customer-portal", "customer-portal-secret"), status: 400, code: "unauthorized_client"},
		{name: "bad percent encoding", method: "POST", ctype: form, body: "grant_type=client_credentials&scope=%ZZ", auth: good, status: 400, code: "invalid_request"},
	}
	v0, err := e.store.KeyRingVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := e.srv.URL + "/token"
			if tc.query != "" {
				u += "?" + tc.query
			}
			req, _ := http.NewRequest(tc.method, u, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var got struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body is not JSON: %q", body)
			}
			if resp.StatusCode != tc.status || got.Error != tc.code {
				t.Fatalf("got %d %s (%s), want %d %s", resp.StatusCode, got.Error, got.Description, tc.status, tc.code)
			}
			if got.Description == "" {
				t.Error("no error_description")
			}
			if resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("headers: %v", resp.Header)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); tc.challenge != (ch != "") {
				t.Errorf("WWW-Authenticate = %q, want present=%v", ch, tc.challenge)
			}
		})
	}
	if v1, _ := e.store.KeyRingVersion(context.Background()); v1 != v0 {
		t.Errorf("store changed by bad requests: ring version %d → %d", v0, v1)
	}
}

func TestFailedLoginsAreRateLimited(t *testing.T) {
	e := start(t)
	post := func(auth string) int {
		req, _ := http.NewRequest("POST", e.srv.URL+"/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		return resp.StatusCode
	}
	var codes []int
	for range 12 {
		codes = append(codes, post(basic("order-sync-job", "guess-guess-guess")))
	}
	if codes[0] != 401 || codes[11] != 429 {
		t.Fatalf("statuses %v: want 401s then 429", codes)
	}
	if got := post(basic("order-sync-job", "sync-job-secret-change-me")); got != 429 {
		t.Fatalf("throttled address got %d with the right secret; want 429 until the bucket refills", got)
	}
}

func TestIntrospection(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	tok, err := ccConfig(e, "order-sync-job", "sync-job-secret-change-me", nil, oauth2.AuthStyleInHeader).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	introspect := func(id, secret, token string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", e.srv.URL+"/introspect", strings.NewReader("token="+url.QueryEscape(token)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", basic(id, secret))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("introspect as %s: status %d", id, resp.StatusCode)
		}
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	// In the audience: active with claims.
	m := introspect("order-status-api", "order-status-api-secret", tok.AccessToken)
	if m["active"] != true || m["client_id"] != "order-sync-job" || m["sub"] != "order-sync-job" {
		t.Errorf("audience member sees %v", m)
	}
	// The client it was issued to: active.
	if m := introspect("order-sync-job", "sync-job-secret-change-me", tok.AccessToken); m["active"] != true {
		t.Errorf("issuing client sees %v", m)
	}
	// Anyone else: nothing.
	m = introspect("hr-api", "hr-api-secret-xyz", tok.AccessToken)
	if len(m) != 1 || m["active"] != false {
		t.Errorf("outsider learns %v", m)
	}
	// Tampered token: inactive.
	parts := strings.Split(tok.AccessToken, ".")
	bad := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	if m := introspect("order-status-api", "order-status-api-secret", bad); m["active"] != false {
		t.Errorf("tampered token: %v", m)
	}
	if m := introspect("order-status-api", "order-status-api-secret", "garbage"); m["active"] != false {
		t.Errorf("garbage: %v", m)
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	e := start(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if m["issuer"] != e.srv.URL || m["token_endpoint"] != e.srv.URL+"/token" || m["jwks_uri"] != e.srv.URL+"/jwks.json" ||
			m["introspection_endpoint"] != e.srv.URL+"/introspect" {
			t.Errorf("%s: %v", path, m)
		}
		if fmt.Sprint(m["grant_types_supported"]) != "[authorization_code refresh_token client_credentials]" {
			t.Errorf("%s grants: %v", path, m["grant_types_supported"])
		}
	}
	resp, err := http.Get(e.srv.URL + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	// The active and the next key of ES256 (access and ID tokens) and of
	// RS256 (ID tokens of clients that ask for it).
	if len(set.Keys) != 4 {
		t.Fatalf("JWKS has %d keys, want the active and the next of ES256 and RS256", len(set.Keys))
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || (k.Algorithm != "ES256" && k.Algorithm != "RS256") || k.Use != "sig" {
			t.Errorf("key %+v", k)
		}
	}
}

func TestMetrics(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if _, err := ccConfig(e, "order-sync-job", "sync-job-secret-change-me", url.Values{"resource": {"order-status-api"}}, oauth2.AuthStyleInHeader).Token(ctx); err != nil {
		t.Fatal(err)
	}
	_, _ = ccConfig(e, "order-sync-job", "sync-job-secret-change-me", url.Values{"resource": {"hr-api"}}, oauth2.AuthStyleInHeader).Token(ctx)
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`gatehouse_tokens_issued_total{audience="order-status-api",client="order-sync-job",grant="client_credentials"} 1`,
		`gatehouse_rejections_total{endpoint="/token",reason="invalid_target"} 1`,
		`gatehouse_http_request_duration_seconds_count{route="/token",status="2xx"} 1`,
		`gatehouse_http_request_duration_seconds_count{route="/token",status="4xx"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestManyConcurrentGoodRequests: a client with the right secret and many
// requests in flight is never throttled by the failure limiter, for a
// plain and for a (warmed) hashed secret.
func TestManyConcurrentGoodRequests(t *testing.T) {
	e := start(t)
	for _, c := range []struct{ id, secret string }{
		{"order-sync-job", "sync-job-secret-change-me"},
		{"slow-hash-job", "slow-hash-secret-1234"},
	} {
		if _, err := ccConfig(e, c.id, c.secret, nil, oauth2.AuthStyleInHeader).Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var bad atomic.Int32
		for range 64 {
			wg.Go(func() {
				for range 5 {
					if _, err := ccConfig(e, c.id, c.secret, nil, oauth2.AuthStyleInHeader).Token(context.Background()); err != nil {
						bad.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if bad.Load() != 0 {
			t.Errorf("%s: %d of 320 concurrent good requests refused", c.id, bad.Load())
		}
	}
}
