package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// The MCP conformance tool (npm @modelcontextprotocol/conformance, on
// Node 22 from the npm package node), installed by `npm ci` in tools/node
// (.ci/deps.sh).
var (
	conformanceNode = filepath.Join("..", "..", "tools", "node", "node_modules", ".bin", "node")
	conformanceTool = filepath.Join("..", "..", "tools", "node", "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
)

// TestMCPConformanceAuthorizationServer (issue 13): the official MCP
// conformance tool's authorization command, run against Gatehouse with a
// client whose redirect URI is the tool's callback, reports every check
// as a success and none as a warning. The person's part (sign-in at the
// URL the tool prints) is done over HTTP as a browser would.
func TestMCPConformanceAuthorizationServer(t *testing.T) {
	testkit.SkipShort(t, "runs the MCP conformance tool under Node 22")
	for _, f := range []string{conformanceNode, conformanceTool} {
		if _, err := os.Stat(f); err != nil {
			testkit.Missing(t, "the MCP conformance tool is not installed (npm ci in tools/node)")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	const resource = "https://mcp.example.com/mcp"
	e := start(t, withMetadataClients, func(c *config.Config) {
		c.Clients = append(c.Clients,
			config.Client{ID: "mcp-conformance", Name: "MCP conformance", FirstParty: true, GrantTypes: []string{"authorization_code"},
				RedirectURIs: []string{"http://127.0.0.1:" + strconv.Itoa(port) + "/callback"}, Audience: []string{"orders-mcp"}, Scopes: []string{"orders:read"}},
			config.Client{ID: "orders-mcp", ResourceURI: resource})
	})
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, conformanceNode, conformanceTool, "authorization", "--url", e.srv.URL,
		"--client-id", "mcp-conformance", "--resource", resource, "--port", strconv.Itoa(port), "-o", out)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		if !strings.HasPrefix(line, e.srv.URL+"/authorize?") {
			continue
		}
		b := newBrowser(t)
		p := b.login(e, b.get(line), "alice", "alice-password-1")
		if p.location == nil {
			t.Fatalf("no redirect to the tool: %d %.300s", p.status, p.body)
		}
		// The tool's callback server may start a moment after it printed
		// the URL.
		for try := 0; ; try++ {
			resp, err := http.Get(p.location.String())
			if err == nil {
				resp.Body.Close()
				break
			}
			if try == 50 {
				t.Fatalf("the tool's callback: %v", err)
			}
			time.Sleep(100 * time.Millisecond) // polling another process's listener
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("conformance tool: %v\n%s", err, log.String())
	}
	files, _ := filepath.Glob(filepath.Join(out, "*", "checks.json"))
	if len(files) < 2 {
		t.Fatalf("%d result files\n%s", len(files), log.String())
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var checks []struct{ ID, Status, ErrorMessage string }
		if err := json.Unmarshal(b, &checks); err != nil {
			t.Fatal(err)
		}
		for _, c := range checks {
			if c.Status != "SUCCESS" {
				t.Errorf("%s: %s %s", c.ID, c.Status, c.ErrorMessage)
			}
		}
	}
}
