package server

// Cross-origin resource sharing for browser clients (issue 11 item 6).
//
// A single-page app calls a few endpoints from JavaScript: discovery and
// JWKS to configure itself, the token endpoint to redeem a code or a
// refresh token, userinfo, and revocation and introspection. Only those
// carry CORS headers. The authorization endpoint (with the login and
// consent pages it serves) and logout are top-level navigations, never
// fetches: CORS there would only let another site read pages meant for
// the user, so they get none, whatever the origin.
//
// Discovery and JWKS answer every origin with Access-Control-Allow-Origin:
// *. They are the same public documents for every caller, fetched without
// credentials, and anyone can read them from a server anyway; "*" also
// keeps them cacheable by shared caches without Vary: Origin.
//
// Token, userinfo, revocation and introspection answer with the request's
// own origin, and only when it is allowlisted (corsOrigins). They never
// send Access-Control-Allow-Credentials: they use no cookies, so a
// browser's ambient credentials must never ride along.

import (
	"net/http"

	"github.com/gatehouse/gatehouse/config"
)

// corsPolicy is what one endpoint tells browsers.
type corsPolicy struct {
	// methods is Access-Control-Allow-Methods: the endpoint's methods.
	methods string
	// anyOrigin answers every origin with "*" (public documents).
	anyOrigin bool
}

var (
	corsPublicDoc = corsPolicy{methods: "GET, HEAD", anyOrigin: true}
	corsPost      = corsPolicy{methods: "POST"}
	corsUserInfo  = corsPolicy{methods: "GET, POST"}
	// corsRegister: registration is open to any origin (RFC 7591 clients
	// include browser apps); it sets no cookie and reads none.
	corsRegister = corsPolicy{methods: "POST", anyOrigin: true}
)

// Header values shared by every CORS answer.
var (
	// corsAllowHeaders are the request headers a browser client sends
	// beyond the CORS-safelisted ones: a bearer token, a JSON or form
	// Content-Type with parameters, and a DPoP proof (RFC 9449).
	corsAllowHeaders = []string{"Authorization, Content-Type, DPoP"}
	// corsExposeHeaders lets the app read why a token was refused
	// (RFC 6750 §3) and a DPoP nonce it must retry with (RFC 9449 §8).
	corsExposeHeaders = []string{"WWW-Authenticate, DPoP-Nonce"}
	// corsMaxAge is Chromium's ceiling (2 hours). Caching a preflight
	// lets a removed origin skip preflights for that long, but not read
	// anything: every actual response is checked against the allowlist
	// of the moment.
	corsMaxAge = []string{"7200"}
	anyOrigin  = []string{"*"}
)

// corsOrigins is the allowlist of browser origins: the origins of the
// http(s) redirect URIs of public clients, which are browser apps by
// construction, and every client's allowed_origins. A confidential
// client's redirect URI is its server's, whose pages need not call the
// token endpoint from a browser, so it does not count. The set is built
// from the configuration alone, so a reload rebuilds it with this function.
func corsOrigins(cfg *config.Config) map[string]bool {
	set := map[string]bool{}
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		if c.Public() {
			for _, r := range c.RedirectURIs {
				if o, ok := config.Origin(r); ok {
					set[o] = true
				}
			}
		}
		for _, o := range c.AllowedOrigins {
			if o, ok := config.Origin(o); ok {
				set[o] = true
			}
		}
	}
	return set
}

// cors wraps next with the CORS answers of p. A preflight is answered
// here and never reaches next. An actual request always reaches next:
// without an allowed origin its response merely lacks the headers, so
// the browser keeps it from the page, and requests without an Origin
// (servers, curl) are served as before.
func (s *Server) cors(p corsPolicy, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		origin := r.Header.Get("Origin")
		allowed := p.anyOrigin || origin != "" && s.corsAllowed[origin]
		if p.anyOrigin {
			// Set whether or not Origin was sent: a cached copy must
			// serve the next browser too.
			h["Access-Control-Allow-Origin"] = anyOrigin
		} else {
			// The answer depends on Origin: caches must key on it.
			h.Add("Vary", "Origin")
			if allowed {
				h["Access-Control-Allow-Origin"] = []string{origin}
				h["Access-Control-Expose-Headers"] = corsExposeHeaders
			}
		}
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			preflight(w, p, allowed)
			return
		}
		next(w, r)
	}
}

// preflight answers a CORS preflight (Fetch §4.8): 204 with what the
// endpoint accepts, or 403 without any Allow header, which the browser
// reports to the page as a network error.
func preflight(w http.ResponseWriter, p corsPolicy, allowed bool) {
	h := w.Header()
	if !allowed {
		http.Error(w, "origin not allowed: register it as a public client's redirect URI or in a client's allowed_origins", http.StatusForbidden)
		return
	}
	delete(h, "Access-Control-Expose-Headers") // meaningless on a preflight
	h["Access-Control-Allow-Methods"] = []string{p.methods}
	h["Access-Control-Allow-Headers"] = corsAllowHeaders
	h["Access-Control-Max-Age"] = corsMaxAge
	w.WriteHeader(http.StatusNoContent)
}
