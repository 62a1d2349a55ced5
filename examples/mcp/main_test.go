package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestOrderStatusTool: the SDK's own client lists and calls the tool over
// streamable HTTP.
func TestOrderStatusTool(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	ctx := context.Background()
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: srv.URL + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "order_status", Arguments: map[string]any{"order": "42"}})
	if err != nil || res.IsError {
		t.Fatalf("%v %+v", err, res)
	}
	got, _ := res.StructuredContent.(map[string]any)
	if got["status"] != "shipped" || got["order"] != "42" {
		t.Errorf("result %+v", res.StructuredContent)
	}
}
