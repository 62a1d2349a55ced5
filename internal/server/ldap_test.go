package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit/slapdtest"
)

// withDirectory adds the slapd fixture as connector "staff", with the
// hr-api rule of withHRRule.
func withDirectory(s *slapdtest.Server) func(*config.Config) {
	return func(c *config.Config) {
		withHRRule(c)
		c.Connectors = append(c.Connectors, config.Connector{ID: "staff", Name: "Staff directory", LDAP: &config.LDAPConnector{
			URL: s.URL, BindDN: slapdtest.ServiceDN, BindPassword: slapdtest.ServicePassword,
			UserBaseDN: slapdtest.PeopleDN, GroupBaseDN: slapdtest.GroupsDN}})
	}
}

// directoryLogin signs user in through the directory at the spa and
// returns the last page.
func directoryLogin(t *testing.T, e *env, b *browser, user, password string) page {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	p := b.get(e.srv.URL + "/authorize?" + url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:3000/spa"},
		"response_type": {"code"}, "scope": {"openid offline_access hr:read"}, "state": {"s"}, "idp_hint": {"staff"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}.Encode())
	if !strings.Contains(p.body, `value="staff"`) || strings.Contains(p.body, "Local account") {
		t.Fatalf("idp_hint=staff: the form does not offer just the directory: %.600s", p.body)
	}
	form := hiddenFields(p.body)
	form.Set("source", "staff")
	form.Set("username", user)
	form.Set("password", password)
	p = b.post(e.srv.URL+"/authorize", form)
	if p.location != nil {
		p.body = verifier // the caller redeems with it
	}
	return p
}

// TestDirectorySignIn (issue 12): people of a real slapd sign in on the
// login page, get their directory groups (hr-api for bob), and the refresh
// after bob leaves hr in the directory drops hr-api; a wrong password is
// refused and counted; a directory that went down gives a clear page.
func TestDirectorySignIn(t *testing.T) {
	s := slapdtest.Start(t)
	e := start(t, withDirectory(s))
	b := newBrowser(t)
	p := directoryLogin(t, e, b, "bob", slapdtest.People["bob"])
	if p.location == nil || p.location.Query().Get("code") == "" {
		t.Fatalf("bob: %d %.400s", p.status, p.body)
	}
	tok := spaRedeem(t, e, p.location.Query().Get("code"), p.body)
	id, _ := claimsFromJWKS(t, e, tok["id_token"].(string))
	if id["sub"] != "staff:bob" || id["idp"] != "staff" || id["acr"] != "urn:gatehouse:acr:password" {
		t.Errorf("ID token: %v", id)
	}
	if got := audOf(t, e, tok["access_token"].(string)); got != `["spa","order-status-api","hr-api"]` {
		t.Errorf("bob's aud %s", got)
	}
	// Out of hr in the directory: the next refresh asks it again.
	if err := s.RemoveFromGroup("bob", "hr"); err != nil {
		t.Fatal(err)
	}
	r := tokenRequest(t, e, "", url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {tok["refresh_token"].(string)}})
	if got := audOf(t, e, r["access_token"].(string)); got != `["spa","order-status-api"]` {
		t.Errorf("after leaving hr: aud %s (%v)", got, r)
	}
	// The same name as a local user is another person.
	if p := directoryLogin(t, e, newBrowser(t), "alice", "alice-password-1"); p.status != http.StatusUnauthorized {
		t.Errorf("the local password at the directory: %d", p.status)
	}
	for _, bad := range []string{"*", "bob)(uid=*", "wrong"} {
		if p := directoryLogin(t, e, newBrowser(t), bad, "nope-nope"); p.status != http.StatusUnauthorized {
			t.Errorf("%q: %d", bad, p.status)
		}
	}
	// Down: refused with a page, and the refresh fails closed.
	s.Stop()
	if p := directoryLogin(t, e, newBrowser(t), "carol", slapdtest.People["carol"]); p.status != http.StatusServiceUnavailable {
		t.Errorf("directory down: %d %.300s", p.status, p.body)
	}
	r = tokenRequest(t, e, "", url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {r["refresh_token"].(string)}})
	if r["error"] != "server_error" {
		t.Errorf("refresh with the directory down: %v", r)
	}
}

// TestDirectoryLockout: failed directory sign-ins lock the name like a
// local user's, under ID:username.
func TestDirectoryLockout(t *testing.T) {
	s := slapdtest.Start(t)
	e := start(t, withDirectory(s))
	for range 5 {
		if p := directoryLogin(t, e, newBrowser(t), "carol", "wrong-password"); p.status != http.StatusUnauthorized {
			t.Fatalf("failure: %d", p.status)
		}
	}
	if p := directoryLogin(t, e, newBrowser(t), "carol", slapdtest.People["carol"]); p.status != http.StatusTooManyRequests {
		t.Errorf("after 5 failures: %d", p.status)
	}
}
