// Package server is the authorization server's HTTP adapter: it decodes a
// request, calls the pure logic (policy, issue, keys) once, and writes one
// response. Handlers hold no protocol rules of their own.
package server

import (
	"context"
	"crypto"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/grant"
	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/web"
)

// KeyRing is what the server needs of internal/keys.Ring.
type KeyRing interface {
	Signer() *keys.Signer
	SignerFor(alg string) (*keys.Signer, bool)
	JWKS() []byte
	PublicKey(kid string) (crypto.PublicKey, string, bool)
}

// Options are the server's dependencies.
type Options struct {
	Config *config.Config
	Keys   KeyRing
	Store  store.Store
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// AccessLog enables one log line per request (default on in serve).
	AccessLog bool
	// AccessLogger receives the access log lines; Logger when nil.
	AccessLogger *slog.Logger
	// MetricsOnMainListener serves /metrics next to the protocol
	// endpoints; otherwise the caller serves Server.Metrics() elsewhere.
	MetricsOnMainListener bool
	// Events receives the audit trail (internal/events); nil drops it.
	Events events.Sink
	// MetadataTransport, for tests, carries the fetches of client
	// metadata documents (its TLS roots, say); the address checks of
	// internal/cimd still apply.
	MetadataTransport *http.Transport
}

// Limits on what a request may cost. Token and introspection requests are a
// few hundred bytes; 64 KiB leaves room for many resource parameters.
const (
	maxBodyBytes = 64 << 10
)

// maxClientIDsPerAddress is how many client ids one address may fail to
// authenticate as, each throttled on its own, before further unknown ids
// from it share one bucket (failureLimiter): it bounds what one address
// can make the limiter remember. A host running many real clients stays
// below it unless dozens of them fail at once.
const maxClientIDsPerAddress = 64

// Server serves the authorization server's endpoints for one version of
// the configuration. Reload builds the next version and swaps it in; what
// must outlive a configuration (the store, the key ring, rate limiters,
// metrics, usage counts, the hashing gate) lives in the embedded shared
// part, so a reload resets no throttle and loses no count.
type Server struct {
	*shared
	cfg    *config.Config
	model  *policy.Model
	minter *issue.Minter
	// grants is the protocol engine every grant and authorization
	// decision runs in; handlers only adapt HTTP to it.
	grants  *grant.Engine
	clients map[string]*clientEntry
	// secretFloor and passwordFloor pad every refused client secret and
	// password to the cost of the slowest stored form in use, so a refusal
	// takes as long for an unknown id or username as for a known one.
	secretFloor   *secret.Floor
	passwordFloor *secret.Floor
	users         map[string]*user
	// metadataClients: clients known by a metadata document, or
	// registered dynamically, are accepted.
	metadataClients bool
	// registrationTTL is how long a registered client lives unused (0:
	// dynamic registration is off).
	registrationTTL time.Duration
	// sources are the identity sources (connectors); people are everyone
	// who can sign in, as the grant engine sees them.
	sources *sources
	people  *people

	// admins may call the admin endpoints; routeDocs are the GET /routes
	// answers by client id.
	admins    map[string]bool
	routeDocs map[string]routeDoc

	// corsAllowed is the browser origins the token, userinfo, revocation
	// and introspection endpoints answer (corsOrigins, cors.go).
	corsAllowed map[string]bool

	discovery []byte
	asMeta    []byte
	handler   http.Handler
}

// shared is what every version of the configuration serves with.
type shared struct {
	issuer string
	// unrevoked remembers exchange subject tokens found unrevoked.
	unrevoked unrevoked
	// dpop checks DPoP proofs at the token endpoint.
	dpop  *tokenDPoP
	keys  KeyRing
	store store.Store
	log   *slog.Logger
	// events receives the audit trail (internal/events).
	events events.Sink
	now    func() time.Time
	// own verifies the tokens this server signed (owntokens.go).
	own          *ownTokens
	failures     *failureLimiter
	accessLog    bool
	accessLogger *slog.Logger
	serveMetrics bool

	// slowHashes bounds concurrent argon2id/bcrypt checks (memory).
	slowHashes  secret.Gate
	pages       *web.Pages
	loginByUser *failureLimiter
	loginByIP   *failureLimiter
	// registrations paces dynamic client registration per address.
	registrations *failureLimiter
	// Cookie names: with an https issuer they carry the __Host- prefix,
	// which browsers accept only when Secure, host-only and Path=/.
	sessionCookie, csrfCookie, upstreamCookie string
	// metadataTransport is Options.MetadataTransport.
	metadataTransport *http.Transport
	secureCookies     bool

	metrics *metrics
	usage   *usageCounters

	// cur is the configuration in force; root serves every request with
	// the version current when the request arrived, start to finish.
	cur      atomic.Pointer[Server]
	root     http.Handler
	reloadMu sync.Mutex
	reloads  *prometheus.CounterVec
}

type clientEntry struct {
	cfg    *config.Client
	secret secret.Checker // nil for a public client
	set    string         // the secret's parameter set (secret.ParamSet)
	// keys are the client's public keys for private_key_jwt, or nil.
	keys clientKeys
}

// grantClients is the configuration's clients as the grant engine reads them.
func grantClients(cfg *config.Config) []grant.Client {
	out := make([]grant.Client, len(cfg.Clients))
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		out[i] = grant.Client{ID: c.ID, RedirectURIs: c.RedirectURIs, IDTokenAlg: c.IDTokenSignedResponseAlg,
			IDTokenScopeClaims: c.IDTokenScopeClaims, PKCERequired: c.PKCERequired(), FirstParty: c.FirstParty,
			GroupsClaim: c.GroupsClaim, Public: c.Public(), DPoPBound: c.DPoPBoundAccessTokens}
	}
	return out
}

// loadClients prepares every client's secret check, and a Floor that has
// measured one wrong-secret check of each parameter set in use.
func loadClients(cfg *config.Config, gate secret.Gate) (map[string]*clientEntry, *secret.Floor, error) {
	clients := make(map[string]*clientEntry, len(cfg.Clients))
	floor := secret.NewFloor()
	seen := map[string]bool{}
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		e := &clientEntry{cfg: c}
		switch {
		case len(c.JWKS) > 0:
			keys, err := parseClientKeys(c.JWKS)
			if err != nil {
				return nil, nil, errors.New("client " + c.ID + ": " + err.Error())
			}
			e.keys = staticKeys{keys}
		case c.JWKSURI != "":
			e.keys = newRemoteKeys(c.JWKSURI, time.Now)
		}
		if c.Secret != "" {
			chk, err := secret.ParseGated(c.Secret, gate)
			if err != nil {
				return nil, nil, errors.New("client " + c.ID + ": " + err.Error())
			}
			e.secret, e.set = chk, secret.ParamSet(c.Secret)
			if !seen[e.set] {
				seen[e.set] = true
				started := time.Now()
				chk.Check("\x00 not a secret")
				floor.Observe(e.set, time.Since(started))
			}
		}
		clients[c.ID] = e
	}
	return clients, floor, nil
}

// New wires a server from validated configuration.
func New(o Options) (*Server, error) {
	if o.Config == nil || o.Keys == nil || o.Store == nil {
		return nil, errors.New("server: Config, Keys and Store are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AccessLogger == nil {
		o.AccessLogger = o.Logger
	}
	cfg := o.Config
	sh := &shared{
		issuer:       strings.TrimSuffix(cfg.Issuer, "/"),
		keys:         o.Keys,
		log:          o.Logger,
		events:       events.OrDiscard(o.Events),
		now:          o.Now,
		failures:     newFailureLimiter(6*time.Second, 10, 10000, maxClientIDsPerAddress),
		accessLog:    o.AccessLog,
		accessLogger: o.AccessLogger,
		metrics:      newMetrics(),
		usage:        newUsageCounters(cfg),
		serveMetrics: o.MetricsOnMainListener,
		// A person gets 5 tries, then one per minute; an address 20, then
		// one every 3 seconds, so one address cannot lock out many users
		// quickly. These are per instance and bound concurrent guesses on
		// it; the count across instances is in the store
		// (loginFailureLimit, login.go). Their keys are a bare username
		// or address: one bucket per group.
		slowHashes:  secret.NewGate(2 * runtime.GOMAXPROCS(0)),
		loginByUser: newFailureLimiter(time.Minute, 5, 10000, 1),
		loginByIP:   newFailureLimiter(3*time.Second, 20, 10000, 1),
		// Registrations: 10 per address, then one a minute; each counts.
		registrations: newFailureLimiter(time.Minute, 10, 10000, 1),
	}
	sh.store = &countedStore{Store: o.Store, errs: sh.metrics.storeErrs, revoking: sh.unrevoked.changed}
	sh.metadataTransport = o.MetadataTransport
	sh.reloads = newReloadCounter(sh.metrics.reg)
	sh.sessionCookie, sh.csrfCookie, sh.upstreamCookie = "gatehouse_session", "gatehouse_csrf", "gatehouse_upstream"
	if strings.HasPrefix(sh.issuer, "https://") {
		sh.secureCookies = true
		sh.sessionCookie, sh.csrfCookie, sh.upstreamCookie = "__Host-gatehouse_session", "__Host-gatehouse_csrf", "__Host-gatehouse_upstream"
	}
	pages, err := web.New()
	if err != nil {
		return nil, err
	}
	sh.pages = pages
	sh.own = &ownTokens{keys: o.Keys, issuer: sh.issuer, now: o.Now}
	if sh.dpop, err = newTokenDPoP(sh, cfg.DPoP != nil && cfg.DPoP.RequireNonce); err != nil {
		return nil, err
	}
	s, err := sh.build(cfg)
	if err != nil {
		return nil, err
	}
	sh.cur.Store(s)
	sh.root = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sh.cur.Load().handler.ServeHTTP(w, r)
	})
	return s, nil
}

// build makes the Server of one configuration over the shared part.
func (sh *shared) build(cfg *config.Config) (*Server, error) {
	s := &Server{shared: sh, cfg: cfg, model: cfg.PolicyModel()}
	s.minter = issue.New(sh.issuer, cfg.AccessTokenTTL, sh.keys, sh.now)
	var err error
	if s.users, s.passwordFloor, err = loadUsers(cfg, sh.slowHashes); err != nil {
		return nil, err
	}
	if s.clients, s.secretFloor, err = loadClients(cfg, sh.slowHashes); err != nil {
		return nil, err
	}
	s.admins = make(map[string]bool, len(cfg.Admins))
	for _, id := range cfg.Admins {
		s.admins[id] = true
	}
	if s.sources, err = buildSources(cfg, sh.issuer); err != nil {
		return nil, err
	}
	s.people = &people{yaml: s.users, store: sh.store, sources: s.sources, now: sh.now}
	var external externalClients
	if m := cfg.ClientMetadataDocuments; m != nil {
		s.model.SetMetadataClass(&policy.MetadataClass{Audience: m.Audience, Scopes: m.Scopes})
		external.metadata = newMetadataClients(m, sh.metadataTransport)
	}
	if d := cfg.DynamicRegistration; d != nil {
		s.model.SetRegisteredClass(&policy.MetadataClass{Audience: d.Audience, Scopes: d.Scopes})
		s.registrationTTL = d.ExpireAfter
		if s.registrationTTL == 0 {
			s.registrationTTL = defaultRegistrationTTL
		}
		external.registered = &registeredClients{store: sh.store, now: sh.now, ttl: s.registrationTTL}
	}
	var metadata grant.MetadataClients
	if external.metadata != nil || external.registered != nil {
		metadata, s.metadataClients = &external, true
	}
	s.grants = grant.New(grant.Options{Clients: grantClients(cfg), Model: s.model, Minter: s.minter,
		Store: sh.store, Users: s.people, RefreshTTL: cfg.RefreshTokenTTL, Now: sh.now, Log: sh.log,
		Events: sh.events, Metadata: metadata, Subjects: s.subjectToken, MaxDelegationDepth: cfg.MaxDelegationDepth})
	if s.routeDocs, err = buildRouteDocs(cfg); err != nil {
		return nil, err
	}
	s.corsAllowed = corsOrigins(cfg)
	if s.discovery, s.asMeta, err = s.buildMetadata(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the root HTTP handler: it serves each request with the
// configuration in force when the request arrived, across reloads.
func (s *Server) Handler() http.Handler { return s.root }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.metrics.instrument(pattern, h)) }
	// CORS only where browser apps fetch (cors.go); never on /authorize,
	// whose login and consent pages are for the user, nor on /logout.
	route("/.well-known/openid-configuration", s.cors(corsPublicDoc, s.static(s.discovery, "public, max-age=3600")))
	route("/.well-known/oauth-authorization-server", s.cors(corsPublicDoc, s.static(s.asMeta, "public, max-age=3600")))
	route(pathJWKS, s.cors(corsPublicDoc, s.handleJWKS))
	route(pathToken, s.cors(corsPost, s.handleToken))
	route(pathIntrospect, s.cors(corsPost, s.handleIntrospect))
	route(pathAuthorize, s.handleAuthorize)
	route(pathUserInfo, s.cors(corsUserInfo, s.handleUserInfo))
	route(pathRevoke, s.cors(corsPost, s.handleRevoke))
	route(pathLogout, s.handleLogout)
	route(pathRoutes, s.handleRoutes)
	route(pathUpstreamCallback, s.handleUpstreamCallback)
	if s.registrationTTL > 0 {
		route(pathRegister, s.cors(corsRegister, s.handleRegister))
	}
	route(pathExplain, s.handleExplain)
	mux.Handle(web.StaticPrefix, s.pages.StaticHandler())
	mux.HandleFunc("/healthz", s.handleHealth)
	mux.HandleFunc("/readyz", s.handleReady)
	if s.serveMetrics {
		mux.Handle("/metrics", s.loopbackOnly(s.metrics.handler()))
	}
	mux.HandleFunc("/", s.handleNotFound)
	if s.accessLog {
		return s.logRequests(mux)
	}
	return mux
}

// Endpoint paths, relative to the issuer.
const (
	pathJWKS       = "/jwks.json"
	pathToken      = "/token"
	pathIntrospect = "/introspect"
	pathAuthorize  = "/authorize"
	pathUserInfo   = "/userinfo"
	pathRevoke     = "/revoke"
	pathLogout     = "/logout"
	pathRoutes     = "/routes"
	pathExplain    = "/admin/explain"
	// pathUpstreamCallback is upstreamCallbackPath's pattern.
	pathUpstreamCallback = "/upstream/{id}/callback"
)

func (s *Server) static(body []byte, cacheControl string) http.HandlerFunc {
	cc := []string{cacheControl}
	return func(w http.ResponseWriter, r *http.Request) {
		if !allowGet(w, r) {
			return
		}
		h := w.Header()
		h["Content-Type"] = jsonContentType
		h["Cache-Control"] = cc
		_, _ = w.Write(body)
	}
}

// jwksCacheControl lets verifiers cache keys briefly; they refetch on an
// unknown kid anyway, and the next key is published before it signs.
var jwksCacheControl = []string{"public, max-age=300"}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if !allowGet(w, r) {
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = jwksCacheControl
	_, _ = w.Write(s.keys.JWKS())
}

func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// handleReady answers 200 only when the store is reachable and a signing
// key is loaded, so a load balancer keeps traffic away otherwise.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.keys.Signer() == nil {
		http.Error(w, "no signing key loaded", http.StatusServiceUnavailable)
		return
	}
	{
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.store.Ping(ctx); err != nil {
			s.log.Warn("readiness: store unreachable", "error", err)
			http.Error(w, "store unreachable", http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not found: see "+s.issuer+"/.well-known/openid-configuration", http.StatusNotFound)
}

// clientIP is the caller's address for every per-address decision: rate
// limits, the loopback-only /metrics and the access log. Behind trusted
// proxies it is the rightmost X-Forwarded-For entry that is not itself a
// trusted proxy: entries left of it were written by the client and prove
// nothing. An address is returned in one spelling (IPv4-mapped unmapped,
// IPv6 compressed), so that one caller is one rate-limit key however a
// proxy writes it.
func (s *Server) clientIP(r *http.Request) string {
	peer := canonicalIP(remoteIP(r))
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			ip := strings.TrimSpace(parts[j])
			if ip == "" {
				continue
			}
			if !s.trusted(ip) {
				return canonicalIP(ip)
			}
		}
	}
	return peer
}

// canonicalIP is ip in its one standard spelling; anything that does not
// parse as an address is left as it is.
func canonicalIP(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		return a.Unmap().String()
	}
	return ip
}

func (s *Server) trusted(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remoteIP is the TCP peer's address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
