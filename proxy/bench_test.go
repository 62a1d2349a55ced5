package proxy_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/verify"
)

// BenchmarkProxy measures the CPU the proxy adds per request beyond token
// verification (issue 3 target: at most 0.15 ms). Client, proxy and
// upstream share the process, so each sub-benchmark reports the process's
// CPU per request (cpu-µs/op) at 32 concurrent clients, in the same run:
//
//   - upstream: client → upstream, the floor;
//   - proxy: client → proxy → upstream, each request fully verified (ES256);
//   - proxy-cached: the same with verify's token cache, where verification
//     costs ~0.1 µs, so proxy-cached − upstream is the added CPU directly;
//   - verify: the bare Verify of the same token.
//
// Added CPU beyond verification = proxy − upstream − verify (and, as a
// cross-check, proxy-cached − upstream). Run with:
//
//	go test ./proxy -run '^$' -bench Proxy -benchtime 20000x -count 3
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"order":42,"status":"shipped"}`)
	}))
	defer up.Close()
	upURL, _ := url.Parse(up.URL)

	k := testkit.ES256Key("bench")
	const iss = "https://id.example.com"
	tok := k.Sign(testkit.AccessClaims(iss, "customer-portal", testkit.Epoch, "openid orders:read profile", "customer-portal", "order-status-api"))
	newVerifier := func(cache int) *verify.Verifier {
		v, err := verify.New(context.Background(), verify.Config{
			Issuer: iss, Audience: "order-status-api", StaticJWKS: testkit.JWKS(k),
			Clock: func() time.Time { return testkit.Epoch }, CacheSize: cache,
		})
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	newProxy := func(v *verify.Verifier) *httptest.Server {
		h, err := proxy.New(proxy.Config{
			Verifier: v, Upstream: upURL, Scopes: []string{"orders:read"}, Realm: "order-status-api",
			// The access log is part of the proxy's work; it goes nowhere.
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		})
		if err != nil {
			b.Fatal(err)
		}
		return httptest.NewServer(h)
	}
	plain, cached := newProxy(newVerifier(0)), newProxy(newVerifier(1000))
	defer plain.Close()
	defer cached.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 100, MaxIdleConnsPerHost: 100}}
	defer client.CloseIdleConnections()
	load := func(b *testing.B, base string) {
		req, _ := http.NewRequest("GET", base+"/orders/42", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		measureCPU(b, func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	b.Run("upstream", func(b *testing.B) { load(b, up.URL) })
	b.Run("proxy", func(b *testing.B) { load(b, plain.URL) })
	b.Run("proxy-cached", func(b *testing.B) { load(b, cached.URL) })
	b.Run("verify", func(b *testing.B) {
		v := newVerifier(0)
		measureCPU(b, func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(context.Background(), tok, "orders:read"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// measureCPU runs body on 32 goroutines (the 32 connections;
// GOMAXPROCS is typically far lower) and reports the process CPU per
// operation as cpu-µs/op.
func measureCPU(b *testing.B, body func(*testing.PB)) {
	b.SetParallelism(max(1, 32/testingProcs()))
	b.ReportAllocs()
	start := processCPU()
	b.ResetTimer()
	b.RunParallel(body)
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-start).Microseconds())/float64(b.N), "cpu-µs/op")
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }
