package httpauth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/verify"
)

// Delegation is what an API accepts of delegated tokens: tokens made by an
// RFC 8693 token exchange, whose act claim names the services that passed
// the request on (verify.Claims.Actors).
type Delegation int

// Delegation policies.
const (
	// DelegationAllowed accepts tokens with and without a chain (the
	// default).
	DelegationAllowed Delegation = iota
	// DelegationRequired accepts only delegated tokens: an API that must
	// only ever be called by other services on a user's behalf.
	DelegationRequired
	// DelegationForbidden accepts only tokens issued to their client
	// directly: an API no service may call on someone's behalf.
	DelegationForbidden
)

// ParseDelegation reads "allowed", "required" or "forbidden".
func ParseDelegation(s string) (Delegation, error) {
	switch strings.ToLower(s) {
	case "", "allowed":
		return DelegationAllowed, nil
	case "required":
		return DelegationRequired, nil
	case "forbidden":
		return DelegationForbidden, nil
	}
	return DelegationAllowed, errors.New("delegation must be allowed, required or forbidden")
}

// WithDelegation sets what the API accepts of delegated tokens.
func WithDelegation(d Delegation) Option { return func(m *Middleware) { m.delegation = d } }

// checkDelegation applies the policy to verified claims.
func (m *Middleware) checkDelegation(c *verify.Claims) *Error {
	if m.delegation == DelegationAllowed {
		return nil
	}
	actors, err := c.Actors()
	switch {
	case err != nil:
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: "The token's act claim is malformed", Err: err}
	case m.delegation == DelegationRequired && len(actors) == 0:
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken,
			Description: "This API accepts only delegated tokens (from a token exchange, with act)",
			Err:         errors.New("httpauth: delegation required, the token has no act")}
	case m.delegation == DelegationForbidden && len(actors) > 0:
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken,
			Description: "This API accepts no delegated tokens: the token was passed on by " + strings.Join(actors, ", "),
			Err:         errors.New("httpauth: delegation forbidden, the token has act")}
	}
	return nil
}
