package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/config"
)

// withKeyJob adds a client that authenticates with private_key_jwt only.
func withKeyJob(pub *ecdsa.PublicKey) func(*config.Config) {
	return func(c *config.Config) {
		jwk := jose.JSONWebKey{Key: pub, KeyID: "job-1", Algorithm: "ES256", Use: "sig"}
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
		var m map[string]any
		json.Unmarshal(b, &m)
		c.Clients = append(c.Clients, config.Client{ID: "key-job", JWKS: m, GrantTypes: []string{"client_credentials"},
			Audience: []string{"order-status-api"}, Scopes: []string{"orders:read"}})
	}
}

// assertion signs a client assertion with go-jose (an independent JOSE
// library), claims edited by edit.
func assertion(t testing.TB, key *ecdsa.PrivateKey, alg jose.SignatureAlgorithm, edit func(c map[string]any), typ string) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", "job-1")
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := map[string]any{"iss": "key-job", "sub": "key-job", "aud": "ISSUER", "exp": now.Add(time.Minute).Unix(),
		"iat": now.Unix(), "jti": rand.Text()}
	if edit != nil {
		edit(c)
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestPrivateKeyJWT (issue 14): client_credentials with an assertion built
// by go-jose; RFC 10070's aud rule; every malformed or replayed assertion
// refused as invalid_client.
func TestPrivateKeyJWT(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e := start(t, withKeyJob(&key.PublicKey))
	iss := e.srv.URL
	send := func(a string) map[string]any {
		return tokenRequest(t, e, "", url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}})
	}
	withIss := func(edit func(map[string]any)) func(map[string]any) {
		return func(c map[string]any) {
			c["aud"] = iss
			if edit != nil {
				edit(c)
			}
		}
	}
	// A secret for a keys-only client is refused.
	if r := tokenRequest(t, e, basic("key-job", "some-secret-value"), url.Values{"grant_type": {"client_credentials"}}); r["error"] != "invalid_client" {
		t.Errorf("secret for a keys-only client: %v", r)
	}
	good := assertion(t, key, jose.ES256, withIss(nil), "client-authentication+jwt")
	if r := send(good); r["access_token"] == nil {
		t.Fatalf("a good assertion: %v", r)
	}
	if r := send(good); r["error"] != "invalid_client" {
		t.Errorf("the same assertion again (jti replay): %v", r)
	}
	for name, a := range map[string]string{
		"no typ":          assertion(t, key, jose.ES256, withIss(nil), ""),
		"aud in an array": assertion(t, key, jose.ES256, withIss(func(c map[string]any) { c["aud"] = []string{iss} }), ""),
	} {
		if r := send(a); r["access_token"] == nil {
			t.Errorf("%s: %v", name, r)
		}
	}
	for name, a := range map[string]string{
		"token endpoint as aud": assertion(t, key, jose.ES256, withIss(func(c map[string]any) { c["aud"] = iss + "/token" }), ""),
		"extra audience":        assertion(t, key, jose.ES256, withIss(func(c map[string]any) { c["aud"] = []string{iss, "https://evil.example"} }), ""),
		"no exp":                assertion(t, key, jose.ES256, withIss(func(c map[string]any) { delete(c, "exp") }), ""),
		"exp far ahead":         assertion(t, key, jose.ES256, withIss(func(c map[string]any) { c["exp"] = time.Now().Add(time.Hour).Unix() }), ""),
		"expired":               assertion(t, key, jose.ES256, withIss(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), ""),
		"no jti":                assertion(t, key, jose.ES256, withIss(func(c map[string]any) { delete(c, "jti") }), ""),
		"iss differs":           assertion(t, key, jose.ES256, withIss(func(c map[string]any) { c["iss"] = "someone" }), ""),
		"wrong key":             assertion(t, other, jose.ES256, withIss(nil), ""),
		"access token typ":      assertion(t, key, jose.ES256, withIss(nil), "at+jwt"),
		"alg none":              "eyJhbGciOiJub25lIn0." + b64(`{"iss":"key-job","sub":"key-job","aud":"`+iss+`","exp":9999999999,"jti":"x"}`) + ".",
	} {
		// Refused as invalid_client — or, once this address has failed
		// ten times, throttled: never a token.
		if r := send(a); r["access_token"] != nil || (r["error"] != "invalid_client" && r["error"] != "temporarily_unavailable") {
			t.Errorf("%s: %v", name, r)
		}
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestPrivateKeyJWTByURI: keys published at jwks_uri are fetched on first
// use and fetched again when an assertion names a new key (rotation).
func TestPrivateKeyJWTByURI(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var set atomic.Value
	publish := func(keys ...jose.JSONWebKey) {
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: keys})
		set.Store(b)
	}
	publish(jose.JSONWebKey{Key: &k1.PublicKey, KeyID: "job-1", Algorithm: "ES256"})
	var hits atomic.Int64
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(set.Load().([]byte))
	}))
	defer jwks.Close()
	e := start(t, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "key-job", JWKSURI: jwks.URL, GrantTypes: []string{"client_credentials"},
			Audience: []string{"order-status-api"}, Scopes: []string{"orders:read"}})
	})
	send := func(a string) map[string]any {
		return tokenRequest(t, e, "", url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}})
	}
	aud := func(c map[string]any) { c["aud"] = e.srv.URL }
	if r := send(assertion(t, k1, jose.ES256, aud, "")); r["access_token"] == nil {
		t.Fatalf("key 1: %v", r)
	}
	// Rotated: the client now signs with key 2, published under a new kid.
	publish(jose.JSONWebKey{Key: &k2.PublicKey, KeyID: "job-2", Algorithm: "ES256"})
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k2}, (&jose.SignerOptions{}).WithHeader("kid", "job-2"))
	now := time.Now()
	a2, _ := jwt.Signed(signer).Claims(map[string]any{"iss": "key-job", "sub": "key-job", "aud": e.srv.URL,
		"exp": now.Add(time.Minute).Unix(), "jti": rand.Text()}).Serialize()
	if r := send(a2); r["access_token"] == nil {
		t.Errorf("key 2 after rotation: %v", r)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("jwks_uri fetched %d times, want 2", n)
	}
}
