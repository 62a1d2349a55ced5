package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

// TestShop runs examples/shop.yaml in a real Gatehouse and the two APIs of
// this example against it: a customer-portal token is accepted by the Order
// Status API and refused by the HR API with the audience error; a
// back-office token is accepted by both.
func TestShop(t *testing.T) {
	ctx := context.Background()
	mux := http.NewServeMux()
	idp := httptest.NewServer(mux)
	t.Cleanup(idp.Close)
	data, err := os.ReadFile("../shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(string(data), "issuer: http://127.0.0.1:8080", "issuer: "+idp.URL, 1)
	cfg, err := config.Parse([]byte(yaml), "shop.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "shop.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.DiscardHandler)
	ring, err := keys.Open(ctx, st, keys.Options{Alg: cfg.SigningAlg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Config: cfg, Keys: ring, Store: st, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", srv.Handler())

	// Tokens as the issuer mints them for a signed-in user of each portal.
	model := policy.New(cfg.PolicyClients())
	minter := issue.New(idp.URL, time.Minute, ring, time.Now)
	tokenFor := func(client, user, scope string) string {
		g, oe := model.Grant(client, policy.Request{Scope: scope, ScopeGiven: true})
		if oe != nil {
			t.Fatal(oe)
		}
		m, err := minter.AccessToken(issue.Access{Subject: user, ClientID: client, Grant: g})
		if err != nil {
			t.Fatal(err)
		}
		return m.Token
	}
	customer := tokenFor("customer-portal", "alice", "openid orders:read")
	backoffice := tokenFor("backoffice-portal", "bob", "openid orders:read hr:read")

	orders, err := protect(ctx, idp.URL, "order-status-api", quiet)
	if err != nil {
		t.Fatal(err)
	}
	hr, err := protect(ctx, idp.URL, "hr-api", quiet)
	if err != nil {
		t.Fatal(err)
	}
	orderSrv := httptest.NewServer(orderAPI(orders))
	t.Cleanup(orderSrv.Close)
	hrSrv := httptest.NewServer(hrAPI(hr))
	t.Cleanup(hrSrv.Close)

	call := func(url, token string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	if code, _ := call(orderSrv.URL+"/orders/42", customer); code != 200 {
		t.Errorf("customer token at the order API: %d", code)
	}
	code, challenge := call(hrSrv.URL+"/employees", customer)
	want := `Bearer realm="hr-api", error="invalid_token", error_description="The audience 'customer-portal order-status-api' is invalid"`
	if code != 401 || challenge != want {
		t.Errorf("customer token at the HR API: %d %q\nwant 401 %q", code, challenge, want)
	}
	if code, _ := call(orderSrv.URL+"/orders/42", backoffice); code != 200 {
		t.Errorf("back-office token at the order API: %d", code)
	}
	if code, _ := call(hrSrv.URL+"/employees", backoffice); code != 200 {
		t.Errorf("back-office token at the HR API: %d", code)
	}
	// The right audience but not the scope: 403 insufficient_scope.
	noHR := tokenFor("backoffice-portal", "bob", "openid orders:read")
	if code, ch := call(hrSrv.URL+"/employees", noHR); code != 403 || !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="hr:read"`) {
		t.Errorf("missing scope: %d %q", code, ch)
	}
}
