package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

func noEnv(string) (string, bool) { return "", false }

// shopWithStorage writes examples/shop.yaml with storage: pointing at db
// and listen: on a free port, and returns the file and its config.
func shopWithStorage(t *testing.T, db string) (string, *config.Config) {
	t.Helper()
	data, err := os.ReadFile("../../examples/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(string(data), "storage: sqlite:gatehouse.db", "storage: sqlite:"+db, 1)
	yaml = strings.Replace(yaml, "listen: 127.0.0.1:8080", "listen: 127.0.0.1:0", 1)
	path := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

// TestExplainMatchesTokenEndpoint: for every client of examples/shop.yaml
// and a table of requests, `gatehouse audit --explain` says exactly what
// a real token request to a running server then gets: the same aud, azp
// and scope in the token, or the same error, description and status.
func TestExplainMatchesTokenEndpoint(t *testing.T) {
	path, cfg := shopWithStorage(t, filepath.Join(t.TempDir(), "gh.db"))
	base, stop := runServer(t, cfg, noEnv, io.Discard)
	defer stop()

	type request struct {
		name      string
		resources []string
		audience  string
		scopes    []string
	}
	requests := func(client string) []request {
		return []request{
			{name: "none"},
			{name: "narrowed to itself", resources: []string{client}},
			{name: "narrowed by resource", resources: []string{"order-status-api"}},
			{name: "narrowed by audience", audience: "order-status-api " + client},
			{name: "invalid_target", resources: []string{"order-status-api", "https://evil.example.com"}},
			{name: "narrowed scope", scopes: []string{"orders:read"}},
			{name: "invalid_scope", scopes: []string{"orders:read", "admin"}},
		}
	}
	granted, refused := 0, 0
	for _, c := range cfg.Clients {
		for _, rq := range requests(c.ID) {
			t.Run(c.ID+"/"+rq.name, func(t *testing.T) {
				args := []string{"audit", "--config", path, "--explain", c.ID, "--grant", "client_credentials", "--format", "json"}
				form := url.Values{"grant_type": {"client_credentials"}}
				for _, r := range rq.resources {
					args = append(args, "--resource", r)
					form.Add("resource", r)
				}
				if rq.audience != "" {
					args = append(args, "--audience", rq.audience)
					form.Set("audience", rq.audience)
				}
				for _, s := range rq.scopes {
					args = append(args, "--scope", s)
				}
				if len(rq.scopes) > 0 {
					form.Set("scope", strings.Join(rq.scopes, " "))
				}
				out, errOut, status := runCLI(t, args...)
				var x policy.Explanation
				if err := json.Unmarshal([]byte(out), &x); err != nil {
					t.Fatalf("explain output %q (stderr %q): %v", out, errOut, err)
				}
				if wantStatus := map[bool]int{true: 0, false: 1}[x.Granted]; status != wantStatus {
					t.Errorf("exit status %d, want %d", status, wantStatus)
				}

				req, _ := http.NewRequest("POST", base+"/token", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(c.ID, c.Secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
					t.Fatal(err)
				}
				if !x.Granted {
					refused++
					if resp.StatusCode != x.Status || body["error"] != x.Error || body["error_description"] != x.ErrorDescription {
						t.Errorf("token endpoint answered %d %v\nexplain said %d %s %q", resp.StatusCode, body, x.Status, x.Error, x.ErrorDescription)
					}
					return
				}
				granted++
				tok, _ := body["access_token"].(string)
				if resp.StatusCode != 200 || tok == "" {
					t.Fatalf("explain granted, token endpoint answered %d %v", resp.StatusCode, body)
				}
				claims := tokenPayload(t, tok)
				gotAud, _ := json.Marshal(claims["aud"])
				wantAud, _ := json.Marshal(x.Audience)
				azp, _ := claims["azp"].(string)
				scope, _ := claims["scope"].(string)
				if string(gotAud) != string(wantAud) || azp != x.AZP || scope != x.Scope || body["scope"] != nilIfEmpty(x.Scope) {
					t.Errorf("token: aud=%s azp=%q scope=%q (response scope %v)\nexplain: aud=%s azp=%q scope=%q",
						gotAud, azp, scope, body["scope"], wantAud, x.AZP, x.Scope)
				}
			})
		}
	}
	// The table must exercise both outcomes, or it proves little.
	if granted < 10 || refused < 10 {
		t.Errorf("%d granted and %d refused requests compared; the table should have many of each", granted, refused)
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// tokenPayload decodes a JWT's claims (the signature is verified by other
// tests; here only the claims are compared).
func tokenPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExplainText(t *testing.T) {
	out, _, status := runCLI(t, "audit", "--config", "../../examples/shop.yaml", "--explain", "order-sync-job", "--resource", "order-status-api")
	for _, want := range []string{
		"client_credentials token request by order-sync-job (resource=order-status-api)",
		`aud:   "order-status-api"`, "azp:   order-sync-job", "scope: orders:read orders:write",
		"default audience = the client itself ('order-sync-job') + its configured audience: 'order-sync-job order-status-api'",
		"narrowed by resource/audience to 'order-status-api'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	_, errOut, status := runCLI(t, "audit", "--config", "../../examples/shop.yaml", "--explain", "no-such-client")
	if status != 2 || !strings.Contains(errOut, `no client "no-such-client"`) {
		t.Errorf("unknown client: status %d, stderr %q", status, errOut)
	}
	if _, errOut, status := runCLI(t, "audit", "--config", "../../examples/shop.yaml", "--resource", "hr-api"); status != 2 || !strings.Contains(errOut, "go with --explain") {
		t.Errorf("--resource without --explain: status %d, stderr %q", status, errOut)
	}
}

func TestWhoCan(t *testing.T) {
	tests := []struct {
		request string
		want    []string
		absent  []string
		status  int
	}{
		{"GET /orders/{id}", []string{"matches route /orders/{id} [GET], which needs scope orders:read",
			"customer-portal", "backoffice-portal", "order-sync-job", "order-status-api         the API itself"}, []string{"lack a scope", "hr-api"}, 0},
		{"GET /orders/42", []string{"matches route /orders/{id}"}, nil, 0},
		{"POST /orders", []string{"needs scope orders:write", "backoffice-portal", "order-sync-job",
			"lack a scope", "customer-portal          missing orders:write"}, nil, 0},
		{"DELETE /orders/42", []string{"matches no route", "no client can call it"}, nil, 0},
		{"get /orders/42", nil, nil, 2},
		{"/orders/42", nil, nil, 2},
	}
	for _, tc := range tests {
		t.Run(tc.request, func(t *testing.T) {
			out, errOut, status := runCLI(t, "audit", "--config", "../../examples/shop.yaml", "--who-can", tc.request, "--api", "order-status-api")
			if status != tc.status {
				t.Fatalf("exit status %d, want %d; stderr %s", status, tc.status, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(out, a) {
					t.Errorf("output has %q:\n%s", a, out)
				}
			}
		})
	}
	// The Inventory API is reached through the Order Status API's hop.
	out, _, _ := runCLI(t, "audit", "--config", "../../examples/shop.yaml", "--who-can", "GET /stock/{sku}", "--api", "inventory-api")
	if !strings.Contains(out, "Reach it through token exchange") ||
		!strings.Contains(out, "  customer-portal → order-status-api ⇒ inventory-api  (for a signed-in user; 1 exchange)") {
		t.Errorf("who-can through a hop:\n%s", out)
	}
	out, _, _ = runCLI(t, "audit", "--config", "../../examples/shop.yaml", "--who-can", "POST /orders", "--api", "order-status-api", "--format", "json")
	var rep struct {
		Callers []struct{ Client string } `json:"callers"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Callers) != 2 ||
		rep.Callers[0].Client != "backoffice-portal" || rep.Callers[1].Client != "order-sync-job" {
		t.Errorf("json callers = %+v (%v)\n%s", rep.Callers, err, out)
	}
}

// TestUsageFlushedOnShutdown: counts gathered since the last periodic
// flush reach the store when serve stops.
func TestUsageFlushedOnShutdown(t *testing.T) {
	db := filepath.Join(t.TempDir(), "gh.db")
	cfg := testConfig(t, db)
	base, stop := runServer(t, cfg, noEnv, io.Discard)
	fetchToken(t, base)
	fetchToken(t, base)
	stop()
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		got[r.ClientID+" → "+r.Audience] = r.Count
	}
	if len(got) != 2 || got["order-sync-job → order-sync-job"] != 2 || got["order-sync-job → order-status-api"] != 2 {
		t.Errorf("usage after shutdown = %v, want both audiences of order-sync-job at 2", got)
	}
}

func TestAuditUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "gh.db")
	path, _ := shopWithStorage(t, db)
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.AddUsage(context.Background(), []store.UsageDelta{
		{ClientID: "order-sync-job", Audience: "order-sync-job", Count: 42, LastIssued: now.Add(-time.Hour)},
		{ClientID: "order-sync-job", Audience: "order-status-api", Count: 40, LastIssued: now.Add(-time.Hour)},
		{ClientID: "customer-portal", Audience: "order-status-api", Count: 5, LastIssued: now.Add(-40 * 24 * time.Hour)},
		{ClientID: "backoffice-portal", Audience: "order-status-api", Count: 7, LastIssued: now.Add(-2 * 24 * time.Hour)},
		{ClientID: "retired-job", Audience: "order-status-api", Count: 3, LastIssued: now.Add(-90 * 24 * time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out, errOut, status := runCLI(t, "audit", "--config", path, "--usage")
	if status != 0 {
		t.Fatalf("exit status %d: %s", status, errOut)
	}
	for _, want := range []string{
		"Candidates to remove (granted, not requested in the last 30 days): 2",
		"  customer-portal → order-status-api: last requested " + now.Add(-40*24*time.Hour).UTC().Format("2006-01-02 15:04 UTC"),
		"  backoffice-portal → hr-api: never requested",
		"  retired-job → order-status-api: 3 tokens",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, absent := range []string{"order-sync-job → order-status-api:", "backoffice-portal → order-status-api:"} {
		if strings.Contains(out, absent) {
			t.Errorf("%q is used and must not be a candidate:\n%s", absent, out)
		}
	}

	// A longer window keeps the customer portal's audience.
	out, _, _ = runCLI(t, "audit", "--config", path, "--usage", "--days", "60", "--format", "json")
	var rep struct {
		Candidates []struct{ Client, Audience string } `json:"candidates"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Candidates) != 1 || rep.Candidates[0].Client != "backoffice-portal" || rep.Candidates[0].Audience != "hr-api" {
		t.Errorf("--days 60 candidates = %+v, want only backoffice-portal → hr-api", rep.Candidates)
	}

	// No database: an error, and none is created.
	missing, _ := shopWithStorage(t, filepath.Join(t.TempDir(), "absent.db"))
	if _, errOut, status := runCLI(t, "audit", "--config", missing, "--usage"); status != 2 || !strings.Contains(errOut, "absent.db") {
		t.Errorf("missing database: status %d, stderr %q", status, errOut)
	}
}

// TestExplainForPerson (issue 12): --user and --groups explain an
// authorization request for a person with the shop's only_groups rule,
// and the report names the groups that reach hr-api.
func TestExplainForPerson(t *testing.T) {
	shop := "../../examples/shop.yaml"
	out, _, status := runCLI(t, "audit", "--config", shop, "--explain", "backoffice-portal", "--user", "bob")
	if status != 0 || !strings.Contains(out, `aud:   ["backoffice-portal","order-status-api","hr-api"]`) || !strings.Contains(out, "the person is bob") {
		t.Errorf("bob (hr): status %d\n%s", status, out)
	}
	out, _, status = runCLI(t, "audit", "--config", shop, "--explain", "backoffice-portal", "--user", "alice")
	if status != 0 || !strings.Contains(out, `aud:   ["backoffice-portal","order-status-api"]`) ||
		!strings.Contains(out, "'hr-api' leaves the audience: policy rule 'only HR staff reach the HR API'") {
		t.Errorf("alice: status %d\n%s", status, out)
	}
	out, _, status = runCLI(t, "audit", "--config", shop, "--explain", "backoffice-portal", "--groups", "sales", "--resource", "hr-api")
	if status != 1 || !strings.Contains(out, "error=invalid_target") {
		t.Errorf("sales naming hr-api: status %d\n%s", status, out)
	}
	if _, errOut, status := runCLI(t, "audit", "--config", shop, "--explain", "order-sync-job", "--grant", "client_credentials", "--groups", "hr"); status != 2 || !strings.Contains(errOut, "for a person") {
		t.Errorf("--groups with client_credentials: status %d %s", status, errOut)
	}
	out, _, _ = runCLI(t, "audit", "--config", shop)
	if !strings.Contains(out, `for a person only in group hr (rule "only HR staff reach the HR API")`) {
		t.Errorf("the report does not show the group gate:\n%s", out)
	}
}

// TestExplainExchange (issue 14): the audit explains a token exchange with
// the endpoint's decision.
func TestExplainExchange(t *testing.T) {
	out, _, status := runCLI(t, "audit", "--config", "../../examples/shop.yaml", "--explain", "order-status-api", "--grant", "token_exchange")
	if status != 0 || !strings.Contains(out, "token exchange (RFC 8693) by order-status-api") || !strings.Contains(out, `aud:   "inventory-api"`) {
		t.Errorf("status %d\n%s", status, out)
	}
	out, _, status = runCLI(t, "audit", "--config", "../../examples/shop.yaml", "--explain", "order-status-api", "--grant", "token_exchange", "--resource", "hr-api")
	if status != 1 || !strings.Contains(out, "invalid_target") {
		t.Errorf("outside exchange_to: status %d\n%s", status, out)
	}
}
