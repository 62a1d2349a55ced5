// Command mcp is an MCP server for the shop, built with the official Go MCP
// SDK: one tool, order_status, served over streamable HTTP at /mcp. It
// checks no token itself: it runs behind gatehouse proxy, which lets only
// tokens for https://mcp.example.com/mcp (or the URI you give) through and
// never forwards them (README: "Gatehouse in front of an MCP server").
//
//	go run ./examples/mcp --listen 127.0.0.1:9100
//	gatehouse proxy --issuer http://127.0.0.1:8080 --audience http://127.0.0.1:8443/mcp \
//	    --resource http://127.0.0.1:8443/mcp --upstream http://127.0.0.1:9100 --listen 127.0.0.1:8443
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9100", "address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *listen, Handler: Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "mcp: serving http://%s/mcp\n", *listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "mcp:", err)
		os.Exit(1)
	}
}

// OrderStatusArgs are the order_status tool's arguments.
type OrderStatusArgs struct {
	Order string `json:"order" jsonschema:"the order number, e.g. 42"`
}

// OrderStatus is the tool's structured result.
type OrderStatus struct {
	Order  string `json:"order"`
	Status string `json:"status"`
}

// Handler is the MCP server over streamable HTTP, at /mcp.
func Handler() http.Handler {
	server := mcp.NewServer(&mcp.Implementation{Name: "shop-orders", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "order_status", Description: "Where an order of the shop is"},
		func(_ context.Context, _ *mcp.CallToolRequest, in OrderStatusArgs) (*mcp.CallToolResult, OrderStatus, error) {
			if in.Order == "" {
				return nil, OrderStatus{}, errors.New("order is required")
			}
			return nil, OrderStatus{Order: in.Order, Status: "shipped"}, nil
		})
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	return mux
}
