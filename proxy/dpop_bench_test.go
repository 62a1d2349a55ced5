package proxy_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/verify"
)

// BenchmarkProxyDPoP (issue 15): the proxy's CPU per request with a
// DPoP-bound token and a proof, next to a plain Bearer request, at 32
// concurrent clients, process CPU per request as in BenchmarkProxy. No
// token cache: each Bearer request verifies one signature, each DPoP
// request two (token and proof). Proofs are made (by go-jose) before the
// timer starts, one per request, so the client's signing is not counted.
// The proxy's own CPU is each figure minus upstream's (the client and the
// upstream share the process). Target: dpop − upstream ≤ 2.3 × (bearer −
// upstream). Run with:
//
//	go test ./proxy -run '^$' -bench ProxyDPoP -benchtime 10000x -count 3
func BenchmarkProxyDPoP(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"order":42,"status":"shipped"}`)
	}))
	defer up.Close()
	upURL, _ := url.Parse(up.URL)
	k := testkit.ES256Key("bench")
	const iss = "https://id.example.com"
	ck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tp, _ := (&jose.JSONWebKey{Key: &ck.PublicKey}).Thumbprint(crypto.SHA256)
	claims := testkit.AccessClaims(iss, "customer-portal", time.Now(), "openid orders:read profile", "customer-portal", "order-status-api")
	bearer := k.Sign(claims)
	bound := k.Sign(claims.With("cnf", map[string]any{"jkt": base64.RawURLEncoding.EncodeToString(tp)}))
	pc, err := verify.NewProofChecker(verify.ProofConfig{Replay: verify.NewMemoryReplayCache(1 << 20)})
	if err != nil {
		b.Fatal(err)
	}
	v, err := verify.New(context.Background(), verify.Config{Issuer: iss, Audience: "order-status-api",
		StaticJWKS: testkit.JWKS(k), DPoP: pc})
	if err != nil {
		b.Fatal(err)
	}
	h, err := proxy.New(proxy.Config{Verifier: v, Upstream: upURL, Scopes: []string{"orders:read"}, Realm: "order-status-api",
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	px := httptest.NewServer(h)
	defer px.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 100, MaxIdleConnsPerHost: 100}}
	defer client.CloseIdleConnections()
	target := px.URL + "/orders/42"
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: ck}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	sum := sha256.Sum256([]byte(bound))
	ath := base64.RawURLEncoding.EncodeToString(sum[:])
	call := func(b *testing.B, scheme, tok, proof string) bool {
		req, _ := http.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", scheme+" "+tok)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Errorf("status %d %v", resp.StatusCode, resp.Header)
			return false
		}
		return true
	}
	b.Run("upstream", func(b *testing.B) {
		// The floor: the client and the upstream without the proxy, to
		// subtract from the two below.
		measureCPU(b, func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(up.URL + "/orders/42")
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	})
	b.Run("bearer", func(b *testing.B) {
		measureCPU(b, func(pb *testing.PB) {
			for pb.Next() && call(b, "Bearer", bearer, "") {
			}
		})
	})
	b.Run("dpop", func(b *testing.B) {
		proofs := make([]string, b.N)
		for i := range proofs {
			c, _ := json.Marshal(map[string]any{"jti": rand.Text(), "htm": "GET", "htu": target, "iat": time.Now().Unix(), "ath": ath})
			jws, err := signer.Sign(c)
			if err != nil {
				b.Fatal(err)
			}
			proofs[i], _ = jws.CompactSerialize()
		}
		var next atomic.Int64
		measureCPU(b, func(pb *testing.PB) {
			for pb.Next() && call(b, "DPoP", bound, proofs[next.Add(1)-1]) {
			}
		})
	})
}
