package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
)

// clientDocument serves a Client ID Metadata Document at /client.json
// naming redirect as its one redirect URI, and counts fetches.
func clientDocument(t testing.TB, redirect string) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"Example Agent","redirect_uris":[%q],"grant_types":["authorization_code","refresh_token"]}`,
			srv.URL+"/client.json", redirect)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func withMetadataClients(c *config.Config) {
	c.ClientMetadataDocuments = &config.MetadataClients{AllowedHosts: []string{"127.0.0.1"}, AllowLoopback: true,
		Audience: []string{"order-status-api"}, Scopes: []string{"openid", "orders:read", "offline_access"}}
}

// TestMetadataDocumentClient (issue 13): a client known only by its
// metadata document signs a person in: the consent page says it is not
// verified and where it returns to, the token is for what the class
// allows, and the document is fetched once; a redirect URI the document
// does not list gets an error page, never a redirect.
func TestMetadataDocumentClient(t *testing.T) {
	const redirect = "http://127.0.0.1:33418/callback"
	doc, hits := clientDocument(t, redirect)
	id := doc.URL + "/client.json"
	e := start(t, withMetadataClients)
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"client_id": {id}, "redirect_uri": {redirect}, "response_type": {"code"}, "state": {"s"},
		"scope": {"openid orders:read"}, "resource": {"order-status-api"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	b := newBrowser(t)
	p := b.login(e, b.get(e.srv.URL+"/authorize?"+q.Encode()), "alice", "alice-password-1")
	if !strings.Contains(p.body, "Not verified by Gatehouse") || !strings.Contains(p.body, "127.0.0.1:33418") || !strings.Contains(p.body, "Example Agent") {
		t.Fatalf("consent page: %d %.800s", p.status, p.body)
	}
	p = b.consent(e, p, "allow")
	if p.location == nil || p.location.Query().Get("code") == "" {
		t.Fatalf("no code: %d %v", p.status, p.location)
	}
	tok := tokenRequest(t, e, "", url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {p.location.Query().Get("code")},
		"redirect_uri": {redirect}, "code_verifier": {verifier}})
	c, _ := claimsFromJWKS(t, e, fmt.Sprint(tok["access_token"]))
	if c["aud"] != "order-status-api" || c["azp"] != id || c["client_id"] != id {
		t.Errorf("access token: %v (%v)", c, tok)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the document was fetched %d times", n)
	}
	// Beyond the class's audience: invalid_target.
	q.Set("resource", "hr-api")
	if p := b.get(e.srv.URL + "/authorize?" + q.Encode()); p.location == nil || p.location.Query().Get("error") != "invalid_target" {
		t.Errorf("beyond the class: %d %v", p.status, p.location)
	}
	// A redirect URI the document does not list: an error page.
	q.Set("resource", "order-status-api")
	q.Set("redirect_uri", "https://evil.example/cb")
	if p := b.get(e.srv.URL + "/authorize?" + q.Encode()); p.location != nil || p.status != http.StatusBadRequest {
		t.Errorf("unlisted redirect: %d %v", p.status, p.location)
	}
	// A host the configuration does not allow: an error page naming why.
	q.Set("client_id", "https://agent.example.net/client.json")
	if p := b.get(e.srv.URL + "/authorize?" + q.Encode()); p.location != nil || !strings.Contains(p.body, "not allowed") {
		t.Errorf("host not allowed: %d %.300s", p.status, p.body)
	}
	// Discovery says so.
	resp, err := http.Get(e.srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if meta["client_id_metadata_document_supported"] != true || meta["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("metadata: %v", meta)
	}
}
