package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/verify"
)

// proxyFlags are the settings of gatehouse proxy.
type proxyFlags struct {
	issuer, audience, upstream, listen string
	scopes                             []string
	logFormat, logLevel                string
	stripAuth, preserveHost, insecure  bool
	tokenCache                         int
	upstreamTimeout                    time.Duration
	readHeaderTimeout, readTimeout     time.Duration
	writeTimeout, idleTimeout          time.Duration
	shutdownTimeout                    time.Duration
}

func newProxyCmd() *cobra.Command {
	var f proxyFlags
	cmd := &cobra.Command{
		Use:   "proxy --issuer URL --audience ID --upstream URL --listen ADDR [--scope S]...",
		Short: "Run a reverse proxy that lets only valid access tokens through to an API",
		Long: `Run a validating reverse proxy in front of an API written in any language.

Every request must carry "Authorization: Bearer <token>" with an access token
from --issuer whose "aud" contains --audience and whose scope contains every
--scope. Other requests are answered by the proxy as RFC 6750 says (401 with a
Bearer challenge naming the failed check, 400 for a malformed header, 403
insufficient_scope) and never reach the upstream.

Accepted requests are forwarded to --upstream with the verified identity in
X-Gatehouse-Subject, X-Gatehouse-Client, X-Gatehouse-Scope and
X-Gatehouse-Audience (any such headers sent by clients are removed first), and
X-Forwarded-For/-Host/-Proto. The Authorization header is forwarded unless
--strip-authorization. Make the upstream reachable only through the proxy
(listen on 127.0.0.1 or a private network), or anyone can send those headers.

One access log line per request goes to stderr: method, path, status,
decision (allow/deny), reason, client, subject, duration; never the token or
the query string. SIGINT or SIGTERM drain in-flight requests and stop.`,
		Example: `  # The order API listens on 127.0.0.1:9000; expose it on :8080, reading
  # requires orders:read.
  gatehouse proxy --issuer https://id.example.com --audience order-status-api \
      --upstream http://127.0.0.1:9000 --listen :8080 --scope orders:read

  curl -H "Authorization: Bearer $TOKEN" http://localhost:8080/orders/42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
			if err != nil {
				return err
			}
			return runProxy(cmd.Context(), f, logger, nil)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.issuer, "issuer", "", "issuer URL: the exact \"iss\" of accepted tokens; keys are found by OpenID discovery")
	fl.StringVar(&f.audience, "audience", "", "the upstream API's audience id: tokens must name it in \"aud\" (also the challenge realm)")
	fl.StringVar(&f.upstream, "upstream", "", "URL of the API behind the proxy, e.g. http://127.0.0.1:9000 (a path is a prefix)")
	fl.StringVar(&f.listen, "listen", "", "address to listen on, e.g. :8080 or 127.0.0.1:8080")
	fl.StringArrayVar(&f.scopes, "scope", nil, "scope every token must carry (repeat for several; all are required)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.BoolVar(&f.stripAuth, "strip-authorization", false, "do not forward the Authorization header to the upstream")
	fl.BoolVar(&f.preserveHost, "preserve-host", false, "forward the client's Host header instead of the upstream's host")
	fl.BoolVar(&f.insecure, "insecure-allow-http", false, "allow a plain-http issuer on a non-loopback host (only on a trusted network: keys fetched over http can be replaced)")
	fl.IntVar(&f.tokenCache, "token-cache", 10000, "cache up to this many verified tokens (never past their exp or their key's removal); 0 disables")
	fl.DurationVar(&f.upstreamTimeout, "upstream-timeout", proxy.DefaultUpstreamTimeout, "time the upstream has to send response headers (504 after)")
	fl.DurationVar(&f.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time a client has to send the request headers")
	fl.DurationVar(&f.readTimeout, "read-timeout", time.Minute, "time a client has to send the whole request, body included; 0 for no limit")
	fl.DurationVar(&f.writeTimeout, "write-timeout", 2*time.Minute, "time from the end of the request headers to the end of the response; 0 for no limit (long downloads, server-sent events)")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 20*time.Second, "how long in-flight requests may take to finish on SIGINT/SIGTERM")
	for _, name := range []string{"issuer", "audience", "upstream", "listen"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// runProxy serves until ctx is cancelled. ready, when not nil, receives the
// bound address once the proxy accepts connections (for tests).
func runProxy(ctx context.Context, f proxyFlags, logger *slog.Logger, ready chan<- string) error {
	up, err := url.Parse(f.upstream)
	if err != nil {
		return fmt.Errorf("--upstream: %w", err)
	}
	if f.tokenCache < 0 {
		return errors.New("--token-cache must not be negative")
	}
	// The issuer's keys are loaded now, so a wrong --issuer fails here
	// rather than as refused tokens; the wait is bounded.
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	v, err := verify.New(vctx, verify.Config{
		Issuer:            f.issuer,
		Audience:          f.audience,
		InsecureAllowHTTP: f.insecure,
		CacheSize:         f.tokenCache,
	})
	cancel()
	if err != nil {
		return err
	}
	h, err := proxy.New(proxy.Config{
		Verifier:           v,
		Upstream:           up,
		Scopes:             f.scopes,
		Realm:              f.audience,
		Logger:             logger,
		StripAuthorization: f.stripAuth,
		PreserveHost:       f.preserveHost,
		UpstreamTimeout:    f.upstreamTimeout,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: f.readHeaderTimeout,
		ReadTimeout:       f.readTimeout,
		WriteTimeout:      f.writeTimeout,
		IdleTimeout:       f.idleTimeout,
		// Tokens are refused above 8 KiB anyway; larger headers are 431
		// before any parsing.
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("gatehouse proxy listening", "addr", ln.Addr().String(), "upstream", up.Redacted(),
		"issuer", f.issuer, "audience", f.audience, "scopes", f.scopes)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining in-flight requests")
	sctx, stop := context.WithTimeout(context.WithoutCancel(ctx), f.shutdownTimeout)
	defer stop()
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}
