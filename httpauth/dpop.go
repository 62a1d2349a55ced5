package httpauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/verify"
)

// DPoPVerifier is a Verifier that also checks DPoP-bound tokens with their
// proofs (RFC 9449). *verify.Verifier implements it; the middleware accepts
// the DPoP scheme when the verifier does and DPoPAlgorithms returns at
// least one algorithm (for *verify.Verifier: when Config.DPoP is set).
type DPoPVerifier interface {
	Verifier
	VerifyDPoP(ctx context.Context, token, proof string, req verify.ProofRequest, requiredScopes ...string) (*verify.Claims, *verify.Proof, error)
	// DPoPAlgorithms lists the accepted proof algorithms, for the algs
	// parameter of the DPoP challenge.
	DPoPAlgorithms() []string
}

// WithDPoPRequired makes the middleware accept only DPoP (RFC 9449 §7.1):
// a request with a bearer token is refused with 401 invalid_token on the
// DPoP challenge, before its token is verified, and no Bearer challenge is
// sent. A verifier with verify.Config.RequireDPoP implies it. New panics
// when the verifier does not check DPoP.
func WithDPoPRequired() Option {
	return func(m *Middleware) { m.dpopRequired = true }
}

// WithPublicURL sets the scheme and authority clients address the API by
// (for example "https://api.example.com"), from which the URL a DPoP
// proof's htu must match is built: it plus the request's path. Use it
// behind a TLS-terminating proxy or load balancer, where the request the
// middleware sees is plain http to an internal address. Without it the URL
// is taken from the request itself: https when the connection is TLS, and
// the Host header, which the client chooses, so a proof made for another
// host name of the same server would pass. X-Forwarded-* and Forwarded
// headers are never used: anyone can send them.
//
// New panics when u is not an absolute http(s) URL without path (other
// than "/"), query, fragment or userinfo.
func WithPublicURL(u string) Option {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.User != nil ||
		(pu.Path != "" && pu.Path != "/") || pu.RawQuery != "" || pu.Fragment != "" || pu.Opaque != "" {
		panic("httpauth: WithPublicURL needs scheme://host[:port], got " + strings.ReplaceAll(u, "\n", `\n`))
	}
	base := pu.Scheme + "://" + pu.Host
	return func(m *Middleware) { m.publicURL = base }
}

// setupDPoP enables the DPoP scheme when v checks proofs, with the
// challenge parameters (realm, resource_metadata) the Bearer challenge
// has.
func (m *Middleware) setupDPoP(v Verifier, params []string) {
	dv, ok := v.(DPoPVerifier)
	var algs []string
	if ok {
		algs = dv.DPoPAlgorithms()
	}
	if len(algs) == 0 {
		if m.dpopRequired {
			panic("httpauth: WithDPoPRequired with a verifier that does not check DPoP proofs (set verify.Config.DPoP)")
		}
		return
	}
	if r, ok := v.(interface{ DPoPRequired() bool }); ok && r.DPoPRequired() {
		m.dpopRequired = true
	}
	m.dpop = dv
	m.dpopChallenge = "DPoP "
	if len(params) > 0 {
		m.dpopChallenge += strings.Join(params, ", ") + ", "
	}
	m.dpopAlgs = `algs="` + paramValue(strings.Join(algs, " ")) + `"`
}

// DPoP header problems (RFC 9449 §7.1). They describe the request, never
// the token or proof.
var (
	errDPoPEmptyToken = errors.New("the Authorization header has no token after DPoP")
	errDPoPSyntax     = errors.New("the DPoP-scheme token is not a token68 (RFC 9449 §7.1)")
	errNoProof        = errors.New("a request with the DPoP scheme has no DPoP header")
	errManyProofs     = errors.New("more than one DPoP header")
	errBearerRefused  = errors.New("a bearer token where the API accepts only DPoP")
)

const (
	descDPoPRequired = "This resource requires a DPoP-bound access token and a DPoP proof"
	descDPoPHeader   = "The Authorization header is malformed; send exactly one 'Authorization: DPoP <token>'"
)

// dpopCredentials returns the token of a lone "Authorization: DPoP"
// header, and whether the header uses that scheme at all (case-
// insensitively, RFC 9110 §11.1). Several Authorization headers are left
// to bearerToken, which refuses them.
func dpopCredentials(h http.Header) (token string, ok bool, e *Error) {
	vals := h["Authorization"]
	if len(vals) != 1 {
		return "", false, nil
	}
	v := vals[0]
	i := strings.IndexAny(v, " \t")
	if i < 0 {
		i = len(v)
	}
	if !strings.EqualFold(v[:i], SchemeDPoP) {
		return "", false, nil
	}
	bad := func(cause error) *Error {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: descDPoPHeader, Scheme: SchemeDPoP, Err: cause}
	}
	rest := v[i:]
	n := 0
	for n < len(rest) && rest[n] == ' ' {
		n++
	}
	token = rest[n:]
	switch {
	case token == "":
		return "", true, bad(errDPoPEmptyToken)
	case n == 0:
		return "", true, bad(errBadSeparator)
	case !isB64Token(token):
		return "", true, bad(errDPoPSyntax)
	}
	return token, true, nil
}

// authenticateDPoP checks a DPoP-scheme token and the request's one DPoP
// proof (RFC 9449 §7.1).
func (m *Middleware) authenticateDPoP(r *http.Request, token string, scopes []string) (*verify.Claims, *Error) {
	proofs := r.Header.Values("DPoP")
	switch len(proofs) {
	case 0:
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidDPoPProof, Description: "A DPoP proof is required in the DPoP header", Scheme: SchemeDPoP, Err: errNoProof}
	case 1:
	default:
		// RFC 9449 §4.3 item 1: not more than one DPoP header.
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidDPoPProof, Description: "The request has more than one DPoP header", Scheme: SchemeDPoP, Err: errManyProofs}
	}
	req := verify.ProofRequest{Method: r.Method, URL: m.requestURL(r)}
	claims, _, err := m.dpop.VerifyDPoP(r.Context(), token, proofs[0], req, scopes...)
	if err != nil {
		return nil, dpopError(err)
	}
	if claims == nil {
		return nil, dpopError(errors.New("httpauth: the verifier returned neither claims nor an error"))
	}
	if e := m.checkDelegation(claims); e != nil {
		e.Scheme = SchemeDPoP
		return nil, e
	}
	return claims, nil
}

// requestURL is the URL the proof's htu must match: the public URL (or
// the request's scheme and Host) and the request's path, as sent.
func (m *Middleware) requestURL(r *http.Request) string {
	base := m.publicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + r.URL.EscapedPath()
}

// dpopError maps VerifyDPoP's error to the RFC 9449 §7.1 response, on the
// DPoP challenge.
func dpopError(err error) *Error {
	var ve *verify.Error
	if errors.As(err, &ve) {
		switch ve.DPoPError() {
		case verify.DPoPInvalidProof:
			return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidDPoPProof, Description: ve.Description(), Scheme: SchemeDPoP, Err: err}
		case verify.DPoPUseNonce:
			return &Error{Status: http.StatusUnauthorized, Code: CodeUseDPoPNonce, Description: ve.Description(), Scheme: SchemeDPoP, Err: err}
		}
	}
	e := tokenError(err)
	e.Scheme = SchemeDPoP
	return e
}
