package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

// The benchmarks compare full verification with the bare signature check
// over the same token, in the same run, as issue 3 asks:
//
//	go test ./verify -run '^$' -bench 'Verify' -benchtime=2s -count=3 -benchmem

var benchAlgs = []string{"ES256", "EdDSA", "RS256"}

const benchIssuer = "https://id.example.com"

// benchSetup returns a verifier with a static key set and a realistic
// Gatehouse access token (two audiences, azp, three scopes).
func benchSetup(b *testing.B, alg string, cacheSize int) (*verify.Verifier, string, *testkit.Key) {
	b.Helper()
	k := testkit.NewKey(alg, "bench-"+alg)
	now := testkit.Epoch
	v, err := verify.New(context.Background(), verify.Config{
		Issuer:     benchIssuer,
		Audience:   "order-status-api",
		StaticJWKS: testkit.JWKS(k),
		Clock:      func() time.Time { return now },
		CacheSize:  cacheSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	tok := k.Sign(testkit.AccessClaims(benchIssuer, "customer-portal", now, "openid orders:read profile", "customer-portal", "order-status-api"))
	if _, err := v.Verify(context.Background(), tok, "orders:read"); err != nil {
		b.Fatal(err)
	}
	return v, tok, k
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			v, tok, _ := benchSetup(b, alg, 0)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok, "orders:read"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareVerify is the floor (see bareCheck) over the same token.
func BenchmarkBareVerify(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			_, tok, k := benchSetup(b, alg, 0)
			check := bareCheck(b, tok, k)
			b.ReportAllocs()
			for b.Loop() {
				if !check() {
					b.Fatal("bad signature")
				}
			}
		})
	}
}

// BenchmarkVerifyRatio alternates one full verification and one bare check
// in the same loop and reports both times and their ratio: on a shared
// machine this is much steadier than comparing two separate benchmarks.
func BenchmarkVerifyRatio(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			v, tok, k := benchSetup(b, alg, 0)
			check := bareCheck(b, tok, k)
			ctx := context.Background()
			var full, bare time.Duration
			n := 0
			for b.Loop() {
				t0 := time.Now()
				if _, err := v.Verify(ctx, tok, "orders:read"); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if !check() {
					b.Fatal("bad signature")
				}
				t2 := time.Now()
				full += t1.Sub(t0)
				bare += t2.Sub(t1)
				n++
			}
			b.ReportMetric(float64(full.Nanoseconds())/float64(n), "full-ns/op")
			b.ReportMetric(float64(bare.Nanoseconds())/float64(n), "bare-ns/op")
			b.ReportMetric(float64(full)/float64(bare), "ratio")
		})
	}
}

// bareCheck is the floor: hashing the signing input and the standard
// library's signature check, with the key already parsed and the signature
// already decoded (for ES256 already in the DER form ecdsa.VerifyASN1
// takes, which is cheaper than ecdsa.Verify's big.Ints).
func bareCheck(b *testing.B, tok string, k *testkit.Key) func() bool {
	dot := strings.LastIndexByte(tok, '.')
	in := tok[:dot]
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		der := derSig(r, s)
		return func() bool {
			h := sha256.Sum256([]byte(in))
			return ecdsa.VerifyASN1(pub, h[:], der)
		}
	case ed25519.PublicKey:
		msg := []byte(in)
		return func() bool { return ed25519.Verify(pub, msg, sig) }
	case *rsa.PublicKey:
		return func() bool {
			h := sha256.Sum256([]byte(in))
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil
		}
	}
	b.Fatal("unsupported key")
	return nil
}

func derSig(r, s *big.Int) []byte {
	enc := func(x *big.Int) []byte {
		b := x.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{2, byte(len(b))}, b...)
	}
	body := append(enc(r), enc(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func BenchmarkVerifyCached(b *testing.B) {
	v, tok, _ := benchSetup(b, "ES256", 1024)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok, "orders:read"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCachedParallel(b *testing.B) {
	v, tok, _ := benchSetup(b, "ES256", 1024)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, tok, "orders:read"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
