// Command shop runs the background text's two APIs, each accepting only
// tokens whose aud names it: the Order Status API (order-status-api) and the
// Human Resource API (hr-api). It is the resource-server half of
// examples/shop.yaml, built with the public verify and httpauth packages.
//
//	go run ./cmd/gatehouse serve --config examples/shop.yaml &
//	go run ./examples/shop --issuer http://127.0.0.1:8080
//
// The Order Status API listens on 127.0.0.1:8081, the HR API on 127.0.0.1:8082.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/verify"
)

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:8080", "the Gatehouse issuer URL")
	orderAddr := flag.String("orders-listen", "127.0.0.1:8081", "Order Status API address")
	hrAddr := flag.String("hr-listen", "127.0.0.1:8082", "HR API address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, *issuer, *orderAddr, *hrAddr, log); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, issuer, orderAddr, hrAddr string, log *slog.Logger) error {
	orders, err := protect(ctx, issuer, "order-status-api", log)
	if err != nil {
		return err
	}
	hr, err := protect(ctx, issuer, "hr-api", log)
	if err != nil {
		return err
	}
	servers := []*http.Server{
		{Addr: orderAddr, Handler: orderAPI(orders), ReadHeaderTimeout: 5 * time.Second},
		{Addr: hrAddr, Handler: hrAPI(hr), ReadHeaderTimeout: 5 * time.Second},
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		log.Info("listening", "addr", s.Addr)
		go func() { errc <- s.ListenAndServe() }()
	}
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	for _, s := range servers {
		_ = s.Shutdown(context.Background())
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// protect builds the middleware for one API: its id is the audience every
// token must name. That is the whole configuration an API needs.
func protect(ctx context.Context, issuer, audience string, log *slog.Logger) (*httpauth.Middleware, error) {
	// DPoP (RFC 9449): tokens bound to a client's key are accepted with a
	// proof by that key, never as Bearer; the proofs' jtis are
	// remembered here, once each.
	proofs, err := verify.NewProofChecker(verify.ProofConfig{Replay: verify.NewMemoryReplayCache(100_000)})
	if err != nil {
		return nil, err
	}
	v, err := verify.New(ctx, verify.Config{Issuer: issuer, Audience: audience, CacheSize: 1024, DPoP: proofs})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", audience, err)
	}
	return httpauth.New(v, httpauth.WithDecisionHook(func(r *http.Request, d httpauth.Decision) {
		if !d.Allowed {
			log.Info("refused", "api", audience, "path", r.URL.Path, "reason", d.Reason())
		}
	})), nil
}

// orderAPI serves order status to any token meant for order-status-api
// with the orders:read scope.
func orderAPI(mw *httpauth.Middleware) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /orders/{id}", mw.Require("orders:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := httpauth.ClaimsFromContext(r.Context())
		reply(w, map[string]any{"order": r.PathValue("id"), "status": "shipped", "asked_by": c.Subject, "via": c.ClientID})
	})))
	return mux
}

// hrAPI serves employee data only to tokens meant for hr-api with hr:read.
func hrAPI(mw *httpauth.Middleware) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /employees", mw.Require("hr:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := httpauth.ClaimsFromContext(r.Context())
		reply(w, map[string]any{"employees": []string{"alice", "bob"}, "asked_by": c.Subject, "via": c.ClientID})
	})))
	return mux
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
