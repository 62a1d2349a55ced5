package httpauth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/verify"
)

// Code is an RFC 6750 §3.1 error code, the value of the error
// auth-param of a Bearer challenge.
type Code string

// The error codes of RFC 6750 §3.1.
const (
	// CodeInvalidRequest: the request is malformed, for example a
	// malformed Authorization header or more than one. Answered with 400.
	CodeInvalidRequest Code = "invalid_request"
	// CodeInvalidToken: the token is expired, revoked, malformed or
	// invalid for other reasons (here: refused by the verifier). Answered
	// with 401.
	CodeInvalidToken Code = "invalid_token"
	// CodeInsufficientScope: the token is valid but lacks a scope the
	// resource needs. Answered with 403 and the scope auth-param.
	CodeInsufficientScope Code = "insufficient_scope"
	// CodeInvalidDPoPProof: the DPoP proof is missing, malformed, stale,
	// replayed, or not from the key the token is bound to (RFC 9449 §7.1).
	// Answered with 401 on the DPoP challenge.
	CodeInvalidDPoPProof Code = "invalid_dpop_proof"
	// CodeUseDPoPNonce: the proof lacks the server's current nonce (RFC
	// 9449 §9). Answered with 401 on the DPoP challenge.
	CodeUseDPoPNonce Code = "use_dpop_nonce"
)

// The authentication schemes a challenge can name.
const (
	SchemeBearer = "Bearer"
	SchemeDPoP   = "DPoP"
)

// Error is a refused request as RFC 6750 §3 answers it: the status, the
// challenge's error code, description and scope, and the cause. The cause
// (Err) is for logs; only Description and Scope are sent.
type Error struct {
	// Status is 400, 401 or 403.
	Status int
	// Code is the error auth-param; empty when the request carried no
	// bearer token, which RFC 6750 §3 answers with a bare challenge.
	Code Code
	// Description is the error_description auth-param (a human-readable
	// explanation, RFC 6750 §3); it is sent to the client.
	Description string
	// Scope, for CodeInsufficientScope, is every scope the resource
	// requires, space-separated: the scope auth-param of RFC 6750 §3.
	Scope string
	// Err is the cause: a *verify.Error for a refused token, or an
	// unexported error describing a header problem. It never holds the
	// token.
	Err error
	// Scheme is the challenge that carries the error: SchemeDPoP for a
	// request with the DPoP scheme or a DPoP-bound token sent as a bearer
	// token, SchemeBearer otherwise. Empty means Bearer, or DPoP where
	// the middleware accepts only DPoP.
	Scheme string
}

// Error returns "httpauth: <status> <code>: <reason>".
func (e *Error) Error() string {
	code := string(e.Code)
	if code == "" {
		code = "no bearer token"
	}
	return "httpauth: " + strconv.Itoa(e.Status) + " " + code + ": " + e.Reason()
}

// Unwrap returns the cause, so errors.As(err, &verifyErr) and
// errors.Is(err, verify.CheckAudience) work on an *Error.
func (e *Error) Unwrap() error { return e.Err }

// maxReason bounds Reason: a token can carry kilobytes of audience values
// that would otherwise land in every log line.
const maxReason = 300

// Reason returns a single-line reason for logs: "<check>: <reason>" for a
// token the verifier refused (for example "aud: the token's aud ... does
// not contain order-status-api"), or what was wrong with the header. It
// never contains the token, but it may quote values taken from it: control
// characters are replaced by '?' and it is cut at 300 bytes, yet it remains
// untrusted text.
func (e *Error) Reason() string {
	var s string
	var ve *verify.Error
	switch {
	case errors.As(e.Err, &ve):
		s = string(ve.Check) + ": " + ve.Reason
	case e.Err != nil:
		s = e.Err.Error()
	default:
		s = e.Description
	}
	if len(s) > maxReason {
		s = strings.ToValidUTF8(s[:maxReason], "") + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// Header problems (RFC 6750 §2.1, §3.1). They describe the request, never
// the token.
var (
	errNoToken      = errors.New("no bearer token in the Authorization header")
	errOtherScheme  = errors.New("the Authorization header uses a scheme other than Bearer")
	errEmptyHeader  = errors.New("the Authorization header is empty")
	errManyHeaders  = errors.New("more than one Authorization header")
	errEmptyToken   = errors.New("the Authorization header has no token after Bearer")
	errBadSeparator = errors.New("the scheme Bearer and the token must be separated by spaces")
	errTokenSyntax  = errors.New("the bearer token is not a b64token (RFC 6750 §2.1)")
)

const (
	descNoToken       = "A bearer token is required in the Authorization header"
	descInvalidHeader = "The Authorization header is malformed; send exactly one 'Authorization: Bearer <token>'"
)

func noToken(cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Description: descNoToken, Err: cause}
}

func invalidRequest(cause error) *Error {
	desc := descInvalidHeader
	if cause == errManyHeaders {
		desc = "The request has more than one Authorization header"
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: desc, Err: cause}
}

// WriteError answers a refused request: e.Status, the Bearer challenge in
// WWW-Authenticate (RFC 6750 §3) and a small JSON body repeating the error
// code and description (RFC 6749 §5.2 style) for humans and clients that
// do not parse challenges. The header is the contract; the body is a
// courtesy. The response must not be cached (Cache-Control: no-store).
func (m *Middleware) WriteError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusUnauthorized
	}
	desc := paramValue(e.Description)
	h := w.Header()
	h.Del("Www-Authenticate")
	for _, c := range m.challenges(e, desc) {
		h.Add("Www-Authenticate", c)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)

	// desc and scope hold no '"', '\' or controls (paramValue), so they
	// are valid JSON string contents as they are.
	var b strings.Builder
	b.WriteString("{")
	if e.Code != "" {
		b.WriteString(`"error":"` + string(e.Code) + `",`)
	}
	b.WriteString(`"error_description":"` + desc + `"`)
	if e.Code == CodeInsufficientScope {
		b.WriteString(`,"scope":"` + paramValue(e.Scope) + `"`)
	}
	b.WriteString("}\n")
	_, _ = w.Write([]byte(b.String()))
}

// challenges returns the WWW-Authenticate values for e: one challenge
// per accepted scheme (RFC 9110 §11.6.1), the one carrying the error
// first. Only a middleware accepting DPoP sends a DPoP challenge.
func (m *Middleware) challenges(e *Error, desc string) []string {
	if m.dpop == nil {
		return []string{m.challengeFor(e.Code, desc, e.Scope)}
	}
	scheme := e.Scheme
	if scheme == "" {
		scheme = SchemeBearer
		if m.dpopRequired {
			scheme = SchemeDPoP
		}
	}
	var bearer, dpop string
	if !m.dpopRequired {
		bearer = m.challenge
		if scheme == SchemeBearer {
			bearer = m.challengeFor(e.Code, desc, e.Scope)
		}
	}
	dpop = m.dpopChallenge + m.dpopAlgs
	if scheme == SchemeDPoP && e.Code != "" {
		dpop = m.dpopChallenge + `error="` + string(e.Code) + `", error_description="` + desc + `", `
		if e.Code == CodeInsufficientScope {
			dpop += `scope="` + paramValue(e.Scope) + `", `
		}
		dpop += m.dpopAlgs
	}
	switch {
	case bearer == "":
		return []string{dpop}
	case scheme == SchemeDPoP:
		return []string{dpop, bearer}
	}
	return []string{bearer, dpop}
}

// challengeFor builds the WWW-Authenticate value. desc must already be
// sanitised by paramValue. Without a code the challenge is bare, as RFC
// 6750 §3 asks for requests without authentication information.
func (m *Middleware) challengeFor(code Code, desc, scope string) string {
	if code == "" {
		return m.challenge
	}
	sep := ", "
	if m.challenge == "Bearer" {
		sep = " "
	}
	s := m.challenge + sep + `error="` + string(code) + `", error_description="` + desc + `"`
	if code == CodeInsufficientScope {
		s += `, scope="` + paramValue(scope) + `"`
	}
	return s
}

// paramValue keeps s within the characters RFC 6750 §3 allows in
// error_description and scope (%x20-21 / %x23-5B / %x5D-7E), replacing
// any other byte by '?', so no value can close the quoted-string or start
// a new header line.
func paramValue(s string) string {
	for i := 0; i < len(s); i++ {
		if !paramByte(s[i]) {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if !paramByte(b[j]) {
					b[j] = '?'
				}
			}
			return string(b)
		}
	}
	return s
}

func paramByte(c byte) bool { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' }

// quoteRealm escapes s for a quoted-string (RFC 9110 §5.6.4): '"' and '\'
// get a backslash; controls and non-ASCII bytes, which some clients
// mishandle and which could split the header, become '?'.
func quoteRealm(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
