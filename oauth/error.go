package oauth

import (
	"encoding/json"
)

// Error codes of RFC 6749 §5.2 and §4.1.2.1, RFC 8707 §2 and RFC 7009 §2.2.1.
const (
	CodeInvalidRequest          = "invalid_request"
	CodeInvalidClient           = "invalid_client"
	CodeInvalidGrant            = "invalid_grant"
	CodeUnauthorizedClient      = "unauthorized_client"
	CodeUnsupportedGrantType    = "unsupported_grant_type"
	CodeInvalidScope            = "invalid_scope"
	CodeInvalidTarget           = "invalid_target"
	CodeAccessDenied            = "access_denied"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeServerError             = "server_error"
	CodeTemporarilyUnavailable  = "temporarily_unavailable"
	CodeUnsupportedTokenType    = "unsupported_token_type"
	CodeLoginRequired           = "login_required"
	CodeConsentRequired         = "consent_required"
	CodeInteractionRequired     = "interaction_required"
	// CodeUnmetAuthenticationRequirement: an essential acr could not be
	// met (OpenID Connect Core 1.0 errata set 2, §3.1.2.6).
	CodeUnmetAuthenticationRequirement = "unmet_authentication_requirement"
	// CodeInvalidDPoPProof and CodeUseDPoPNonce are RFC 9449 §5's token
	// endpoint errors (and §7.1's resource server errors).
	CodeInvalidDPoPProof = "invalid_dpop_proof"
	CodeUseDPoPNonce     = "use_dpop_nonce"
)

// Error is the one OAuth 2.0 protocol error type of Gatehouse. Code and
// Description are sent to the client; Cause is for logs only and is never
// written to a response, so internal details cannot leak.
type Error struct {
	Code        string
	Description string
	// Status is the HTTP status of a direct (non-redirect) response.
	Status int
	// Cause is the internal error behind a server_error; logged, never sent.
	Cause error
	// RetryAfter, when positive, is sent as a Retry-After header (seconds).
	RetryAfter int
}

// Error implements error.
func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Cause != nil {
		s += " (" + e.Cause.Error() + ")"
	}
	return s
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Cause }

// ErrorResponse is the RFC 6749 §5.2 error body (also RFC 7009, RFC 7662
// and RFC 6750 error bodies): what an Error looks like on the wire.
type ErrorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// MarshalJSON writes the RFC 6749 §5.2 body: error and error_description.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(ErrorResponse{e.Code, e.Description})
}

func newError(code string, status int, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: status}
}

// InvalidRequest is a malformed request (RFC 6749 §5.2), HTTP 400.
func InvalidRequest(desc string) *Error { return newError(CodeInvalidRequest, 400, desc) }

// InvalidClient is a failed client authentication, HTTP 401. The caller adds
// WWW-Authenticate when the client tried HTTP Basic (RFC 6749 §5.2).
func InvalidClient(desc string) *Error { return newError(CodeInvalidClient, 401, desc) }

// InvalidGrant is an invalid, expired or revoked grant, HTTP 400.
func InvalidGrant(desc string) *Error { return newError(CodeInvalidGrant, 400, desc) }

// UnauthorizedClient is a client not allowed to use a grant type, HTTP 400.
func UnauthorizedClient(desc string) *Error { return newError(CodeUnauthorizedClient, 400, desc) }

// UnsupportedGrantType is a grant type the server does not implement, HTTP 400.
func UnsupportedGrantType(desc string) *Error {
	return newError(CodeUnsupportedGrantType, 400, desc)
}

// InvalidScope is a scope outside what the client may request, HTTP 400.
func InvalidScope(desc string) *Error { return newError(CodeInvalidScope, 400, desc) }

// InvalidTarget is a resource or audience outside what the client may
// obtain (RFC 8707 §2), HTTP 400.
func InvalidTarget(desc string) *Error { return newError(CodeInvalidTarget, 400, desc) }

// AccessDenied is a refusal by the resource owner or the server, HTTP 403.
func AccessDenied(desc string) *Error { return newError(CodeAccessDenied, 403, desc) }

// UnsupportedTokenType is a revocation of a token type the server cannot
// revoke (RFC 7009 §2.2.1), HTTP 400.
func UnsupportedTokenType(desc string) *Error {
	return newError(CodeUnsupportedTokenType, 400, desc)
}

// InvalidDPoPProof is a DPoP proof that fails a check (RFC 9449 §5),
// HTTP 400.
func InvalidDPoPProof(desc string) *Error { return newError(CodeInvalidDPoPProof, 400, desc) }

// UseDPoPNonce asks the client to repeat the request with the server's
// nonce in its proof (RFC 9449 §8); the caller sends the DPoP-Nonce
// header. HTTP 400.
func UseDPoPNonce(desc string) *Error { return newError(CodeUseDPoPNonce, 400, desc) }

// ServerError hides cause from the client behind a generic description.
func ServerError(cause error) *Error {
	e := newError(CodeServerError, 500, "the server could not complete the request; it has been logged")
	e.Cause = cause
	return e
}

// TemporarilyUnavailable asks the client to retry later, HTTP 503 (or 429
// when status says so).
func TemporarilyUnavailable(desc string, status, retryAfter int) *Error {
	e := newError(CodeTemporarilyUnavailable, status, desc)
	e.RetryAfter = retryAfter
	return e
}

// StatusOrDefault returns e.Status, or 400 when it is unset.
func (e *Error) StatusOrDefault() int {
	if e.Status == 0 {
		return 400 // Bad Request: RFC 6749 §5.2's default
	}
	return e.Status
}

// SafeName makes a client-supplied value safe to quote in an error
// description: at most 40 bytes, and anything outside printable ASCII, a
// quote or a backslash becomes '?'. RFC 6749 §5.2 allows only
// %x20-21 / %x23-5B / %x5D-7E in error_description.
func SafeName(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}
