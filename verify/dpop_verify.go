package verify

import (
	"context"
	"crypto/subtle"
	"errors"
)

// presentation is how a token came: alone (as a bearer token) or with a
// DPoP proof. It decides what its binding may be.
type presentation uint8

const (
	asBearer presentation = iota
	withDPoP
)

// errNoDPoP is VerifyDPoP's answer on a Verifier without Config.DPoP: a
// configuration mistake, not a refused token.
var errNoDPoP = errors.New("verify: VerifyDPoP on a Verifier without Config.DPoP")

// checkConfirmation validates cnf and applies the binding rule of mode.
func (v *Verifier) checkConfirmation(c *rawClaims, mode presentation) *Error {
	switch {
	case c.typeErr[cCnf] != "":
		return fail(CheckConfirmation, CodeWrongType, c.typeErr[cCnf], "", "")
	case c.cnfOther != "":
		// A token bound by a method that cannot be checked here must not
		// pass as unbound.
		return fail(CheckConfirmation, CodeNotAccepted, "the token is bound by the confirmation method cnf."+c.cnfOther+", which this verifier cannot check; only cnf.jkt (DPoP, RFC 9449 §6.1) is supported", c.cnfOther, "jkt")
	case c.has[cCnf] && !c.hasJKT:
		return fail(CheckConfirmation, CodeMissing, "the token has a cnf without jkt", "", "jkt")
	case c.hasJKT && !validJKT(c.jkt):
		return fail(CheckConfirmation, CodeMalformed, "cnf.jkt is not a SHA-256 thumbprint (32 bytes of unpadded base64url)", c.jkt, "")
	}
	var jkt string
	if c.hasJKT {
		jkt = c.jkt
	}
	return v.bindingPolicy(jkt, mode)
}

func validJKT(s string) bool {
	if len(s) != 43 {
		return false
	}
	var buf [32]byte
	b, ok := decodeB64(buf[:0], s)
	return ok && len(b) == 32
}

// bindingPolicy decides whether a token bound to jkt ("" for none) may be
// accepted when presented by mode. It runs for fresh and cached
// verifications alike, so a token cached by VerifyDPoP is still refused
// as a bearer token.
func (v *Verifier) bindingPolicy(jkt string, mode presentation) *Error {
	switch {
	case mode == withDPoP && jkt == "":
		return fail(CheckConfirmation, CodeUnbound, "the token is bound to no key (no cnf.jkt), so the DPoP proof proves nothing about it; present it as a bearer token, or get a DPoP-bound one", "", "")
	case mode == asBearer && jkt != "" && (v.cfg.RequireDPoP || !v.cfg.AcceptBoundAsBearer):
		return fail(CheckConfirmation, CodeBoundAsBearer, "the token is bound to a DPoP key (cnf.jkt) and is accepted only with a DPoP proof from that key, never as a bearer token (RFC 9449 §7.1)", jkt, "")
	case mode == asBearer && v.cfg.RequireDPoP:
		return fail(CheckConfirmation, CodeUnbound, "this API accepts only DPoP-bound tokens with a proof (Config.RequireDPoP); the token is a bearer token", "", "")
	}
	return nil
}

// VerifyDPoP checks a DPoP-bound access token and its proof (RFC 9449 §7):
// the token as Verify does (with the cache, if any), except that it must
// be bound to a key (cnf.jkt); then the proof with Config.DPoP, with
// req.AccessToken set to token so the proof's ath must match it; then
// that the proof's key is the token's (thumbprints compared in constant
// time, CheckProofBinding); then requiredScopes. It returns the claims
// and the proof, or an *Error: Error.DPoPError tells a proof failure
// (invalid_dpop_proof, use_dpop_nonce) from a token failure
// (invalid_token, or insufficient_scope for CheckScope).
//
// The token is checked before the proof, so a proof for a refused token
// uses up no jti. Without Config.DPoP it returns an error that is not an
// *Error.
func (v *Verifier) VerifyDPoP(ctx context.Context, token, proof string, req ProofRequest, requiredScopes ...string) (*Claims, *Proof, error) {
	if v.cfg.DPoP == nil {
		return nil, nil, errNoDPoP
	}
	now := v.cfg.Clock()
	var c *Claims
	if v.cache != nil {
		if hit, ok := v.cache.get(token, now); ok {
			if e := v.bindingPolicy(hit.Confirmation.JKT, withDPoP); e != nil {
				return nil, nil, e
			}
			c = hit
		}
	}
	if c == nil {
		var p parsed
		var e *Error
		// No scopes here: an invalid proof is a 401 and must not be
		// masked by a 403 for scope.
		if c, e = v.run(ctx, &p, token, nil, now, nil, withDPoP); e != nil {
			return nil, nil, e
		}
	}
	req.AccessToken = token
	pr, e := v.cfg.DPoP.check(ctx, proof, &req)
	if e != nil {
		return nil, nil, e
	}
	if subtle.ConstantTimeCompare([]byte(pr.JKT), []byte(c.Confirmation.JKT)) != 1 {
		return nil, nil, fail(CheckProofBinding, CodeKeyMismatch, "the proof is signed by another key than the one the token is bound to (cnf.jkt)", pr.JKT, c.Confirmation.JKT)
	}
	if e := checkScopes(c.Scopes, requiredScopes); e != nil {
		return nil, nil, e
	}
	return c, pr, nil
}

// DPoPAlgorithms returns the proof algorithms VerifyDPoP accepts, for the
// algs parameter of a DPoP challenge (RFC 9449 §7.1), or nil when the
// Verifier has no Config.DPoP. httpauth uses it to decide whether to
// accept the DPoP scheme.
func (v *Verifier) DPoPAlgorithms() []string {
	if v.cfg.DPoP == nil {
		return nil
	}
	return v.cfg.DPoP.Algorithms()
}

// DPoPRequired reports Config.RequireDPoP.
func (v *Verifier) DPoPRequired() bool { return v.cfg.RequireDPoP }
