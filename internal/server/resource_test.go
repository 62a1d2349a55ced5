package server_test

import (
	"context"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/verify"
)

// withMCP gives order-status-api a resource URI and lets the spa and the
// sync job reach it.
func withMCP(c *config.Config) {
	c.Client("order-status-api").ResourceURI = "https://mcp.example.com/mcp"
}

// TestResourceURIEndToEnd (issue 13): x/oauth2 clients ask for an API by
// any spelling of its resource URI and get a token carrying the canonical
// URI, which verify accepts for that API and refuses for another; a refresh
// may narrow to the URI of a granted API; a fragment is invalid_target.
func TestResourceURIEndToEnd(t *testing.T) {
	e := start(t, withMCP)
	ctx := context.Background()
	for _, spelling := range []string{"https://mcp.example.com/mcp", "HTTPS://MCP.Example.com:443/mcp/", "https://mcp.example.com/%6Dcp"} {
		cc := clientcredentials.Config{ClientID: "order-sync-job", ClientSecret: "sync-job-secret-change-me", TokenURL: e.srv.URL + "/token",
			EndpointParams: url.Values{"resource": {spelling}}}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("%s: %v", spelling, err)
		}
		if got := audOf(t, e, tok.AccessToken); got != `"https://mcp.example.com/mcp"` {
			t.Errorf("%s: aud %s", spelling, got)
		}
		for _, tc := range []struct {
			audience string
			ok       bool
		}{{"https://mcp.example.com/mcp/", true}, {"https://mcp.example.com/other", false}, {"order-status-api", false}} {
			v, err := verify.New(ctx, verify.Config{Issuer: e.srv.URL, Audience: tc.audience, InsecureAllowHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(ctx, tok.AccessToken); (err == nil) != tc.ok {
				t.Errorf("verify for %s: %v", tc.audience, err)
			}
		}
	}
	cc := clientcredentials.Config{ClientID: "order-sync-job", ClientSecret: "sync-job-secret-change-me", TokenURL: e.srv.URL + "/token",
		EndpointParams: url.Values{"resource": {"https://mcp.example.com/mcp#tools"}}}
	var re *oauth2.RetrieveError
	if _, err := cc.Token(ctx); !asRetrieve(err, &re) || re.ErrorCode != "invalid_target" {
		t.Errorf("fragment: %v", err)
	}

	// A person's grant for the spa (audience order-status-api) refreshed
	// to the API's URI.
	verifier := oauth2.GenerateVerifier()
	q := spaSignIn(t, e, "alice", "alice-password-1", verifier, nil)
	tok := spaRedeem(t, e, q.Get("code"), verifier)
	r := tokenRequest(t, e, "", url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {tok["refresh_token"].(string)},
		"resource": {"https://mcp.example.com/mcp/"}})
	if got := audOf(t, e, r["access_token"].(string)); got != `"https://mcp.example.com/mcp"` {
		t.Errorf("refresh to the URI: aud %s (%v)", got, r)
	}
}
