package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/verify"
)

// The DPoP benchmarks compare a whole proof check (ES256, with a memory
// replay cache) with the bare signature check over the same proofs:
//
//	go test ./verify -run '^$' -bench 'Proof' -benchtime=2s -count=3 -benchmem
//
// Each proof can be accepted once, so a pool of distinct proofs is signed
// beforehand and the checker (with an empty cache) renewed, untimed, when
// the pool is used up.

const proofPool = 2048

func proofBenchSetup(b *testing.B) (proofs []string, newChecker func() *verify.ProofChecker, pub *ecdsa.PublicKey) {
	b.Helper()
	k := dpopKeys(b)["ES256"]
	proofs = make([]string, proofPool)
	for i := range proofs {
		proofs[i] = signProof(b, k, with(proofClaims(), "jti", "jti-"+strconv.Itoa(i)), proofOpts{})
	}
	clock := func() time.Time { return dpopNow }
	newChecker = func() *verify.ProofChecker {
		c, err := verify.NewProofChecker(verify.ProofConfig{Replay: verify.NewMemoryReplayCacheClock(proofPool, clock), Clock: clock})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	return proofs, newChecker, k.priv.Public().(*ecdsa.PublicKey)
}

func BenchmarkProofCheck(b *testing.B) {
	proofs, newChecker, _ := proofBenchSetup(b)
	c := newChecker()
	ctx := context.Background()
	req := defaultRequest()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(proofs) {
			b.StopTimer()
			c, i = newChecker(), 0
			b.StartTimer()
		}
		if _, err := c.Check(ctx, proofs[i], req); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkProofBareVerify is the floor: SHA-256 of the signing input and
// ecdsa.VerifyASN1, with the key parsed and the signature in DER already.
func BenchmarkProofBareVerify(b *testing.B) {
	proofs, _, pub := proofBenchSetup(b)
	checks := bareProofChecks(b, proofs, pub)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if !checks[i%len(checks)]() {
			b.Fatal("bad signature")
		}
		i++
	}
}

// BenchmarkProofCheckRatio alternates a proof check and the bare check of
// the same proof in one loop and reports their ratio, steadier on a
// shared machine than two separate benchmarks.
func BenchmarkProofCheckRatio(b *testing.B) {
	proofs, newChecker, pub := proofBenchSetup(b)
	checks := bareProofChecks(b, proofs, pub)
	c := newChecker()
	ctx := context.Background()
	req := defaultRequest()
	var full, bare time.Duration
	i, n := 0, 0
	for b.Loop() {
		if i == len(proofs) {
			c, i = newChecker(), 0
		}
		t0 := time.Now()
		if _, err := c.Check(ctx, proofs[i], req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if !checks[i]() {
			b.Fatal("bad signature")
		}
		t2 := time.Now()
		full += t1.Sub(t0)
		bare += t2.Sub(t1)
		i++
		n++
	}
	b.ReportMetric(float64(full.Nanoseconds())/float64(n), "full-ns/op")
	b.ReportMetric(float64(bare.Nanoseconds())/float64(n), "bare-ns/op")
	b.ReportMetric(float64(full)/float64(bare), "ratio")
}

func bareProofChecks(b *testing.B, proofs []string, pub *ecdsa.PublicKey) []func() bool {
	out := make([]func() bool, len(proofs))
	for i, p := range proofs {
		dot := strings.LastIndexByte(p, '.')
		in := p[:dot]
		sig, err := base64.RawURLEncoding.DecodeString(p[dot+1:])
		if err != nil {
			b.Fatal(err)
		}
		der := derSig(new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
		out[i] = func() bool {
			h := sha256.Sum256([]byte(in))
			return ecdsa.VerifyASN1(pub, h[:], der)
		}
	}
	return out
}
