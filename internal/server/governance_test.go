package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
)

// withAdminAndRoutes makes backoffice-portal an admin and gives
// order-status-api two routes.
func withAdminAndRoutes(cfg *config.Config) {
	cfg.Admins = []string{"backoffice-portal"}
	api := cfg.Client("order-status-api")
	api.Routes = []config.Route{
		{Path: "/orders/{id}", Methods: []string{"GET"}, Scopes: []string{"orders:read"}},
		{Path: "/orders", Methods: []string{"POST"}, Scopes: []string{"orders:write"}},
	}
}

// jwtClaims decodes a JWT's payload without verifying it: the signature is
// checked elsewhere; here only aud/azp/scope are compared.
func jwtClaims(t *testing.T, tok string) map[string]any {
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

// TestAdminExplainMatchesTokenEndpoint: for each request, the admin
// endpoint's answer is what the token endpoint then does.
func TestAdminExplainMatchesTokenEndpoint(t *testing.T) {
	e := start(t, withAdminAndRoutes)
	admin := basic("backoffice-portal", "backoffice-portal-secret")
	secrets := map[string]string{"order-sync-job": "sync-job-secret-change-me", "hr-api": "hr-api-secret-xyz",
		"customer-portal": "customer-portal-secret", "order-status-api": "order-status-api-secret"}
	tests := []struct {
		client string
		form   url.Values
		code   string
	}{
		{"order-sync-job", url.Values{}, ""},
		{"order-sync-job", url.Values{"resource": {"https://billing.example.com", "order-status-api"}}, ""},
		{"order-sync-job", url.Values{"audience": {"order-status-api"}, "scope": {"orders:write"}}, ""},
		{"order-sync-job", url.Values{"resource": {"hr-api"}}, oauth.CodeInvalidTarget},
		{"order-sync-job", url.Values{"scope": {"hr:read"}}, oauth.CodeInvalidScope},
		{"hr-api", url.Values{}, ""},
		{"customer-portal", url.Values{}, oauth.CodeUnauthorizedClient},
	}
	for _, tc := range tests {
		t.Run(tc.client+"?"+tc.form.Encode(), func(t *testing.T) {
			ef := url.Values{"client_id": {tc.client}}
			for k, v := range tc.form {
				ef[k] = v
			}
			resp := postForm(t, e, "/admin/explain", admin, ef)
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("explain status %d: %s", resp.StatusCode, b)
			}
			var x policy.Explanation
			if err := json.NewDecoder(resp.Body).Decode(&x); err != nil {
				t.Fatal(err)
			}
			if x.Error != tc.code || len(x.Reasons) == 0 {
				t.Fatalf("explanation = %+v, want error %q and reasons", x, tc.code)
			}

			tf := url.Values{"grant_type": {"client_credentials"}}
			for k, v := range tc.form {
				tf[k] = v
			}
			tr := postForm(t, e, "/token", basic(tc.client, secrets[tc.client]), tf)
			var body map[string]any
			if err := json.NewDecoder(tr.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if x.Error != "" {
				if tr.StatusCode != x.Status || body["error"] != x.Error || body["error_description"] != x.ErrorDescription {
					t.Errorf("token endpoint: %d %v, explain said %d %q %q", tr.StatusCode, body, x.Status, x.Error, x.ErrorDescription)
				}
				return
			}
			c := jwtClaims(t, body["access_token"].(string))
			audJSON, _ := json.Marshal(c["aud"])
			wantAud, _ := json.Marshal(x.Audience)
			azp, _ := c["azp"].(string)
			scope, _ := c["scope"].(string)
			if string(audJSON) != string(wantAud) || azp != x.AZP || scope != x.Scope {
				t.Errorf("token aud=%s azp=%q scope=%q; explain aud=%s azp=%q scope=%q", audJSON, azp, scope, wantAud, x.AZP, x.Scope)
			}
		})
	}
}

func TestAdminExplainRefusals(t *testing.T) {
	e := start(t, withAdminAndRoutes)
	tests := []struct {
		name   string
		auth   string
		form   url.Values
		status int
		code   string
	}{
		{"no authentication", "", url.Values{"client_id": {"hr-api"}}, 401, oauth.CodeInvalidClient},
		{"wrong admin secret", basic("backoffice-portal", "nope-nope-nope-nope"), url.Values{"client_id": {"hr-api"}}, 401, oauth.CodeInvalidClient},
		{"not an admin", basic("order-sync-job", "sync-job-secret-change-me"), url.Values{"client_id": {"hr-api"}}, 403, oauth.CodeAccessDenied},
		{"secret in the body", "", url.Values{"client_id": {"backoffice-portal"}, "client_secret": {"backoffice-portal-secret"}}, 401, oauth.CodeInvalidClient},
		{"no client_id", basic("backoffice-portal", "backoffice-portal-secret"), url.Values{}, 400, oauth.CodeInvalidRequest},
		{"unknown client", basic("backoffice-portal", "backoffice-portal-secret"), url.Values{"client_id": {"nobody"}}, 400, oauth.CodeInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := postForm(t, e, "/admin/explain", tc.auth, tc.form)
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || body["error"] != tc.code {
				t.Errorf("got %d %v, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
			if _, leaked := body["aud"]; leaked {
				t.Errorf("a refused caller got an explanation: %v", body)
			}
		})
	}
}

func getRoutes(t *testing.T, e *env, auth, etag string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/routes", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestRoutesEndpoint(t *testing.T) {
	e := start(t, withAdminAndRoutes)
	resp := getRoutes(t, e, basic("order-status-api", "order-status-api-secret"), "")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "private, no-cache" {
		t.Fatalf("status %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	var set oauth.RouteSet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	want := oauth.RouteSet{API: "order-status-api", Routes: []oauth.Route{
		{Path: "/orders/{id}", Methods: []string{"GET"}, Scopes: []string{"orders:read"}},
		{Path: "/orders", Methods: []string{"POST"}, Scopes: []string{"orders:write"}},
	}}
	if set.API != want.API || !slices.EqualFunc(set.Routes, want.Routes, func(a, b oauth.Route) bool {
		return a.Path == b.Path && slices.Equal(a.Methods, b.Methods) && slices.Equal(a.Scopes, b.Scopes)
	}) {
		t.Errorf("routes = %+v, want %+v", set, want)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if r := getRoutes(t, e, basic("order-status-api", "order-status-api-secret"), etag); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", r.StatusCode)
	}

	// Another API sees only its own (empty) routes, under another ETag.
	r := getRoutes(t, e, basic("hr-api", "hr-api-secret-xyz"), etag)
	var other oauth.RouteSet
	if err := json.NewDecoder(r.Body).Decode(&other); err != nil || r.StatusCode != 200 || other.API != "hr-api" || other.Routes == nil || len(other.Routes) != 0 {
		t.Errorf("hr-api: %d %+v %v, want 200 and no routes", r.StatusCode, other, err)
	}
	for name, auth := range map[string]string{"none": "", "wrong secret": basic("order-status-api", "wrong-wrong-wrong-1"),
		"bearer": "Bearer x"} {
		if r := getRoutes(t, e, auth, ""); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, r.StatusCode)
		}
	}

	// Discovery names the endpoint.
	dr, err := http.Get(e.srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Body.Close()
	var doc map[string]any
	_ = json.NewDecoder(dr.Body).Decode(&doc)
	if doc[oauth.DiscoveryRoutesEndpoint] != e.srv.URL+"/routes" {
		t.Errorf("discovery %s = %v", oauth.DiscoveryRoutesEndpoint, doc[oauth.DiscoveryRoutesEndpoint])
	}
}

func usageOf(t *testing.T, st store.Store) map[string]int64 {
	t.Helper()
	rows, err := st.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for _, r := range rows {
		m[r.ClientID+" → "+r.Audience] = r.Count
		if r.LastIssued.IsZero() || time.Since(r.LastIssued) > time.Minute {
			t.Errorf("%s → %s: LastIssued %v, want just now", r.ClientID, r.Audience, r.LastIssued)
		}
	}
	return m
}

// failingUsage refuses AddUsage while fail is set.
type failingUsage struct {
	store.Store
	fail atomic.Bool
}

func (f *failingUsage) AddUsage(ctx context.Context, ds []store.UsageDelta) error {
	if f.fail.Load() {
		return errors.New("database is down")
	}
	return f.Store.AddUsage(ctx, ds)
}

// TestUsageFlushedOnTimer: tokens of every grant are counted per aud
// value in memory, and RunUsage writes them on its timer, not per token.
func TestUsageFlushedOnTimer(t *testing.T) {
	e := start(t)
	job := basic("order-sync-job", "sync-job-secret-change-me")
	for _, form := range []url.Values{
		{"grant_type": {"client_credentials"}},
		{"grant_type": {"client_credentials"}},
		{"grant_type": {"client_credentials"}, "resource": {"order-status-api"}},
	} {
		if m := tokenRequest(t, e, job, form); m["access_token"] == nil {
			t.Fatalf("token request failed: %v", m)
		}
	}
	// A refused request counts nothing.
	tokenRequest(t, e, job, url.Values{"grant_type": {"client_credentials"}, "resource": {"hr-api"}})
	if got := usageOf(t, e.store); len(got) != 0 {
		t.Fatalf("usage written before any flush: %v", got)
	}
	want := map[string]int64{
		"order-sync-job → order-sync-job":              2,
		"order-sync-job → order-status-api":            3,
		"order-sync-job → https://billing.example.com": 2,
	}
	// RunUsage runs in a synctest bubble, so its ticker is on the bubble's
	// fake clock: nothing is written one nanosecond before the interval,
	// and at the interval synctest.Wait returns once the flush is done
	// (the store is SQLite, in-process, so the flush does not leave the
	// bubble's goroutines blocked on anything outside it).
	synctest.Test(t, func(t *testing.T) {
		const every = 20 * time.Millisecond
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); e.server.RunUsage(ctx, every) }()
		time.Sleep(every - time.Nanosecond)
		synctest.Wait()
		if rows, err := e.store.Usage(ctx); err != nil || len(rows) != 0 {
			t.Fatalf("usage before the timer fired: %v %v", rows, err)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait() // the tick's flush has finished
		cancel()
		<-done
	})
	if got := usageOf(t, e.store); !maps.Equal(got, want) {
		t.Fatalf("usage after the timer = %v, want %v", got, want)
	}
	// Later flushes add, they do not rewrite.
	tokenRequest(t, e, job, url.Values{"grant_type": {"client_credentials"}, "audience": {"order-status-api"}})
	if err := e.server.FlushUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := usageOf(t, e.store)["order-sync-job → order-status-api"]; got != 4 {
		t.Errorf("after another token and a flush: %d, want 4", got)
	}
}

// TestUsageKeptWhenFlushFails: a failed write loses no counts.
func TestUsageKeptWhenFlushFails(t *testing.T) {
	fs := &failingUsage{}
	e := start(t)
	fs.Store = e.store
	cfg := parseTestConfig(t, e.srv.URL)
	s := newServer(t, cfg, e, fs)
	h := s.Handler()
	for range 3 {
		req, _ := http.NewRequest("POST", "/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", basic("hr-api", "hr-api-secret-xyz"))
		rec := newRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("token: %d %s", rec.Code, rec.Body)
		}
	}
	fs.fail.Store(true)
	if err := s.FlushUsage(context.Background()); err == nil {
		t.Fatal("FlushUsage with a failing store = nil")
	}
	fs.fail.Store(false)
	if err := s.FlushUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := usageOf(t, e.store)["hr-api → hr-api"]; got != 3 {
		t.Errorf("hr-api → hr-api = %d after a failed then a good flush, want 3", got)
	}
}

func newServer(t testing.TB, cfg *config.Config, e *env, st store.Store) *server.Server {
	t.Helper()
	s, err := server.New(server.Options{Config: cfg, Keys: e.ring, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
