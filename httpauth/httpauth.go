package httpauth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/verify"
)

// Verifier checks a bearer token and the scopes a route requires.
// *verify.Verifier implements it; the interface exists so that the
// middleware depends only on what it calls.
//
// Verify must return a *verify.Error (possibly wrapped) for a refused
// token so that the response can name the failed check; any other error
// is answered as a generic invalid_token. A *verify.Error whose
// InsufficientScope method reports true becomes 403 insufficient_scope.
type Verifier interface {
	Verify(ctx context.Context, token string, requiredScopes ...string) (*verify.Claims, error)
}

// Decision is what the middleware decided for one request, passed to the
// hook set by WithDecisionHook. It never contains the token.
type Decision struct {
	// Allowed is true when the request was passed on to the handler.
	Allowed bool
	// Claims are the verified claims when Allowed, nil otherwise.
	Claims *verify.Claims
	// Err is the refusal when not Allowed, nil otherwise.
	Err *Error
}

// Reason returns a one-line reason for a refusal suitable for logs (see
// Error.Reason), or "" when the request was allowed.
func (d Decision) Reason() string {
	if d.Err == nil {
		return ""
	}
	return d.Err.Reason()
}

// Option configures a Middleware.
type Option func(*Middleware)

// WithRealm sets the realm auth-param of every challenge (RFC 6750 §3,
// RFC 9110 §11.5), which tells a client which protection space refused
// it. Use the API's audience id. Characters a quoted-string cannot carry
// (controls, non-ASCII) are replaced by '?', and '"' and '\' are escaped,
// so a realm cannot inject header syntax.
//
// Without WithRealm the realm is the verifier's Audience() when it has
// such a method, and otherwise the challenges carry no realm, which
// RFC 6750 §3 allows.
func WithRealm(realm string) Option {
	return func(m *Middleware) { m.realm, m.realmSet = realm, true }
}

// WithDecisionHook calls hook once per request with the decision, before
// the handler runs (allowed) or the refusal is written (refused), for
// logging or metrics. The hook runs on the request's goroutine: it should
// be quick. It receives no token, only claims and a reason; the reason may
// quote token values (an issuer, an audience), which are untrusted text.
func WithDecisionHook(hook func(r *http.Request, d Decision)) Option {
	return func(m *Middleware) { m.hook = hook }
}

// Middleware authenticates requests by their bearer token (RFC 6750). It
// holds no per-request state and is safe for concurrent use; create one
// per API and share it between routes.
type Middleware struct {
	v        Verifier
	realm    string
	realmSet bool
	// challenge is `Bearer realm="…"` (and resource_metadata when set),
	// computed once: every refusal starts with it.
	challenge string
	hook      func(*http.Request, Decision)
	// meta is the protected resource metadata document (RFC 9728), its
	// URL and path; empty when not configured.
	meta              []byte
	metaDoc           ResourceMetadata
	metaURL, metaPath string
	// delegation is what the API accepts of delegated tokens.
	delegation Delegation
	// dpop is the verifier when it checks DPoP proofs (RFC 9449), nil
	// otherwise; dpopChallenge is `DPoP realm="…", ` and dpopAlgs
	// `algs="…"`, computed once.
	dpop                    DPoPVerifier
	dpopRequired            bool
	dpopChallenge, dpopAlgs string
	// publicURL is the scheme://host[:port] clients address, for htu; ""
	// takes it from the request.
	publicURL string
}

// New returns middleware that checks tokens with v. It panics when v is
// nil, as a missing verifier is a programming error that must not start
// serving requests.
func New(v Verifier, opts ...Option) *Middleware {
	if v == nil {
		panic("httpauth: New with a nil Verifier")
	}
	m := &Middleware{v: v}
	for _, o := range opts {
		o(m)
	}
	if !m.realmSet {
		if a, ok := v.(interface{ Audience() string }); ok {
			m.realm = a.Audience()
		}
	}
	var params []string
	if m.realm != "" {
		params = append(params, `realm="`+quoteRealm(m.realm)+`"`)
	}
	if m.metaURL != "" {
		// RFC 9728 §5.1: every challenge says where the metadata is, so
		// a client that holds no token yet can find the authorization
		// server (the MCP authorization flow starts here).
		params = append(params, `resource_metadata="`+paramValue(m.metaURL)+`"`)
	}
	m.challenge = "Bearer"
	if len(params) > 0 {
		m.challenge += " " + strings.Join(params, ", ")
	}
	m.setupDPoP(v, params)
	m.marshalMetadata()
	return m
}

// Realm returns the realm the challenges carry ("" for none).
func (m *Middleware) Realm() string { return m.realm }

// Handler requires a valid bearer token and no particular scope before
// calling next. It is Require() with no scopes.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return m.Require()(next)
}

// Require returns middleware for one route: it calls next only for a
// request with a valid bearer token carrying every one of scopes (RFC 6749
// §3.3 scope tokens, compared exactly), with the claims in the request's
// context (ClaimsFromContext). Otherwise it answers as the package
// documentation describes and next is never called.
//
// Each Require verifies the token itself, so nest them only when paying
// for the verification twice is acceptable; give each route the one
// Require with all the scopes it needs instead.
//
// Require panics when a scope is not a valid scope-token (empty, or with
// spaces, quotes, backslashes or controls): it would never match a token
// and could not be named in a challenge.
func (m *Middleware) Require(scopes ...string) func(http.Handler) http.Handler {
	for _, s := range scopes {
		if !oauth.ValidScopeToken(s) {
			panic("httpauth: Require: invalid scope-token " + strings.ReplaceAll(s, "\n", `\n`))
		}
	}
	scopes = append([]string(nil), scopes...) // the caller may reuse its slice
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, err := m.Authenticate(r, scopes...)
			if m.hook != nil {
				m.hook(r, Decision{Allowed: err == nil, Claims: claims, Err: err})
			}
			if err != nil {
				m.WriteError(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), claims)))
		})
	}
}

// Authenticate is the middleware's decision without the HTTP response:
// it takes the bearer token from r's Authorization header (RFC 6750 §2.1)
// and verifies it with the required scopes; or, when the verifier checks
// DPoP, a DPoP-scheme token and the request's DPoP proof header (RFC 9449
// §7.1) with VerifyDPoP. It returns the claims, or an
// *Error to pass to WriteError. It does not call the decision hook.
//
// It is for callers that need to act between the decision and the
// response, such as the proxy package's access log.
func (m *Middleware) Authenticate(r *http.Request, scopes ...string) (*verify.Claims, *Error) {
	if m.dpop != nil {
		if token, ok, herr := dpopCredentials(r.Header); ok {
			if herr != nil {
				return nil, herr
			}
			return m.authenticateDPoP(r, token, scopes)
		}
	}
	token, herr := bearerToken(r.Header)
	if herr != nil {
		return nil, herr
	}
	if m.dpopRequired {
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: descDPoPRequired, Scheme: SchemeDPoP, Err: errBearerRefused}
	}
	claims, err := m.v.Verify(r.Context(), token, scopes...)
	if err != nil {
		e := tokenError(err)
		var ve *verify.Error
		if m.dpop != nil && errors.As(err, &ve) && ve.Code == verify.CodeBoundAsBearer {
			// The client must switch schemes: say so on the DPoP challenge.
			e.Scheme = SchemeDPoP
		}
		return nil, e
	}
	if claims == nil {
		// A Verifier breaking its contract must not let a request through
		// without claims.
		return nil, tokenError(errors.New("httpauth: the verifier returned neither claims nor an error"))
	}
	if e := m.checkDelegation(claims); e != nil {
		return nil, e
	}
	return claims, nil
}

// tokenError maps a verifier's error to the RFC 6750 §3.1 response: the
// one place where verification failures become protocol errors.
func tokenError(err error) *Error {
	var ve *verify.Error
	if !errors.As(err, &ve) {
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: "The access token is invalid", Err: err}
	}
	if ve.InsufficientScope() {
		return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Description: ve.Description(), Scope: ve.Want, Err: err}
	}
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: ve.Description(), Err: err}
}

type claimsKey struct{}

// NewContext returns a copy of ctx carrying claims, as the middleware
// passes them to the handler. It is exported for tests of handlers and
// for other authentication layers; whoever calls it vouches for the
// claims.
func NewContext(ctx context.Context, claims *verify.Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, claims)
}

// ClaimsFromContext returns the verified claims the middleware put in a
// request's context, and whether there were any. The claims may be shared
// with other requests (see verify.Config.CacheSize): treat them as
// read-only.
func ClaimsFromContext(ctx context.Context) (*verify.Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*verify.Claims)
	return c, ok && c != nil
}
