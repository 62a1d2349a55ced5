package server_test

import (
	"context"
	"encoding/json"
	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/verify"
)

// withInventory adds the background text's next hop: the Order Status API
// may exchange a token for the Inventory API, which may exchange for the
// Warehouse API, which may exchange for the Carrier API.
func withInventory(c *config.Config) {
	c.Client("order-status-api").ExchangeTo = []string{"inventory-api"}
	c.Clients = append(c.Clients,
		config.Client{ID: "inventory-api", Secret: "inventory-api-secret-1", Scopes: []string{"orders:read", "stock:read"}, ExchangeTo: []string{"warehouse-api"}},
		config.Client{ID: "warehouse-api", Secret: "warehouse-api-secret-1", Scopes: []string{"orders:read"}, ExchangeTo: []string{"carrier-api"}},
		config.Client{ID: "carrier-api", Scopes: []string{"orders:read"}})
	c.MaxDelegationDepth = 3
}

func exchange(t *testing.T, e *env, id, secret, subject string, extra url.Values) map[string]any {
	t.Helper()
	form := url.Values{"grant_type": {oauth.GrantTokenExchange}, "subject_token": {subject}, "subject_token_type": {oauth.TokenTypeAccessToken}}
	for k, v := range extra {
		form[k] = v
	}
	return tokenRequest(t, e, basic(id, secret), form)
}

// TestTokenExchange (issue 14): a signed-in user's token for the Order
// Status API is exchanged for the Inventory API and accepted there (the
// original is not); a second hop nests act; the depth limit holds; every
// refusal is the RFC 8693 / RFC 6749 error naming its rule.
func TestTokenExchange(t *testing.T) {
	e := start(t, withInventory)
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	q := spaSignIn(t, e, "alice", "alice-password-1", verifier, nil)
	user := spaRedeem(t, e, q.Get("code"), verifier)
	subject := user["access_token"].(string)

	hop1 := exchange(t, e, "order-status-api", "order-status-api-secret", subject, nil)
	tok, _ := hop1["access_token"].(string)
	c, _ := claimsFromJWKS(t, e, tok)
	act, _ := json.Marshal(c["act"])
	if c["sub"] != "alice" || c["aud"] != "inventory-api" || c["client_id"] != "order-status-api" || c["scope"] != "orders:read" ||
		string(act) != `{"act":{"sub":"spa"},"sub":"order-status-api"}` || hop1["issued_token_type"] != oauth.TokenTypeAccessToken {
		t.Fatalf("first hop: %v\n%s", hop1, act)
	}
	orig, _ := claimsFromJWKS(t, e, subject)
	if c["exp"].(float64) > orig["exp"].(float64) {
		t.Errorf("the exchanged token outlives its subject token")
	}
	inventory, err := verify.New(ctx, verify.Config{Issuer: e.srv.URL, Audience: "inventory-api", InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inventory.Verify(ctx, tok); err != nil {
		t.Errorf("the Inventory API refuses the exchanged token: %v", err)
	}
	if _, err := inventory.Verify(ctx, subject); err == nil {
		t.Error("the Inventory API accepts the user's original token (token passthrough)")
	}

	hop2 := exchange(t, e, "inventory-api", "inventory-api-secret-1", tok, nil)
	c2, _ := claimsFromJWKS(t, e, hop2["access_token"].(string))
	act2, _ := json.Marshal(c2["act"])
	if c2["aud"] != "warehouse-api" || string(act2) != `{"act":{"act":{"sub":"spa"},"sub":"order-status-api"},"sub":"inventory-api"}` {
		t.Errorf("second hop: %v %s", hop2, act2)
	}
	if r := exchange(t, e, "warehouse-api", "warehouse-api-secret-1", hop2["access_token"].(string), nil); r["error"] != "invalid_request" {
		t.Errorf("a fourth actor past max_delegation_depth 3: %v", r)
	}

	refresh := user["refresh_token"].(string)
	for name, tc := range map[string]struct {
		id, secret, subject string
		extra               url.Values
		want                string
	}{
		"not meant for the client":   {"inventory-api", "inventory-api-secret-1", subject, nil, "invalid_grant"},
		"an ID token":                {"order-status-api", "order-status-api-secret", user["id_token"].(string), nil, "invalid_grant"},
		"a refresh token":            {"order-status-api", "order-status-api-secret", refresh, nil, "invalid_grant"},
		"a made-up token":            {"order-status-api", "order-status-api-secret", "eyJhbGciOiJub25lIn0.e30.", nil, "invalid_grant"},
		"wrong subject_token_type":   {"order-status-api", "order-status-api-secret", subject, url.Values{"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}}, "invalid_request"},
		"target outside exchange_to": {"order-status-api", "order-status-api-secret", subject, url.Values{"resource": {"hr-api"}}, "invalid_target"},
		"scope widened":              {"order-status-api", "order-status-api-secret", subject, url.Values{"scope": {"hr:read"}}, "invalid_scope"},
		"no exchange_to":             {"web-portal", "web-portal-secret-123", subject, nil, "unauthorized_client"},
		"wrong secret":               {"order-status-api", "wrong-secret-wrong", subject, nil, "invalid_client"},
	} {
		if r := exchange(t, e, tc.id, tc.secret, tc.subject, tc.extra); r["error"] != tc.want {
			t.Errorf("%s: %v, want %s", name, r, tc.want)
		}
	}
	// A revoked subject token cannot be exchanged.
	if resp := postForm(t, e, "/revoke", "", url.Values{"token": {subject}, "client_id": {"spa"}}); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	} else {
		resp.Body.Close()
	}
	if r := exchange(t, e, "order-status-api", "order-status-api-secret", subject, nil); r["error"] != "invalid_grant" {
		t.Errorf("a revoked subject token: %v", r)
	}
}

// TestExchangedTokenThroughProxy: verify reads the actor chain, and the
// proxy forwards it to the upstream in X-Gatehouse-Actor.
func TestExchangedTokenThroughProxy(t *testing.T) {
	e := start(t, withInventory)
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	q := spaSignIn(t, e, "alice", "alice-password-1", verifier, nil)
	user := spaRedeem(t, e, q.Get("code"), verifier)
	tok := exchange(t, e, "order-status-api", "order-status-api-secret", user["access_token"].(string), nil)["access_token"].(string)
	v, err := verify.New(ctx, verify.Config{Issuer: e.srv.URL, Audience: "inventory-api", InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if actors, err := c.Actors(); err != nil || strings.Join(actors, " ") != "order-status-api spa" {
		t.Errorf("Actors: %v %v", actors, err)
	}
	var got atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Store(r.Header.Get(proxy.HeaderActor)) }))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	h, err := proxy.New(proxy.Config{Verifier: v, Upstream: u})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/stock", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set(proxy.HeaderActor, "forged")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || got.Load() != "order-status-api spa" {
		t.Errorf("proxy: %d, upstream saw X-Gatehouse-Actor %q", w.Code, got.Load())
	}
}

// TestExchangeWithMCPSDK (issue 14): the Go MCP SDK's RFC 8693 helper,
// unmodified, exchanges a user's token at Gatehouse.
func TestExchangeWithMCPSDK(t *testing.T) {
	e := start(t, withInventory)
	verifier := oauth2.GenerateVerifier()
	q := spaSignIn(t, e, "alice", "alice-password-1", verifier, nil)
	user := spaRedeem(t, e, q.Get("code"), verifier)
	tok, err := oauthex.ExchangeToken(context.Background(), e.srv.URL+"/token", &oauthex.TokenExchangeRequest{
		RequestedTokenType: oauth.TokenTypeAccessToken, Audience: "inventory-api", Resource: "inventory-api",
		SubjectToken: user["access_token"].(string), SubjectTokenType: oauth.TokenTypeAccessToken,
	}, &oauthex.ClientCredentials{ClientID: "order-status-api", ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: "order-status-api-secret"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := audOf(t, e, tok.AccessToken); got != `"inventory-api"` {
		t.Errorf("aud %s", got)
	}
}

// TestDelegationPolicy: an API can require or forbid delegated tokens.
func TestDelegationPolicy(t *testing.T) {
	e := start(t, withInventory)
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	q := spaSignIn(t, e, "alice", "alice-password-1", verifier, nil)
	user := spaRedeem(t, e, q.Get("code"), verifier)
	direct := user["access_token"].(string)
	delegated := exchange(t, e, "order-status-api", "order-status-api-secret", direct, url.Values{"audience": {"inventory-api"}})["access_token"].(string)
	for _, tc := range []struct {
		d   httpauth.Delegation
		aud string
		tok string
		ok  bool
	}{
		{httpauth.DelegationRequired, "inventory-api", delegated, true},
		{httpauth.DelegationForbidden, "inventory-api", delegated, false},
		{httpauth.DelegationRequired, "order-status-api", direct, false},
		{httpauth.DelegationForbidden, "order-status-api", direct, true},
	} {
		v, err := verify.New(ctx, verify.Config{Issuer: e.srv.URL, Audience: tc.aud, InsecureAllowHTTP: true})
		if err != nil {
			t.Fatal(err)
		}
		m := httpauth.New(v, httpauth.WithDelegation(tc.d))
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tc.tok)
		if _, herr := m.Authenticate(r); (herr == nil) != tc.ok {
			t.Errorf("delegation %d, aud %s: %v", tc.d, tc.aud, herr)
		}
	}
}

// TestExchangeRevocationAcrossInstances: a revocation made through another
// instance (here: the shared store written directly) is seen by the
// exchange within unrevokedTTL, one made through this instance at once.
func TestExchangeRevocationAcrossInstances(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := startAt(t, clock, withInventory)
	verifier := oauth2.GenerateVerifier()
	q := spaSignIn(t, e, "alice", "alice-password-1", verifier, nil)
	subject := spaRedeem(t, e, q.Get("code"), verifier)["access_token"].(string)
	if r := exchange(t, e, "order-status-api", "order-status-api-secret", subject, nil); r["access_token"] == nil {
		t.Fatalf("first exchange: %v", r)
	}
	c, _ := claimsFromJWKS(t, e, subject)
	if err := e.store.RevokeAccess(context.Background(), c["jti"].(string), time.Unix(int64(c["exp"].(float64)), 0)); err != nil {
		t.Fatal(err)
	}
	if r := exchange(t, e, "order-status-api", "order-status-api-secret", subject, nil); r["access_token"] == nil {
		t.Fatalf("within the second the other instance's revocation is not yet seen (documented): %v", r)
	}
	mu.Lock()
	now = now.Add(1001 * time.Millisecond)
	mu.Unlock()
	if r := exchange(t, e, "order-status-api", "order-status-api-secret", subject, nil); r["error"] != "invalid_grant" {
		t.Errorf("a second later the revocation must be seen: %v", r)
	}
}
