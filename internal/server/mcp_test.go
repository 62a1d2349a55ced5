package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/verify"
)

// mcpServer is an MCP server (the official Go SDK) with one tool, behind
// Gatehouse's proxy at resource: only tokens for resource pass, and the
// proxy serves the server's protected resource metadata.
func mcpServer(t *testing.T, ln net.Listener, issuer, resource string) {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "orders", Version: "1"}, nil)
	type args struct {
		Order string `json:"order"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "order_status"}, func(_ context.Context, _ *mcp.CallToolRequest, in args) (*mcp.CallToolResult, map[string]string, error) {
		return nil, map[string]string{"order": in.Order, "status": "shipped"}, nil
	})
	upstream := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(upstream.Close)
	up, _ := url.Parse(upstream.URL)
	v, err := verify.New(context.Background(), verify.Config{Issuer: issuer, Audience: resource})
	if err != nil {
		t.Fatal(err)
	}
	h, err := proxy.New(proxy.Config{Verifier: v, Upstream: up,
		ResourceMetadata: &httpauth.ResourceMetadata{Resource: resource, AuthorizationServers: []string{issuer}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// TestMCPClientSignsIn (issue 13): the official Go MCP SDK client — its
// authorization-code handler with protected resource metadata discovery,
// a Client ID Metadata Document, PKCE, resource and the RFC 9207 iss
// check — signs a person in at Gatehouse and calls a tool of an MCP server
// behind gatehouse's proxy; its token is refused by another MCP server.
func TestMCPClientSignsIn(t *testing.T) {
	mcpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	otherLn, _ := net.Listen("tcp", "127.0.0.1:0")
	resource := "http://" + mcpLn.Addr().String() + "/mcp"
	other := "http://" + otherLn.Addr().String() + "/mcp"

	const redirect = "http://127.0.0.1:33418/callback"
	var docURL string
	doc := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"SDK client","redirect_uris":[%q],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none"}`, docURL, redirect)
	}))
	defer doc.Close()
	docURL = doc.URL + "/client.json"

	e := startWith(t, func(o *server.Options) { o.MetadataTransport = doc.Client().Transport.(*http.Transport) }, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "orders-mcp", ResourceURI: resource}, config.Client{ID: "other-mcp", ResourceURI: other})
		c.ClientMetadataDocuments = &config.MetadataClients{AllowedHosts: []string{"127.0.0.1"}, AllowLoopback: true,
			Audience: []string{"orders-mcp"}, Scopes: []string{"orders:read"}}
	})
	mcpServer(t, mcpLn, e.srv.URL, resource)
	mcpServer(t, otherLn, e.srv.URL, other)

	// The person's part, as a browser would do it.
	fetch := func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		b := newBrowser(t)
		p := b.get(args.URL)
		if p.location == nil {
			p = b.login(e, p, "alice", "alice-password-1")
		}
		if p.location == nil {
			p = b.consent(e, p, "allow")
		}
		if p.location == nil {
			return nil, errors.New("no redirect back")
		}
		q := p.location.Query()
		if q.Get("error") != "" {
			return nil, errors.New(q.Get("error") + ": " + q.Get("error_description"))
		}
		return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
	}
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		ClientIDMetadataDocumentConfig: &auth.ClientIDMetadataDocumentConfig{URL: docURL},
		RedirectURL:                    redirect,
		AuthorizationCodeFetcher:       fetch,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "sdk-client", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: resource, OAuthHandler: handler}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer session.Close()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "order_status", Arguments: map[string]any{"order": "42"}})
	if err != nil || res.IsError {
		t.Fatalf("tool: %v %+v", err, res)
	}
	if got, _ := res.StructuredContent.(map[string]any); got["status"] != "shipped" {
		t.Errorf("tool result %+v", res.StructuredContent)
	}

	// The token is for this MCP server only.
	ts, err := handler.TokenSource(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if got := audOf(t, e, tok.AccessToken); got != `"`+resource+`"` {
		t.Errorf("aud %s, want %s", got, resource)
	}
	req, _ := http.NewRequest("POST", other, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("another MCP server answered %d to this token", resp.StatusCode)
	}
}
