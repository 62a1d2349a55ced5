package server_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/server"
)

// BenchmarkDPoPTokenRatio (issue 15): a client_credentials request with a
// DPoP proof (ES256, made beforehand by go-jose, each with its own jti),
// alternated in one loop with the same request without a proof and with
// the floor: one bare ES256 verification plus one bare ES256 signature with
// crypto/ecdsa. Target: the DPoP request at most 1.25× the floor.
func BenchmarkDPoPTokenRatio(b *testing.B) {
	e := startWith(b, func(o *server.Options) { o.AccessLog = false })
	server.DisableUsage(e.server)
	h := e.server.Handler()
	k := newDPoPKey(b)
	const n = 4096
	proofs := make([]string, n)
	for i := range proofs {
		proofs[i] = k.proof(b, "POST", e.srv.URL+"/token", nil)
	}
	auth := basic("order-sync-job", "sync-job-secret-change-me")
	body := ccForm.Encode()
	post := func(proof string) {
		req := httptest.NewRequest("POST", "/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body.String())
		}
	}
	post("")
	input := []byte(proofs[0][:strings.LastIndexByte(proofs[0], '.')])
	digest := sha256.Sum256(input)
	sig, _ := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	var withProof, plain, floor time.Duration
	i := 0
	for b.Loop() {
		if i == n {
			b.Fatalf("more than %d iterations: use -benchtime %dx or less", n, n)
		}
		t0 := time.Now()
		post(proofs[i])
		i++
		t1 := time.Now()
		post("")
		t2 := time.Now()
		d := sha256.Sum256(input)
		if !ecdsa.VerifyASN1(&k.priv.PublicKey, d[:], sig) {
			b.Fatal("bad signature")
		}
		if _, err := ecdsa.SignASN1(rand.Reader, k.priv, d[:]); err != nil {
			b.Fatal(err)
		}
		withProof, plain, floor = withProof+t1.Sub(t0), plain+t2.Sub(t1), floor+time.Since(t2)
	}
	per := func(d time.Duration) float64 { return float64(d) / float64(b.N) }
	b.ReportMetric(per(withProof), "dpop-ns/op")
	b.ReportMetric(per(plain), "bearer-ns/op")
	b.ReportMetric(per(floor), "floor-ns/op")
	b.ReportMetric(float64(withProof)/float64(floor), "ratio")
}
