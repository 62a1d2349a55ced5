package proxy_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/verify"
)

// The proxy stands in front of an API that knows nothing about tokens:
// the API reads the caller's identity from the X-Gatehouse- headers.
func ExampleNew() {
	// An API in any language; here it echoes what the proxy told it.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "subject=%s client=%s scope=%q",
			r.Header.Get(proxy.HeaderSubject), r.Header.Get(proxy.HeaderClient), r.Header.Get(proxy.HeaderScope))
	}))
	defer api.Close()
	upstream, _ := url.Parse(api.URL)

	// testkit's key and clock stand in for the issuer; in production
	// verify.New needs only Issuer and Audience.
	key := testkit.ES256Key("2026-01")
	v, err := verify.New(context.Background(), verify.Config{
		Issuer:     "https://id.example.com",
		Audience:   "order-status-api",
		StaticJWKS: testkit.JWKS(key),
		Clock:      func() time.Time { return testkit.Epoch },
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := proxy.New(proxy.Config{
		Verifier: v,
		Upstream: upstream,
		Scopes:   []string{"orders:read"},
		Realm:    "order-status-api",
	})
	if err != nil {
		log.Fatal(err)
	}

	token := key.Sign(testkit.AccessClaims("https://id.example.com", "customer-portal", testkit.Epoch,
		"openid orders:read", "customer-portal", "order-status-api"))
	for _, auth := range []string{"Bearer " + token, ""} {
		r := httptest.NewRequest("GET", "/orders/42", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		r.Header.Set("X-Gatehouse-Subject", "admin") // spoofed: removed
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		body, _ := io.ReadAll(w.Body)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), string(body))
	}
	// Output:
	// 200  subject=user-1 client=customer-portal scope="openid orders:read"
	// 401 Bearer realm="order-status-api" {"error_description":"A bearer token is required in the Authorization header"}
}
