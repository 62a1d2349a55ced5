package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/url"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/oauth"
)

// keyForm is a token request authenticated by a client assertion.
func keyForm(form url.Values, assertion string) url.Values {
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", assertion)
	return form
}

// TestPrivateKeyJWTWithXOAuth2 (issue 14): golang.org/x/oauth2's
// client-credentials flow, unmodified, authenticates with an assertion
// (its EndpointParams, credentials in the body); the same assertion a
// second time is refused with invalid_client, which x/oauth2 reports as
// a RetrieveError.
func TestPrivateKeyJWTWithXOAuth2(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e := start(t, withKeyJob(&key.PublicKey))
	a := assertion(t, key, jose.ES256, func(c map[string]any) { c["aud"] = e.srv.URL }, "client-authentication+jwt")
	cc := clientcredentials.Config{ClientID: "key-job", TokenURL: e.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion": {a}, "resource": {"order-status-api"}}}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := claimsFromJWKS(t, e, tok.AccessToken); c["aud"] != "order-status-api" || c["client_id"] != "key-job" {
		t.Errorf("claims: %v", c)
	}
	_, err = cc.Token(context.Background())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("a replayed assertion through x/oauth2: %v", err)
	}
}

// withKeyedOrderAPI gives the Order Status API (which may exchange for the
// Inventory API) a key beside its secret, as a client moving from one to
// the other has.
func withKeyedOrderAPI(pub *ecdsa.PublicKey) func(*config.Config) {
	return func(c *config.Config) {
		withInventory(c)
		jwk := jose.JSONWebKey{Key: pub, KeyID: "job-1", Algorithm: "ES256", Use: "sig"}
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
		var m map[string]any
		json.Unmarshal(b, &m)
		c.Client("order-status-api").JWKS = m
	}
}

// TestExchangeByPrivateKeyJWT (issue 14 item 7): token exchange by a client
// that authenticates with an assertion; while it moves, its secret works
// too.
func TestExchangeByPrivateKeyJWT(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e := start(t, withKeyedOrderAPI(&key.PublicKey))
	verifier := oauth2.GenerateVerifier()
	q := spaSignIn(t, e, "alice", "alice-password-1", verifier, nil)
	subject := spaRedeem(t, e, q.Get("code"), verifier)["access_token"].(string)
	form := url.Values{"grant_type": {oauth.GrantTokenExchange}, "subject_token": {subject}, "subject_token_type": {oauth.TokenTypeAccessToken}}
	a := assertion(t, key, jose.ES256, func(c map[string]any) {
		c["aud"], c["iss"], c["sub"] = e.srv.URL, "order-status-api", "order-status-api"
	}, "")
	r := tokenRequest(t, e, "", keyForm(form, a))
	c, _ := claimsFromJWKS(t, e, r["access_token"].(string))
	if c["aud"] != "inventory-api" || c["client_id"] != "order-status-api" {
		t.Fatalf("exchange by assertion: %v %v", r, c)
	}
	if r := exchange(t, e, "order-status-api", "order-status-api-secret", subject, nil); r["access_token"] == nil {
		t.Errorf("the secret of a client moving to a key: %v", r)
	}
}

// TestPrivateKeyJWTReplayAcrossInstances (issue 14): an assertion used at
// one instance is refused at another sharing the PostgreSQL store.
func TestPrivateKeyJWTReplayAcrossInstances(t *testing.T) {
	testkit.SkipShort(t, "two instances over PostgreSQL")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c := startCluster(t, 2, withKeyJob(&key.PublicKey))
	a := assertion(t, key, jose.ES256, func(cl map[string]any) { cl["aud"] = c[0].srv.URL }, "client-authentication+jwt")
	form := func() url.Values {
		return keyForm(url.Values{"grant_type": {"client_credentials"}, "resource": {"order-status-api"}}, a)
	}
	if r := tokenRequest(t, c[0], "", form()); r["access_token"] == nil {
		t.Fatalf("first use at instance 1: %v", r)
	}
	if r := tokenRequest(t, c[1], "", form()); r["error"] != "invalid_client" {
		t.Errorf("replay at instance 2: %v", r)
	}
}
