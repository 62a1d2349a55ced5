package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/gatehouse/gatehouse/httpauth"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
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
	// forwardToken passes the client's token upstream (off: MCP forbids
	// token passthrough); resource is the API's resource URI, whose
	// RFC 9728 metadata the proxy serves; alsoAudiences are further names
	// of the API a token may carry.
	forwardToken  bool
	resource      string
	alsoAudiences []string
	// delegation is --delegation: allowed, required or forbidden.
	delegation                     string
	dpop, publicURL                string
	tokenCache                     int
	upstreamTimeout                time.Duration
	readHeaderTimeout, readTimeout time.Duration
	writeTimeout, idleTimeout      time.Duration
	shutdownTimeout                time.Duration
	// Route mode: the rules come from the issuer's routes endpoint.
	clientID, clientSecret string
	routesRefresh          time.Duration
	// TLS: the listener's certificate, reloaded when the files change.
	tlsCert, tlsKey string
	tlsNow          func() time.Time // clock of the reload checks (tests)
}

// proxySecretEnv names the environment variable that holds the API's
// client secret, so it need not appear in the process list.
const proxySecretEnv = "GATEHOUSE_PROXY_CLIENT_SECRET"

func newProxyCmd(getenv env) *cobra.Command {
	var f proxyFlags
	cmd := &cobra.Command{
		Use:   "proxy --issuer URL --audience ID --upstream URL --listen ADDR [--scope S]... | [--client-id ID]",
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
X-Forwarded-For/-Host/-Proto and X-Real-IP as the proxy saw them. Headers a
client could use to claim another address, scheme, host or port, or to make
the upstream run another method or path (Forwarded, every X-Forwarded*,
X-HTTP-Method-Override, X-Original-URL, X-Rewrite-URL, True-Client-IP, ...;
any case, '_' for '-') are removed. The Authorization header is forwarded as
sent unless --strip-authorization; an Authorization trailer never is. Make the upstream reachable only through the proxy
(listen on 127.0.0.1 or a private network), or anyone can send those headers.

TLS: with --tls-cert and --tls-key the proxy serves HTTPS (TLS 1.2 or later,
HTTP/2) and rereads the files within a second of a change, keeping the
previous certificate while the new pair does not load.

Route mode: with --client-id (and the secret in --client-secret or, better,
$GATEHOUSE_PROXY_CLIENT_SECRET) and no --scope, the proxy fetches the routes
the API --client-id declares in the issuer's configuration (routes: on the
client; endpoint gatehouse_routes_endpoint of the discovery document), and
refreshes them every --routes-refresh. A request must then match a route
(net/http ServeMux patterns such as "GET /orders/{id}") and its token carry
that route's scopes: 403 insufficient_scope otherwise. A request with a valid
token that matches no route is refused with 404 (405 when only the method is
wrong) and never reaches the upstream: what is not declared is closed. The
route is matched on the escaped path that is forwarded; a path the upstream
could decode or clean into another route (an encoded '/', '\', '.', '%' or ';',
a control character, a ';', "//", a "." or ".." segment, non-UTF-8 escapes)
is refused with 400 before the token is checked. If a refresh fails, the
routes in force stay.

One access log line per request goes to stderr: method, path, status,
decision (allow/deny), reason, client, subject, duration; never the token or
the query string. SIGINT or SIGTERM drain in-flight requests and stop.`,
		Example: `  # The order API listens on 127.0.0.1:9000; expose it on :8080, reading
  # requires orders:read.
  gatehouse proxy --issuer https://id.example.com --audience order-status-api \
      --upstream http://127.0.0.1:9000 --listen :8080 --scope orders:read

  curl -H "Authorization: Bearer $TOKEN" http://localhost:8080/orders/42

  # The same, with the routes and their scopes from the issuer's configuration.
  GATEHOUSE_PROXY_CLIENT_SECRET=... gatehouse proxy --issuer https://id.example.com \
      --audience order-status-api --client-id order-status-api \
      --upstream http://127.0.0.1:9000 --listen :8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
			if err != nil {
				return err
			}
			if f.clientSecret == "" {
				f.clientSecret, _ = getenv(proxySecretEnv)
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
	fl.StringVar(&f.clientID, "client-id", "", "route mode: the API's client id; fetch its routes and their scopes from the issuer (no --scope)")
	fl.StringVar(&f.clientSecret, "client-secret", "", "the API's client secret for --client-id (prefer $"+proxySecretEnv+": flags show in the process list)")
	fl.DurationVar(&f.routesRefresh, "routes-refresh", time.Minute, "route mode: how often the routes are fetched again")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS (TLS 1.2+, HTTP/2) with this PEM certificate and intermediates; reread when it changes")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.BoolVar(&f.forwardToken, "forward-token", false, "forward the client's Authorization header to the upstream (token passthrough; off by default)")
	fl.BoolVar(&f.stripAuth, "strip-authorization", false, "deprecated: the Authorization header is not forwarded unless --forward-token")
	_ = fl.MarkDeprecated("strip-authorization", "the Authorization header is not forwarded unless --forward-token")
	fl.StringVar(&f.resource, "resource", "", "the API's resource URI (e.g. https://mcp.example.com/mcp): serve its RFC 9728 metadata naming --issuer, and point every challenge at it")
	fl.StringVar(&f.dpop, "dpop", "allowed", "DPoP (RFC 9449) sender-constrained tokens: allowed (bound tokens need a proof, others may be Bearer), required (every token bound, every request with a proof) or off")
	fl.StringVar(&f.publicURL, "public-url", "", "scheme://host[:port] clients address the proxy by, for DPoP proofs' htu (behind a TLS-terminating load balancer)")
	fl.StringVar(&f.delegation, "delegation", "allowed", "delegated tokens (RFC 8693 act, from a token exchange): allowed, required or forbidden")
	fl.StringArrayVar(&f.alsoAudiences, "also-audience", nil, "another name of the API a token may carry in aud, e.g. its short id next to its URI (repeat for several)")
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
	switch {
	case f.clientID == "" && f.clientSecret != "":
		return errors.New("--client-secret (or $" + proxySecretEnv + ") is set but --client-id is not")
	case f.clientID != "" && len(f.scopes) > 0:
		return errors.New("--scope and --client-id are exclusive: with --client-id every route's scopes come from the issuer")
	case f.clientID != "" && f.clientSecret == "":
		return errors.New("--client-id needs the API's secret: set $" + proxySecretEnv + " or --client-secret")
	case f.clientID != "" && f.routesRefresh <= 0:
		return errors.New("--routes-refresh must be positive")
	case f.forwardToken && f.stripAuth:
		return errors.New("--forward-token and --strip-authorization contradict each other")
	}
	if f.resource != "" {
		if _, err := httpauth.MetadataURL(f.resource); err != nil {
			return fmt.Errorf("--resource: %v", err)
		}
	}
	delegation, err := httpauth.ParseDelegation(f.delegation)
	if err != nil {
		return fmt.Errorf("--delegation: %v", err)
	}
	tlsConf, err := proxyTLS(f, logger)
	if err != nil {
		return err
	}
	// The issuer's keys are loaded now, so a wrong --issuer fails here
	// rather than as refused tokens; the wait is bounded.
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	vcfg := verify.Config{
		Issuer:            f.issuer,
		Audience:          f.audience,
		AlsoAudiences:     f.alsoAudiences,
		InsecureAllowHTTP: f.insecure,
		CacheSize:         f.tokenCache,
	}
	if err := proxyDPoP(&vcfg, f.dpop); err != nil {
		cancel()
		return err
	}
	v, err := verify.New(vctx, vcfg)
	cancel()
	if err != nil {
		return err
	}
	var routes *proxy.Routes
	if f.clientID != "" {
		var fetcher *proxy.RouteFetcher
		if routes, fetcher, err = loadRoutes(ctx, f, logger); err != nil {
			return err
		}
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		go routes.Refresh(rctx, fetcher, f.routesRefresh, logger)
	}
	h, err := proxy.New(proxy.Config{
		Verifier:           v,
		Upstream:           up,
		Scopes:             f.scopes,
		Routes:             routes,
		Realm:              f.audience,
		Logger:             logger,
		ForwardToken:       f.forwardToken,
		StripAuthorization: f.stripAuth,
		PreserveHost:       f.preserveHost,
		UpstreamTimeout:    f.upstreamTimeout,
		ResourceMetadata:   resourceMetadata(f, routes),
		Delegation:         delegation,
		PublicURL:          f.publicURL,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		TLSConfig:         tlsConf,
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
	logger.Info("gatehouse proxy listening", "addr", ln.Addr().String(), "tls", tlsConf != nil, "upstream", up.Redacted(),
		"issuer", f.issuer, "audience", f.audience, "scopes", f.scopes, "routes", routes.Len())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	return runHTTP(ctx, hs, ln, f.shutdownTimeout, logger, nil)
}

// loadRoutes discovers the routes endpoint and fetches the routes once:
// the proxy does not start without rules, so a wrong --client-id or secret
// fails here and not as refused requests. The wait is bounded.
func loadRoutes(ctx context.Context, f proxyFlags, logger *slog.Logger) (*proxy.Routes, *proxy.RouteFetcher, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ep, err := proxy.DiscoverRoutesEndpoint(ctx, nil, f.issuer)
	if err != nil {
		return nil, nil, err
	}
	fetcher := &proxy.RouteFetcher{Endpoint: ep, ClientID: f.clientID, ClientSecret: f.clientSecret}
	rs, _, err := fetcher.Fetch(ctx)
	if err != nil {
		return nil, nil, err
	}
	routes, err := proxy.NewRoutes(rs)
	if err != nil {
		return nil, nil, err
	}
	if len(rs) == 0 {
		logger.Warn("the API declares no routes: every request is refused; add routes: to client " + f.clientID + " in the issuer's configuration")
	}
	return routes, fetcher, nil
}

// resourceMetadata is the RFC 9728 document of --resource, or nil: the
// issuer, and the scopes the API takes (--scope, or every route's).
func resourceMetadata(f proxyFlags, routes *proxy.Routes) *httpauth.ResourceMetadata {
	if f.resource == "" {
		return nil
	}
	scopes := slices.Clone(f.scopes)
	if routes != nil {
		for _, s := range routes.Scopes() {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	return &httpauth.ResourceMetadata{Resource: f.resource, AuthorizationServers: []string{f.issuer}, ScopesSupported: scopes}
}

// proxyReplayEntries bounds the proxy's memory of used DPoP proofs: a
// minute of proofs at some 1,600 requests a second. When it is full of
// live entries proofs are refused rather than forgotten.
const proxyReplayEntries = 100_000

// proxyDPoP sets up DPoP proof checking as --dpop says. The proofs' jtis
// are remembered in this process: a proof names the proxy's URL, so a
// replay to another proxy instance of the same API (same URL) within the
// minute is not caught — put the instances behind one address with
// sticky connections, or require server nonces at the issuer.
func proxyDPoP(cfg *verify.Config, mode string) error {
	switch mode {
	case "off":
		return nil
	case "", "allowed", "required":
	default:
		return fmt.Errorf("--dpop: want allowed, required or off, not %q", mode)
	}
	pc, err := verify.NewProofChecker(verify.ProofConfig{Replay: verify.NewMemoryReplayCache(proxyReplayEntries)})
	if err != nil {
		return err
	}
	cfg.DPoP, cfg.RequireDPoP = pc, mode == "required"
	return nil
}
