package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/store"
)

// withHRRule gives bob the hr group and reserves hr-api to it.
func withHRRule(c *config.Config) {
	c.Users = append(c.Users, config.User{Username: "bob", Password: "bob-password-12", Groups: []string{"hr"}})
	c.Policy = append(c.Policy, config.Rule{Name: "only HR reaches HR", OnlyGroups: &config.GroupMatch{To: []string{"hr-api"}, Groups: []string{"hr"}}})
	c.Client("spa").GroupsClaim = []string{"hr", "sales"}
}

// spaSignIn signs user in at the first-party spa (no consent page) with
// extra authorization parameters and returns the redirect's query.
func spaSignIn(t *testing.T, e *env, user, password, verifier string, extra url.Values) url.Values {
	t.Helper()
	q := url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:3000/spa"}, "response_type": {"code"},
		"scope": {"openid offline_access hr:read orders:read"}, "state": {"s"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		q[k] = v
	}
	b := newBrowser(t)
	p := b.get(e.srv.URL + "/authorize?" + q.Encode())
	if p.location == nil {
		p = b.login(e, p, user, password)
	}
	if p.location == nil {
		t.Fatalf("no redirect: %d %.500s", p.status, p.body)
	}
	return p.location.Query()
}

func spaRedeem(t *testing.T, e *env, code, verifier string) map[string]any {
	t.Helper()
	return tokenRequest(t, e, "", url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:3000/spa"}, "code_verifier": {verifier}})
}

func audOf(t *testing.T, e *env, tok string) string {
	t.Helper()
	c, _ := claimsFromJWKS(t, e, tok)
	b, _ := json.Marshal(c["aud"])
	return string(b)
}

// TestGroupsGateAudiences (issue 12): hr-api is reached by Bob (group hr)
// and not by Alice through the same client; Alice naming it is refused;
// the refresh after Bob leaves hr drops it; explain and the audit agree.
func TestGroupsGateAudiences(t *testing.T) {
	e := start(t, withHRRule)
	verifier := oauth2.GenerateVerifier()

	bob := spaSignIn(t, e, "bob", "bob-password-12", verifier, nil)
	tok := spaRedeem(t, e, bob.Get("code"), verifier)
	if got := audOf(t, e, tok["access_token"].(string)); got != `["spa","order-status-api","hr-api"]` {
		t.Fatalf("bob: aud %s (%v)", got, tok)
	}
	ac, _ := claimsFromJWKS(t, e, tok["access_token"].(string))
	idc, _ := claimsFromJWKS(t, e, tok["id_token"].(string))
	if !slices.Equal(toStrings(ac["groups"]), []string{"hr"}) || !slices.Equal(toStrings(idc["groups"]), []string{"hr"}) || idc["idp"] != "local" {
		t.Errorf("groups claim: access %v id %v idp %v", ac["groups"], idc["groups"], idc["idp"])
	}

	alice := spaSignIn(t, e, "alice", "alice-password-1", verifier, nil)
	if got := audOf(t, e, spaRedeem(t, e, alice.Get("code"), verifier)["access_token"].(string)); got != `["spa","order-status-api"]` {
		t.Errorf("alice: aud %s", got)
	}
	named := spaSignIn(t, e, "alice", "alice-password-1", verifier, url.Values{"resource": {"hr-api"}})
	if named.Get("error") != "invalid_target" || !strings.Contains(named.Get("error_description"), "only HR reaches HR") {
		t.Errorf("alice naming hr-api: %v", named)
	}
	// The explanation of the audit is the endpoint's decision.
	cfg := parseTestConfig(t, e.srv.URL)
	withHRRule(cfg)
	if x := cfg.PolicyModel().ExplainAuthorizationFor("spa", policyRequest("hr-api"), nil); x.Granted || x.Error != "invalid_target" {
		t.Errorf("explain for alice: %+v", x)
	}
	if x := cfg.PolicyModel().ExplainAuthorizationFor("spa", policyRequest(), []string{"hr"}); !x.Granted || x.Audience.String() != "spa order-status-api hr-api" {
		t.Errorf("explain for bob: %+v", x)
	}

	// Bob leaves hr: his next refresh drops hr-api, and asking for it is refused.
	cfg.Users[len(cfg.Users)-1].Groups = nil
	if _, err := e.server.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	r := tokenRequest(t, e, "", url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {tok["refresh_token"].(string)}, "resource": {"hr-api"}})
	if r["error"] != "invalid_target" {
		t.Errorf("refresh naming hr-api after leaving hr: %v", r)
	}
	r = tokenRequest(t, e, "", url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {tok["refresh_token"].(string)}})
	if got := audOf(t, e, r["access_token"].(string)); got != `["spa","order-status-api"]` {
		t.Errorf("refresh after leaving hr: aud %s (%v)", got, r)
	}
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, s := range list {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

// TestStoreUsers (issue 12, item 5): a local user kept in the store signs
// in like a YAML user; once disabled they can neither sign in nor refresh.
func TestStoreUsers(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	hash, err := secret.HashArgon2id("carol-password-1")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	carol := store.Person{Subject: "carol", Username: "carol", PasswordHash: hash, Groups: []string{"hr"},
		Claims: []byte(`{"name":"Carol Example"}`), CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreatePerson(ctx, carol); err != nil {
		t.Fatal(err)
	}
	verifier := oauth2.GenerateVerifier()
	q := spaSignIn(t, e, "carol", "carol-password-1", verifier, nil)
	tok := spaRedeem(t, e, q.Get("code"), verifier)
	idc, _ := claimsFromJWKS(t, e, tok["id_token"].(string))
	if idc["sub"] != "carol" || idc["idp"] != "local" || idc["acr"] != "urn:gatehouse:acr:password" {
		t.Fatalf("carol's ID token: %v (%v)", idc, tok)
	}
	// A wrong password is refused like any other.
	b := newBrowser(t)
	p := b.get(e.srv.URL + "/authorize?" + url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:3000/spa"},
		"response_type": {"code"}, "scope": {"openid"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"}}.Encode())
	if p = b.login(e, p, "carol", "wrong-password"); p.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", p.status)
	}
	carol.Disabled, carol.UpdatedAt = true, time.Now()
	if err := e.store.UpdatePerson(ctx, carol); err != nil {
		t.Fatal(err)
	}
	if p = b.login(e, p, "carol", "carol-password-1"); p.status != http.StatusForbidden || !strings.Contains(p.body, "disabled") {
		t.Errorf("disabled sign-in: %d %.300s", p.status, p.body)
	}
	r := tokenRequest(t, e, "", url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {tok["refresh_token"].(string)}})
	if r["error"] != "invalid_grant" {
		t.Errorf("refresh of a disabled user: %v", r)
	}
}

// policyRequest is an authorization request naming these resources.
func policyRequest(resources ...string) policy.Request {
	return policy.Request{Resources: resources, Scope: "openid offline_access hr:read orders:read", ScopeGiven: true}
}
