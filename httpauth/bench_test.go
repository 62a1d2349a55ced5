package httpauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

// BenchmarkMiddleware measures a request through Require next to the bare
// Verify of the same token, in the same run, so the difference is the
// middleware's own cost (header parsing, context, decision):
//
//	go test ./httpauth -run '^$' -bench Middleware -benchmem -count 3
//
// The "cached" pair uses verify's token cache, which makes verification
// nearly free and the middleware's overhead the bulk of the time.
func BenchmarkMiddleware(b *testing.B) {
	for _, cache := range []struct {
		name string
		size int
	}{{"", 0}, {"cached-", 1000}} {
		k := testkit.ES256Key("bench")
		v, err := verify.New(context.Background(), verify.Config{
			Issuer:     "https://id.example.com",
			Audience:   "order-status-api",
			StaticJWKS: testkit.JWKS(k),
			Clock:      func() time.Time { return testkit.Epoch },
			CacheSize:  cache.size,
		})
		if err != nil {
			b.Fatal(err)
		}
		tok := k.Sign(testkit.AccessClaims("https://id.example.com", "customer-portal", testkit.Epoch,
			"openid orders:read profile", "customer-portal", "order-status-api"))
		ctx := context.Background()

		b.Run(cache.name+"verify", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok, "orders:read"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(cache.name+"middleware", func(b *testing.B) {
			reached := 0
			h := httpauth.New(v, httpauth.WithRealm("order-status-api")).Require("orders:read")(
				http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }))
			r := httptest.NewRequest("GET", "/orders/42", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			w := discardWriter{}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			if reached != b.N {
				b.Fatalf("handler reached %d of %d times", reached, b.N)
			}
		})
	}
}

// discardWriter is a ResponseWriter that costs nothing, so the benchmark
// measures the middleware rather than a recorder.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}
