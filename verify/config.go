package verify

import (
	"errors"
	"fmt"
	"github.com/gatehouse/gatehouse/oauth"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Config configures a Verifier. Issuer and Audience are required: there is
// no zero value that skips a check.
type Config struct {
	// Issuer is the exact "iss" value to accept (RFC 7519 §4.1.1), e.g.
	// "https://id.example.com". Unless JWKSURL or StaticJWKS is set, the
	// keys are found through Issuer + "/.well-known/openid-configuration"
	// (OpenID Connect Discovery 1.0 §4), whose "issuer" must equal Issuer.
	Issuer string
	// Audience is this API's id: a token is accepted only when its "aud"
	// contains it (RFC 7519 §4.1.3, RFC 9068 §4). A short id is compared
	// exactly; an http(s) URI (https://mcp.example.com/mcp) by its
	// oauth.CanonicalResource form, so a token for
	// https://MCP.example.com/mcp/ is one for this API too.
	Audience string
	// AlsoAudiences are further names of this same API that a token may
	// carry instead, such as its short id next to its URI: Gatehouse puts
	// into aud the form the client asked for. Empty: only Audience.
	AlsoAudiences []string
	// InsecureAnyAudience accepts a token whatever its aud, and leaves the
	// audience decision to the caller (Claims.Audience); Audience must
	// then be empty. Safe only for an issuer examining its own tokens for
	// a caller whose rights it checks itself, as RFC 7662 introspection
	// does (active only for a caller the token's aud or client_id names).
	// Never for an API: it would accept every other API's tokens.
	InsecureAnyAudience bool
	// InsecureIgnoreExpiry skips the exp check (exp must still be present
	// and well-formed). Safe only where a token proves who it named rather
	// than authorising anything now: an ID token used as the
	// id_token_hint of an RP-initiated logout, which OIDC RP-Initiated
	// Logout §2 lets the OP accept after it expired.
	InsecureIgnoreExpiry bool

	// JWKSURL, when set, is used instead of discovery.
	JWKSURL string
	// StaticJWKS, when set, is a JWK Set (RFC 7517 §5) used as the only
	// keys; nothing is fetched. For offline use and tests: rotation then
	// needs a new Verifier.
	StaticJWKS []byte
	// InsecureAllowHTTP allows plain-http discovery and JWKS URLs on
	// non-loopback hosts. Safe only when the network path to the issuer is
	// trusted (for example a private service mesh with its own TLS); keys
	// fetched over an untrusted path can be replaced by anyone on it.
	// Loopback hosts are always allowed.
	InsecureAllowHTTP bool

	// Algorithms is the allowlist of JWS "alg" values (RFC 7518 §3.1).
	// Default: ES256, EdDSA, RS256, the ones Gatehouse signs with. Only
	// these three are supported; "none" and the HMAC algorithms (HS256…)
	// can never be enabled, because a verifier that holds only public keys
	// would accept tokens anyone can forge with them.
	Algorithms []string
	// Types lists the accepted "typ" header values (RFC 7515 §4.1.9),
	// compared case-insensitively with the "application/" prefix optional.
	// Default: "at+jwt" and "application/at+jwt" (RFC 9068 §2.1), which
	// keeps ID tokens ("JWT") from being used as access tokens. For a
	// legacy issuer list its type; the empty string matches a token
	// without typ, and then telling ID and access tokens apart by other
	// means (aud, scope) is the caller's responsibility.
	Types []string
	// Leeway is the clock skew allowed for exp, nbf and iat (RFC 7519
	// §4.1.4). Zero means 30 s; at most 5 minutes.
	Leeway time.Duration
	// MaxTokenBytes refuses longer tokens before any parsing. Zero means
	// 8 KiB.
	MaxTokenBytes int
	// MinRefreshInterval is the least time between two JWKS fetches
	// triggered by an unknown kid, so a flood of tokens with made-up kids
	// costs the issuer at most one request per interval. Zero means 30 s.
	MinRefreshInterval time.Duration
	// RefreshInterval is the age after which the key set is refetched in
	// the background, so keys the issuer stopped publishing stop being
	// accepted. Zero means 10 minutes; negative disables it.
	RefreshInterval time.Duration
	// HTTPClient fetches discovery and the JWKS. Default: a client with a
	// 30 s timeout that follows at most 5 redirects, none to plain http.
	// A client given here is used as it is: its redirect and proxy policy
	// are the caller's.
	HTTPClient *http.Client
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time
	// CacheSize, when positive, enables a cache of up to about that many
	// verified tokens (keyed by the token string), so a repeated token
	// costs a map lookup instead of a signature check. An entry never
	// outlives the token's exp (plus leeway) or the issuer's removal of its
	// key, and required scopes are checked on every call. Memory: roughly
	// twice the token size per entry.
	CacheSize int

	// DPoP checks the proofs of VerifyDPoP (RFC 9449); nil disables it:
	// VerifyDPoP then refuses every request. Share one ProofChecker per API
	// (it holds the replay cache).
	DPoP *ProofChecker
	// RequireDPoP makes the API accept only DPoP-bound tokens with a proof
	// (RFC 9449 §7.1): Verify then refuses every token (bound or not) and
	// only VerifyDPoP can succeed. Without it, Verify accepts unbound
	// tokens and refuses bound ones. VerifyDPoP refuses unbound tokens
	// either way, as it has no key to check the proof against. Needs DPoP.
	RequireDPoP bool
	// AcceptBoundAsBearer makes Verify accept tokens bound to a DPoP key
	// (cnf.jkt) without a proof. For the issuer only, which examines its
	// own tokens (introspection, token exchange) rather than serving
	// requests with them: RFC 9449 §7.1 forbids a resource server to accept
	// a bound token as a bearer token, since a stolen bound token must be
	// useless without its key. Not with RequireDPoP.
	AcceptBoundAsBearer bool
}

// Defaults used when a Config field is zero.
const (
	DefaultLeeway             = 30 * time.Second
	DefaultMaxTokenBytes      = 8 << 10
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultRefreshInterval    = 10 * time.Minute
	maxLeeway                 = 5 * time.Minute
)

// supportedAlgs are the algorithms this package implements (RFC 7518 §3.4
// ES256, RFC 8037 §3.1 EdDSA with Ed25519, RFC 7518 §3.3 RS256).
var supportedAlgs = [...]string{"ES256", "EdDSA", "RS256"}

// settings is a validated Config with defaults applied.
type settings struct {
	Config
	algs  []string
	types []string
	// audiences are Audience and AlsoAudiences in canonical form.
	audiences []string
}

// validate reports every problem with cfg at once.
func (cfg Config) validate() (*settings, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	s := &settings{Config: cfg}
	if cfg.Issuer == "" {
		bad("Issuer is required: it is compared exactly with every token's iss")
	}
	switch {
	case cfg.Audience == "" && !cfg.InsecureAnyAudience:
		bad("Audience is required: it is this API's id, which every token's aud must contain")
	case cfg.Audience != "" && cfg.InsecureAnyAudience:
		bad("set either Audience or InsecureAnyAudience, not both")
	case len(cfg.AlsoAudiences) > 0 && cfg.InsecureAnyAudience:
		bad("AlsoAudiences goes with Audience, not InsecureAnyAudience")
	}
	for _, a := range append([]string{cfg.Audience}, cfg.AlsoAudiences...) {
		if a == "" {
			continue
		}
		c, err := oauth.CanonicalResource(a)
		if err != nil {
			bad("audience %q: %v", a, err)
			continue
		}
		s.audiences = append(s.audiences, c)
	}
	if cfg.StaticJWKS == nil {
		u := cfg.JWKSURL
		what := "JWKSURL"
		if u == "" {
			u, what = cfg.Issuer, "Issuer (used for discovery)"
		}
		if u != "" {
			if err := checkURL(u, cfg.InsecureAllowHTTP); err != nil {
				bad("%s: %v", what, err)
			}
		}
	} else if cfg.JWKSURL != "" {
		bad("set either JWKSURL or StaticJWKS, not both")
	}
	if len(cfg.Algorithms) == 0 {
		s.algs = supportedAlgs[:]
	}
	for _, a := range cfg.Algorithms {
		switch {
		case strings.EqualFold(a, "none"):
			bad(`algorithm "none" can never be enabled: it accepts unsigned tokens`)
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			bad("algorithm %q can never be enabled: with HMAC, anyone who has the issuer's public key could forge tokens", a)
		case !slices.Contains(supportedAlgs[:], a):
			bad("algorithm %q is not supported (supported: %s)", a, strings.Join(supportedAlgs[:], ", "))
		default:
			s.algs = append(s.algs, a)
		}
	}
	s.types = cfg.Types
	if len(s.types) == 0 {
		s.types = []string{"at+jwt", "application/at+jwt"}
	}
	switch {
	case cfg.Leeway == 0:
		s.Leeway = DefaultLeeway
	case cfg.Leeway < 0 || cfg.Leeway > maxLeeway:
		bad("Leeway %v is outside 0 to %v", cfg.Leeway, maxLeeway)
	}
	switch {
	case cfg.MaxTokenBytes == 0:
		s.MaxTokenBytes = DefaultMaxTokenBytes
	case cfg.MaxTokenBytes < 0:
		bad("MaxTokenBytes %d is negative", cfg.MaxTokenBytes)
	}
	switch {
	case cfg.MinRefreshInterval == 0:
		s.MinRefreshInterval = DefaultMinRefreshInterval
	case cfg.MinRefreshInterval < 0:
		bad("MinRefreshInterval %v is negative", cfg.MinRefreshInterval)
	}
	if cfg.RefreshInterval == 0 {
		s.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.CacheSize < 0 {
		bad("CacheSize %d is negative", cfg.CacheSize)
	}
	if s.HTTPClient == nil {
		s.HTTPClient = &http.Client{
			Timeout: fetchTimeout,
			// Redirects must not lead to plain http either, or a redirect
			// would undo the https requirement.
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("too many redirects")
				}
				return checkURL(req.URL.String(), cfg.InsecureAllowHTTP)
			},
		}
	}
	if cfg.RequireDPoP && cfg.DPoP == nil {
		bad("RequireDPoP needs DPoP, a ProofChecker: otherwise no token could be accepted")
	}
	if cfg.RequireDPoP && cfg.AcceptBoundAsBearer {
		bad("set either RequireDPoP or AcceptBoundAsBearer, not both")
	}
	if s.Clock == nil {
		s.Clock = time.Now
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("verify: invalid config: %w", err)
	}
	return s, nil
}
