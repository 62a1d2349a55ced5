// Package proxy is a validating reverse proxy: it checks the bearer token
// of every request with the httpauth middleware's rules (RFC 6750) and
// forwards only accepted requests to one upstream, with the verified
// identity in request headers. It lets an API written in any language rely
// on Gatehouse's token checks (`gatehouse proxy`).
//
//	h, err := proxy.New(proxy.Config{
//		Verifier: v, // a *verify.Verifier for the upstream API's audience
//		Upstream: &url.URL{Scheme: "http", Host: "127.0.0.1:9000"},
//		Scopes:   []string{"orders:read"},
//		Realm:    "order-status-api",
//		Logger:   slog.Default(),
//	})
//
// Refused requests are answered by the proxy exactly as httpauth answers
// them (401, 400 or 403 with a Bearer challenge) and never reach the
// upstream. Accepted requests are forwarded through
// httputil.ReverseProxy with a Rewrite function (not Director: headers
// are set after hop-by-hop removal, so a client's Connection header cannot
// remove them, golang/go#50580), streaming request and response bodies,
// with:
//
//   - X-Gatehouse-Subject, X-Gatehouse-Client, X-Gatehouse-Scope and
//     X-Gatehouse-Audience carrying the verified sub, client_id, scope
//     and aud (absent when the claim is empty). Any header arriving from
//     the client whose name starts with X-Gatehouse- in any case, or with
//     '_' for '-' (X_Gatehouse_Subject, which CGI-style servers map to the
//     same variable), is removed first, so the upstream can trust these;
//   - X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto and X-Real-IP
//     set by the proxy from what it saw (the client's address, the Host
//     header, TLS or not); values sent by the client are dropped, not
//     appended to;
//   - no other header with which a client could name another client
//     address, scheme, host or port, or make the upstream run another
//     method or path than the one authorised: removed, in any case and
//     with '_' for '-', as headers and as trailers, are Forwarded
//     (RFC 7239), X-Forwarded and every X-Forwarded-* (-Port, -Ssl,
//     -Scheme, -Server, -Prefix, -Uri, ...), X-HTTP-Method-Override,
//     X-HTTP-Method, X-Method-Override, X-Original-Method,
//     X-Original-URL, X-Original-URI, X-Rewrite-URL, X-Override-URL,
//     X-Envoy-Original-Path, True-Client-IP, X-Client-IP, Client-IP,
//     X-Cluster-Client-IP, CF-Connecting-IP, Fastly-Client-IP,
//     X-Originating-IP, X-Remote-IP, X-Remote-Addr, X-ProxyUser-IP,
//     X-Url-Scheme, Front-End-Https, X-Host and X-Original-Host;
//   - no Authorization header, unless Config.ForwardToken: the token was
//     issued for the API the proxy guards, and an upstream that holds it
//     could replay it elsewhere ("token passthrough", which the MCP
//     specification forbids); the upstream learns who called from the
//     X-Gatehouse- headers. With ForwardToken the header the proxy checked
//     is forwarded as the client sent it, for an upstream that verifies it
//     again or exchanges it (RFC 8693). An Authorization trailer, never
//     checked, is always removed;
//   - no DPoP header (RFC 9449 proof): it was checked for this request to
//     the proxy and is of no use beyond it.
//
// With Config.Routes, the route is matched on the escaped path that is
// forwarded, and paths an upstream could decode into another route
// (encoded '/', '\', '.', '%', dot segments, "//", ';', ...) are refused
// with 400; see Config.Routes.
//
// The upstream must be reachable only through the proxy (bind it to
// loopback or a private network): anyone who can reach it directly can
// send X-Gatehouse- headers of their choosing.
//
// Every request gets one access log line (method, path, status, decision,
// reason, client, subject, duration), never with the token, the query
// string or other headers.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/verify"
)

// The headers the proxy adds to forwarded requests. Each is set only when
// the claim is not empty; multiple values (scopes, audiences) are
// space-separated as in the token.
const (
	// HeaderPrefix starts the name of every header the proxy sets; inbound
	// headers with this prefix (case-insensitive, '_' matching '-') are
	// removed.
	HeaderPrefix = "X-Gatehouse-"
	// HeaderSubject is the token's "sub" (RFC 9068 §2.2).
	HeaderSubject = "X-Gatehouse-Subject"
	// HeaderClient is the token's "client_id" (RFC 9068 §2.2).
	HeaderClient = "X-Gatehouse-Client"
	// HeaderScope is the token's "scope" (RFC 9068 §2.2.3).
	HeaderScope = "X-Gatehouse-Scope"
	// HeaderAudience is the token's "aud" (RFC 7519 §4.1.3); it contains
	// the upstream's audience id.
	HeaderAudience = "X-Gatehouse-Audience"
	// HeaderActor is the token's delegation chain (RFC 8693 §4.1 act),
	// the current actor first, space-separated: which services passed
	// the user's request on, ending with the client the person used.
	// Absent for a token issued to its client directly.
	HeaderActor = "X-Gatehouse-Actor"
)

// DefaultUpstreamTimeout is the time the upstream has to send its
// response headers when Config.UpstreamTimeout is zero.
const DefaultUpstreamTimeout = 30 * time.Second

// Config configures a proxy. Verifier and Upstream are required.
type Config struct {
	// Verifier checks the tokens; use a *verify.Verifier whose audience is
	// the upstream API's id.
	Verifier httpauth.Verifier
	// Upstream is the API behind the proxy: an http or https URL with a
	// host and optionally a base path, which request paths are appended
	// to (httputil.ProxyRequest.SetURL).
	Upstream *url.URL
	// Scopes are required of every request's token (RFC 6750 §3.1
	// insufficient_scope otherwise). Empty: any valid token.
	Scopes []string
	// Routes, when set, replace Scopes with per-route rules: a request
	// must match a route and carry that route's scopes (403
	// insufficient_scope otherwise). A request with a valid token that
	// matches no route is refused, never forwarded: 404, or 405 with
	// Allow when only the method is wrong (fail closed). Requests without
	// a valid token get the usual 401 whether or not a route matches, so
	// the routes cannot be probed anonymously. Scopes must be empty.
	//
	// With Routes, a request whose escaped path (r.URL.EscapedPath(), the
	// path that is matched and forwarded) could be read by the upstream
	// as another path is refused with 400 before its token is checked:
	// a percent-encoded '/', '\', '.', '%', ';' or control character, a
	// ';', an empty segment ("//") other than a trailing slash, a "." or
	// ".." segment, or percent-encoded bytes that are not UTF-8. Every
	// other path is forwarded exactly as matched. Without Routes every
	// path needs the same scopes, so none is refused for its shape.
	Routes *Routes
	// Realm is the realm of the Bearer challenges (RFC 6750 §3); use the
	// upstream's audience id. Empty: as httpauth.New decides.
	Realm string
	// Logger receives one access log line per request at level Info, and
	// the reverse proxy's own errors at level Warn. Nil: no logging.
	Logger *slog.Logger
	// ForwardToken forwards the client's Authorization header to the
	// upstream. Off by default: see the package documentation.
	ForwardToken bool
	// StripAuthorization is the old switch for what is now the default
	// (the token is not forwarded); it wins over ForwardToken.
	//
	// Deprecated: the token is stripped unless ForwardToken is set.
	StripAuthorization bool
	// ResourceMetadata, when set, is the API's protected resource
	// metadata (RFC 9728): the proxy serves it at its well-known path
	// (httpauth.MetadataPath) without a token, never forwarding that
	// request, and every challenge names it (resource_metadata), which is
	// how MCP clients find the authorization server.
	ResourceMetadata *httpauth.ResourceMetadata
	// Delegation is what the API accepts of delegated tokens (RFC 8693
	// act): allowed (default), required or forbidden.
	Delegation httpauth.Delegation
	// PreserveHost forwards the client's Host header instead of the
	// upstream's host (the original is in X-Forwarded-Host either way).
	PreserveHost bool
	// PublicURL is the scheme and authority clients address the proxy by
	// (https://api.example.com), from which the URL a DPoP proof must
	// name is built (httpauth.WithPublicURL): set it when a TLS-terminating
	// load balancer stands in front. DPoP itself is on when the Verifier
	// checks proofs (verify.Config.DPoP), required with
	// verify.Config.RequireDPoP.
	PublicURL string
	// UpstreamTimeout bounds the wait for the upstream's response headers
	// (not the streaming of the body). Zero means DefaultUpstreamTimeout.
	// Ignored when Transport is set.
	UpstreamTimeout time.Duration
	// Transport carries requests to the upstream. Default: a transport
	// with connect, TLS and response-header timeouts, a connection pool
	// sized for a busy proxy, and no HTTP_PROXY from the environment (the
	// upstream is a neighbour, not somewhere on the internet).
	Transport http.RoundTripper
}

// validate reports every problem of cfg at once.
func (cfg *Config) validate() error {
	var errs []error
	if cfg.Verifier == nil {
		errs = append(errs, errors.New("Verifier is required"))
	}
	switch u := cfg.Upstream; {
	case u == nil:
		errs = append(errs, errors.New("Upstream is required"))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("Upstream %q: the scheme must be http or https", u.Redacted()))
	case u.Host == "":
		errs = append(errs, fmt.Errorf("Upstream %q has no host", u.Redacted()))
	case u.User != nil:
		errs = append(errs, fmt.Errorf("Upstream %q: credentials in the URL are not forwarded; remove them", u.Redacted()))
	case u.Fragment != "" || u.RawFragment != "":
		errs = append(errs, fmt.Errorf("Upstream %q: a fragment is meaningless here", u.Redacted()))
	}
	for _, s := range cfg.Scopes {
		if !oauth.ValidScopeToken(s) {
			errs = append(errs, fmt.Errorf("Scopes: %q is not a scope-token (RFC 6749 §3.3: printable ASCII without spaces, '\"' or '\\')", s))
		}
	}
	if cfg.Routes != nil && len(cfg.Scopes) > 0 {
		errs = append(errs, errors.New("Scopes and Routes are exclusive: with Routes every route names its own scopes"))
	}
	if cfg.UpstreamTimeout < 0 {
		errs = append(errs, errors.New("UpstreamTimeout must not be negative"))
	}
	if cfg.PublicURL != "" {
		pu, err := url.Parse(cfg.PublicURL)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.User != nil ||
			(pu.Path != "" && pu.Path != "/") || pu.RawQuery != "" || pu.Fragment != "" || pu.Opaque != "" {
			errs = append(errs, fmt.Errorf("PublicURL %q: want scheme://host[:port], nothing more", cfg.PublicURL))
		}
	}
	if cfg.ForwardToken && cfg.StripAuthorization {
		errs = append(errs, errors.New("ForwardToken and StripAuthorization contradict each other"))
	}
	if m := cfg.ResourceMetadata; m != nil {
		if _, err := httpauth.MetadataURL(m.Resource); err != nil {
			errs = append(errs, fmt.Errorf("ResourceMetadata: %v", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	return nil
}

// handler is the proxy: authentication, then httputil.ReverseProxy.
type handler struct {
	auth      *httpauth.Middleware
	scopes    []string
	routes    *Routes
	upstream  *url.URL
	stripAuth bool
	keepHost  bool
	logger    *slog.Logger
	rp        *httputil.ReverseProxy
}

// New returns the proxy handler for cfg, or an error listing every
// problem in cfg. Serve it with an http.Server whose timeouts suit the
// upstream (the gatehouse proxy command sets them).
func New(cfg Config) (http.Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var opts []httpauth.Option
	if cfg.Realm != "" {
		opts = append(opts, httpauth.WithRealm(cfg.Realm))
	}
	if cfg.ResourceMetadata != nil {
		opts = append(opts, httpauth.WithResourceMetadata(*cfg.ResourceMetadata))
	}
	opts = append(opts, httpauth.WithDelegation(cfg.Delegation))
	if cfg.PublicURL != "" {
		opts = append(opts, httpauth.WithPublicURL(cfg.PublicURL))
	}
	u := *cfg.Upstream // a copy: the caller may reuse its URL
	if u.Path != "" && !strings.HasPrefix(u.Path, "/") {
		// url.URL.JoinPath on a host-only URL yields "api/v1"; as a
		// request path it would be "api/v1/orders", which is not HTTP.
		u.Path = "/" + u.Path
		if u.RawPath != "" {
			u.RawPath = "/" + u.RawPath
		}
	}
	h := &handler{
		auth:      httpauth.New(cfg.Verifier, opts...),
		scopes:    append([]string(nil), cfg.Scopes...),
		routes:    cfg.Routes,
		upstream:  &u,
		stripAuth: cfg.StripAuthorization || !cfg.ForwardToken,
		keepHost:  cfg.PreserveHost,
		logger:    cfg.Logger,
	}
	transport := cfg.Transport
	if transport == nil {
		timeout := cfg.UpstreamTimeout
		if timeout == 0 {
			timeout = DefaultUpstreamTimeout
		}
		transport = newTransport(timeout)
	}
	errorLog := log.New(io.Discard, "", 0)
	if cfg.Logger != nil {
		errorLog = slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)
	}
	h.rp = &httputil.ReverseProxy{
		Rewrite:      h.rewrite,
		Transport:    transport,
		ErrorHandler: h.upstreamError,
		ErrorLog:     errorLog,
		BufferPool:   &bufferPool{},
	}
	return h, nil
}

func newTransport(responseHeaderTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2: true,
		// Go's default of 2 idle connections per host would make a busy
		// proxy open and close upstream connections constantly.
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: responseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// ServeHTTP authenticates r and either refuses it or forwards it, then
// writes the access log line.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if h.auth.IsMetadataRequest(r) {
		h.auth.MetadataHandler().ServeHTTP(w, r)
		h.access(r, http.StatusOK, "allow", "resource metadata", nil, start)
		return
	}
	scopes := h.scopes
	var unrouted http.Handler
	if h.routes != nil {
		// The path is checked before the token: it is malformed whoever
		// sends it, and the answer says nothing about the routes.
		if why := ambiguousPath(r.URL.EscapedPath()); why != "" {
			http.Error(w, "gatehouse proxy: refused an ambiguous request path with "+why+
				": the upstream could read it as another path than the route that was checked", http.StatusBadRequest)
			h.access(r, http.StatusBadRequest, "deny", "ambiguous path: "+why, nil, start)
			return
		}
		// The route is looked up first so the token is verified once,
		// with the scopes it must carry.
		var matched bool
		if scopes, matched, unrouted = h.routes.match(r); !matched {
			scopes = nil
		}
	}
	claims, aerr := h.auth.Authenticate(r, scopes...)
	if aerr == nil {
		aerr = forwardable(claims)
	}
	if aerr != nil {
		h.auth.WriteError(w, aerr)
		h.access(r, aerr.Status, "deny", aerr.Reason(), nil, start)
		return
	}
	rec := &recorder{ResponseWriter: w}
	if unrouted != nil {
		// Fail closed: a valid token, but no route declares this request.
		unrouted.ServeHTTP(rec, r)
		h.access(r, rec.status(), "deny", "no route matches "+r.Method+" "+r.URL.Path, claims, start)
		return
	}
	defer func() {
		// ReverseProxy aborts with a panic (http.ErrAbortHandler) when the
		// upstream's body fails mid-stream; the request still gets its log
		// line before the panic goes on to net/http.
		if v := recover(); v != nil {
			reason := "the upstream response was cut off"
			if rec.reason != "" {
				reason = rec.reason
			}
			h.access(r, rec.status(), "allow", reason, claims, start)
			panic(v)
		}
	}()
	h.rp.ServeHTTP(rec, r.WithContext(httpauth.NewContext(r.Context(), claims)))
	h.access(r, rec.status(), "allow", rec.reason, claims, start)
}

// forwardable refuses claims that cannot travel in a header unchanged:
// net/http would refuse a control character (a 502 with a misleading
// cause), and the upstream would trim surrounding whitespace, turning
// " admin" into "admin".
func forwardable(c *verify.Claims) *httpauth.Error {
	check := func(name, v string) *httpauth.Error {
		bad := v != strings.TrimSpace(v)
		for i := 0; i < len(v) && !bad; i++ {
			bad = v[i] < 0x20 || v[i] == 0x7f
		}
		if !bad {
			return nil
		}
		return &httpauth.Error{
			Status:      http.StatusUnauthorized,
			Code:        httpauth.CodeInvalidToken,
			Description: "The token's " + name + " claim cannot be forwarded in an HTTP header",
			Err:         errors.New("forward: the token's " + name + " has control characters or surrounding spaces"),
		}
	}
	if e := check("sub", c.Subject); e != nil {
		return e
	}
	if e := check("client_id", c.ClientID); e != nil {
		return e
	}
	for _, s := range c.Scopes {
		if e := check("scope", s); e != nil {
			return e
		}
	}
	for _, a := range c.Audience {
		if e := check("aud", a); e != nil {
			return e
		}
	}
	return nil
}

// rewrite builds the upstream request. httputil.ReverseProxy has already
// removed hop-by-hop headers (including any named in Connection) and the
// client's Forwarded and X-Forwarded-For/-Host/-Proto from pr.Out, so
// what is set here arrives as set.
func (h *handler) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(h.upstream)
	if h.keepHost {
		pr.Out.Host = pr.In.Host
	}
	// First, because it removes every X-Forwarded* name, including the
	// three SetXForwarded sets.
	stripInbound(pr.Out.Header)
	stripInbound(pr.Out.Trailer)
	// The proxy checked the Authorization header; a trailer of that name
	// arrives after the decision and was never checked, and frameworks
	// that merge trailers into headers would see two credentials.
	pr.Out.Trailer.Del("Authorization")
	// A DPoP proof is for this one request to the proxy's URL: forwarded,
	// it would only show the upstream a used proof (and its key).
	pr.Out.Header.Del("DPoP")
	pr.Out.Trailer.Del("DPoP")
	pr.SetXForwarded()
	// X-Real-IP is what many frameworks read instead of X-Forwarded-For;
	// the proxy sets it to the same address rather than leave it absent,
	// so an upstream configured for it gets the truth.
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		pr.Out.Header.Set("X-Real-Ip", ip)
	}
	if h.stripAuth {
		pr.Out.Header.Del("Authorization")
	}
	c, ok := httpauth.ClaimsFromContext(pr.In.Context())
	if !ok {
		// Unreachable: ServeHTTP forwards only with claims. Should it
		// happen, the upstream gets no identity rather than a wrong one.
		return
	}
	hdr := pr.Out.Header
	set := func(name, v string) {
		if v != "" {
			hdr[name] = []string{v}
		}
	}
	set(HeaderSubject, c.Subject)
	set(HeaderClient, c.ClientID)
	set(HeaderScope, strings.Join(c.Scopes, " "))
	set(HeaderAudience, strings.Join(c.Audience, " "))
	if actors, err := c.Actors(); err == nil {
		set(HeaderActor, strings.Join(actors, " "))
	}
}

// inboundOverrides are the names, besides the X-Gatehouse- and
// X-Forwarded prefixes, of headers a client must not pass to the
// upstream: common servers and frameworks honour them to run another
// method or path than the request line's (the one the token was checked
// for), or to take another client address, scheme or host than the one
// the proxy saw. Lower case, '-' for '_'.
var inboundOverrides = map[string]bool{
	// Method and path overrides.
	"x-http-method-override": true,
	"x-http-method":          true,
	"x-method-override":      true,
	"x-original-method":      true,
	"x-original-url":         true,
	"x-original-uri":         true,
	"x-rewrite-url":          true,
	"x-override-url":         true,
	"x-envoy-original-path":  true,
	// Client address, scheme and host.
	"forwarded":           true,
	"x-real-ip":           true,
	"true-client-ip":      true,
	"x-client-ip":         true,
	"client-ip":           true,
	"x-cluster-client-ip": true,
	"cf-connecting-ip":    true,
	"fastly-client-ip":    true,
	"x-originating-ip":    true,
	"x-remote-ip":         true,
	"x-remote-addr":       true,
	"x-proxyuser-ip":      true,
	"x-url-scheme":        true,
	"front-end-https":     true,
	"x-host":              true,
	"x-original-host":     true,
}

// stripInbound deletes every header an upstream could take for one the
// proxy vouches for: names starting with X-Gatehouse- (the identity) or
// X-Forwarded (X-Forwarded, X-Forwarded-For/-Host/-Proto/-Port/-Ssl/
// -Scheme/-Server/-Prefix/-Uri/...; the proxy sets -For, -Host and
// -Proto itself), and the names in inboundOverrides. Names are compared
// case-insensitively with '_' matching '-', because CGI, PHP, WSGI and
// some nginx setups map both to the same variable name.
func stripInbound(h http.Header) {
	for k := range h {
		if inboundOnly(k) {
			delete(h, k)
		}
	}
}

func inboundOnly(k string) bool {
	if hasFoldedPrefix(k, "x-gatehouse-") || hasFoldedPrefix(k, "x-forwarded") {
		return true
	}
	// Folded on the stack: this runs for every header of every request.
	// No name in inboundOverrides is anywhere near 64 bytes long.
	var buf [64]byte
	if len(k) > len(buf) {
		return false
	}
	for i := 0; i < len(k); i++ {
		buf[i] = foldName(k[i])
	}
	return inboundOverrides[string(buf[:len(k)])]
}

// hasFoldedPrefix reports whether k starts with prefix (lower case, '-')
// once folded by foldName.
func hasFoldedPrefix(k, prefix string) bool {
	if len(k) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if foldName(k[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// foldName maps a header name byte to lower case, '_' to '-'.
func foldName(c byte) byte {
	switch {
	case c == '_':
		return '-'
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	}
	return c
}

// upstreamError answers a request the upstream did not answer: 504 when it
// timed out, 502 otherwise. The cause goes to the access log only; the
// client learns that the upstream failed, not its address.
func (h *handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusBadGateway, "gatehouse proxy: the upstream service is unavailable"
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		status, msg = http.StatusGatewayTimeout, "gatehouse proxy: the upstream service did not answer in time"
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody will read the answer.
		msg = "gatehouse proxy: the request was cancelled"
	}
	if rec, ok := w.(*recorder); ok {
		rec.reason = "upstream: " + err.Error()
	}
	http.Error(w, msg, status)
}

// access writes the request's log line.
func (h *handler) access(r *http.Request, status int, decision, reason string, c *verify.Claims, start time.Time) {
	if h.logger == nil {
		return
	}
	var client, subject string
	if c != nil {
		client, subject = c.ClientID, c.Subject
	}
	h.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.String("decision", decision),
		slog.String("reason", reason),
		slog.String("client", client),
		slog.String("subject", subject),
		slog.Duration("duration", time.Since(start)),
	)
}

// bufferPool reuses ReverseProxy's body copy buffers, which it would
// otherwise allocate (32 KiB) for every request.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// recorder notes the status ReverseProxy writes, for the access log, and
// the upstream error, if any. Unwrap lets http.ResponseController reach
// the connection's Flush and Hijack (streaming, protocol upgrades).
type recorder struct {
	http.ResponseWriter
	code   int
	reason string
}

func (r *recorder) WriteHeader(code int) {
	// 1xx responses other than 101 are interim; the final status follows.
	if r.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
