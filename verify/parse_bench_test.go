package verify

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
)

// BenchmarkParse measures the format check alone (split, base64url, strict
// JSON of header and claims): the part of Verify that is not crypto.
func BenchmarkParse(b *testing.B) {
	k := testkit.ES256Key("k1")
	now := testkit.Epoch
	tok := k.Sign(testkit.AccessClaims("https://id.example.com", "customer-portal", now, "openid orders:read profile", "customer-portal", "order-status-api"))
	v, err := New(context.Background(), Config{Issuer: "https://id.example.com", Audience: "order-status-api", StaticJWKS: testkit.JWKS(k), Clock: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var p parsed
		var hb [256]byte
		var sb [512]byte
		if _, e := v.parse(&p, tok, hb[:0], sb[:0]); e != nil {
			b.Fatal(e)
		}
	}
}
