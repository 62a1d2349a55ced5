package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/verify"
)

// TestDPoPInteropOauth4webapi (issue 15): oauth4webapi, a DPoP client
// nobody here wrote, unmodified (tools/node/dpop-client.mjs), obtains a
// DPoP-bound token from Gatehouse — answering its use_dpop_nonce challenge
// when the issuer requires nonces — and uses it through gatehouse proxy;
// the same token as Bearer is refused with the DPoP challenge.
func TestDPoPInteropOauth4webapi(t *testing.T) {
	testkit.SkipShort(t, "runs oauth4webapi under Node 22")
	script := filepath.Join("..", "..", "tools", "node", "dpop-client.mjs")
	if _, err := os.Stat(filepath.Join("..", "..", "tools", "node", "node_modules", "oauth4webapi")); err != nil {
		testkit.Missing(t, "oauth4webapi is not installed (npm ci in tools/node)")
	}
	for _, nonce := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "require_nonce"}[nonce], func(t *testing.T) {
			e := start(t, func(c *config.Config) {
				if nonce {
					c.DPoP = &config.DPoP{RequireNonce: true}
				}
			})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// What the upstream sees of the credentials: nothing.
				json.NewEncoder(w).Encode(map[string]string{"sub": r.Header.Get(proxy.HeaderSubject),
					"authorization": r.Header.Get("Authorization"), "dpop": r.Header.Get("DPoP")})
			}))
			defer up.Close()
			pc, err := verify.NewProofChecker(verify.ProofConfig{Replay: verify.NewMemoryReplayCache(1000)})
			if err != nil {
				t.Fatal(err)
			}
			v, err := verify.New(context.Background(), verify.Config{Issuer: e.srv.URL, Audience: "order-status-api",
				InsecureAllowHTTP: true, DPoP: pc})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(up.URL)
			h, err := proxy.New(proxy.Config{Verifier: v, Upstream: u, Scopes: []string{"orders:read"}, Realm: "order-status-api"})
			if err != nil {
				t.Fatal(err)
			}
			px := httptest.NewServer(h)
			defer px.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, conformanceNode, script, e.srv.URL, "order-sync-job", "sync-job-secret-change-me",
				"order-status-api", px.URL+"/orders/42").CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var got struct {
				TokenType       string `json:"token_type"`
				NonceRetry      bool   `json:"nonce_retry"`
				Status          int    `json:"status"`
				Body            string `json:"body"`
				BearerStatus    int    `json:"bearer_status"`
				BearerChallenge string `json:"bearer_challenge"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got.NonceRetry != nonce {
				t.Errorf("retried with the server's nonce: %v, want %v", got.NonceRetry, nonce)
			}
			if got.TokenType != "dpop" && got.TokenType != "DPoP" || got.Status != 200 ||
				got.Body != `{"authorization":"","dpop":"","sub":"order-sync-job"}`+"\n" {
				t.Errorf("the DPoP call: %+v", got)
			}
			if got.BearerStatus != 401 || !strings.HasPrefix(got.BearerChallenge, "DPoP ") || !strings.Contains(got.BearerChallenge, `error="invalid_token"`) {
				t.Errorf("the stolen token as Bearer: %+v", got)
			}
		})
	}
}
