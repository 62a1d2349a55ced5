package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// TestMCPTypeScriptClient (issue 13): the official TypeScript MCP SDK's
// client (npm @modelcontextprotocol/sdk, tools/node/mcp-ts-client.mjs)
// finds Gatehouse from the MCP server's protected resource metadata,
// identifies itself with a Client ID Metadata Document, and — once the
// person has signed in — gets a token for that MCP server and calls a tool
// through the proxy; another MCP server refuses the token.
func TestMCPTypeScriptClient(t *testing.T) {
	testkit.SkipShort(t, "runs the TypeScript MCP SDK under Node 22")
	script := filepath.Join("..", "..", "tools", "node", "mcp-ts-client.mjs")
	if _, err := os.Stat(filepath.Join("..", "..", "tools", "node", "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		testkit.Missing(t, "the TypeScript MCP SDK is not installed (npm ci in tools/node)")
	}
	mcpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	otherLn, _ := net.Listen("tcp", "127.0.0.1:0")
	resource := "http://" + mcpLn.Addr().String() + "/mcp"
	other := "http://" + otherLn.Addr().String() + "/mcp"
	const redirect = "http://127.0.0.1:33419/callback"
	var docURL string
	doc := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"TS SDK client","redirect_uris":[%q],"grant_types":["authorization_code"],"token_endpoint_auth_method":"none"}`, docURL, redirect)
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

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, conformanceNode, script, resource, docURL, redirect)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	var result, token string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		switch {
		case strings.HasPrefix(line, "AUTHORIZE "):
			b := newBrowser(t)
			p := b.login(e, b.get(strings.TrimPrefix(line, "AUTHORIZE ")), "alice", "alice-password-1")
			if p.location == nil {
				p = b.consent(e, p, "allow")
			}
			if p.location == nil || p.location.Query().Get("code") == "" {
				t.Fatalf("no code: %d %v %.300s", p.status, p.location, p.body)
			}
			io.WriteString(stdin, p.location.Query().Get("code")+"\n")
		case strings.HasPrefix(line, "RESULT "):
			result = strings.TrimPrefix(line, "RESULT ")
		case strings.HasPrefix(line, "TOKEN "):
			token = strings.TrimPrefix(line, "TOKEN ")
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("TypeScript client: %v\n%s", err, log.String())
	}
	if !strings.Contains(result, `"status":"shipped"`) {
		t.Errorf("tool result %q\n%s", result, log.String())
	}
	if got := audOf(t, e, token); got != `"`+resource+`"` {
		t.Errorf("aud %s", got)
	}
	req, _ := http.NewRequest("POST", other, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("another MCP server answered %d", resp.StatusCode)
	}
}
