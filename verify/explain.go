package verify

import (
	"context"
	"strings"
)

// Step is the outcome of one check in an Explanation.
type Step struct {
	Check Check
	// OK is true when the check ran and passed.
	OK bool
	// Skipped, when not empty, says why the check could not run (an
	// earlier failure left nothing to check). OK is then false.
	Skipped string
	// Err is the failure; nil when OK or skipped.
	Err *Error
	// Hint suggests a fix for a failure, naming the setting to change. It
	// may quote the token's values (iss, azp): escape it before printing
	// it to a terminal.
	Hint string
}

// Explanation is the full report of Explain: every check, in order.
type Explanation struct {
	// Header and Payload are the decoded JSON of the token's first two
	// parts, for display; nil when they do not decode. They are not
	// trustworthy unless Err is nil, and are the token's bytes as they
	// are (possibly control characters or invalid UTF-8): escape them
	// before printing them to a terminal.
	Header, Payload []byte
	// Claims are the parsed claims, or nil when the token could not be
	// parsed. Unless Err is nil they are unverified.
	Claims *Claims
	// Steps has one entry per check, in the order of Checks().
	Steps []Step
	// Err is what Verify would have returned: nil when the token is
	// accepted.
	Err error
}

// Accepted reports whether Verify would accept the token.
func (x *Explanation) Accepted() bool { return x.Err == nil }

// Explain runs the same checks as Verify (the same code, not a second
// implementation) but, instead of stopping at the first failure, goes on
// wherever later checks still mean something, and adds a fix hint to every
// failure. It is meant for diagnosis (gatehouse token explain), not for
// authorisation: it never uses or fills the token cache, but it may refresh
// the key set like Verify does.
func (v *Verifier) Explain(ctx context.Context, token string, requiredScopes ...string) *Explanation {
	x := &Explanation{}
	if c, why := splitCompact(token); why == "" && len(token) <= v.cfg.MaxTokenBytes {
		if h, ok := decodeB64(nil, c.header); ok {
			x.Header = h
		}
		if p, ok := decodeB64(nil, c.payload); ok {
			x.Payload = p
		}
	}
	rec := &recorder{}
	var p parsed
	claims, e := v.run(ctx, &p, token, requiredScopes, v.cfg.Clock(), rec, asBearer)
	x.Claims = claims
	if e != nil {
		x.Err = e
	}
	x.Steps = rec.steps[:]
	for i := range x.Steps {
		s := &x.Steps[i]
		if s.Check == "" {
			s.Check = checks[i]
			s.Skipped = "not checked: the token could not be parsed"
		}
		if s.Err != nil {
			s.Hint = v.hint(s.Err, claims)
		}
	}
	return x
}

// hint suggests how to fix e. claims may be nil. It goes by e's Check and
// Code, never by the wording of e.Reason, which is free to change.
func (v *Verifier) hint(e *Error, c *Claims) string {
	if e.Code == CodeWrongType {
		// Every check that reports a wrong type is named after its claim.
		return "the issuer puts " + string(e.Check) + " in its tokens with the wrong JSON type (RFC 7519 §4.1); fix the issuer"
	}
	switch e.Check {
	case CheckSize:
		return "access tokens should be small; check what the issuer puts in them, or raise MaxTokenBytes"
	case CheckFormat:
		if e.Code == CodeDuplicateMember {
			return "the token's JSON repeats a member name, or has two names differing only in case, which decoders resolve differently; no correct issuer produces that, so fix the issuer or suspect a crafted token"
		}
		return "pass the access token itself (three base64url parts separated by dots), not a refresh token, an ID token wrapper or an Authorization header value"
	case CheckAlgorithm:
		switch e.Code {
		case CodeKeyMismatch:
			return "the token's alg does not match its key's: it was forged, or the issuer reuses a kid across algorithms"
		case CodeForbiddenAlg:
			return "alg none and HMAC algorithms can never be enabled: the token is forged, or the issuer is misconfigured; configure it to sign with one of " + strings.Join(v.cfg.algs, ", ")
		}
		return "configure the issuer to sign with one of " + strings.Join(v.cfg.algs, ", ") + ", or add its algorithm to Config.Algorithms (none and HMAC are never possible)"
	case CheckType:
		return "present an access token (typ at+jwt), not an ID token; if the issuer is a legacy one that sets another typ, list it in Config.Types"
	case CheckCrit:
		return "the issuer uses a JWS extension this verifier does not support; configure it not to"
	case CheckKey:
		switch e.Code {
		case CodeKeyRefreshFailed:
			return "the issuer's JWKS could not be fetched; check that " + v.keys.url + " is reachable from here"
		case CodeMissing:
			return "configure the issuer to put its signing key's kid in every token header; without one no key can be chosen"
		}
		return "the token was signed by a key the issuer does not publish: it comes from another issuer or instance, or its key was retired; get a new token from " + v.cfg.Issuer
	case CheckSignature:
		return "the token was altered after signing, or signed by a key with a reused kid; get a new token from " + v.cfg.Issuer
	case CheckIssuer:
		return "the token comes from " + quoteOr(e.Value, "no issuer") + "; get one from " + v.cfg.Issuer + ", or set the verifier's issuer to the one that issued it (exactly, including scheme, port and trailing slash)"
	case CheckAudience:
		who := "its client"
		if c != nil {
			if c.AZP != "" {
				who = c.AZP
			} else if c.ClientID != "" {
				who = c.ClientID
			}
		}
		want := v.cfg.Audience
		return "this token was issued to " + who + ", whose audience does not include " + want + "; add " + want + " to its audience in the identity provider or request it with resource=" + want
	case CheckExpiry:
		if e.Code == CodeMissing {
			return "configure the issuer to set exp on access tokens"
		}
		return "get a new token (use the refresh token or repeat the grant); if it just expired, check that both clocks are synchronised (NTP)"
	case CheckNotBefore, CheckIssuedAt:
		return "the issuer's clock is ahead of this host's; synchronise both with NTP"
	case CheckConfirmation:
		switch e.Code {
		case CodeBoundAsBearer:
			return "the token is DPoP-bound: send it as 'Authorization: DPoP <token>' with a DPoP proof header signed by the client's key (RFC 9449 §7.1); only the issuer itself may set Config.AcceptBoundAsBearer"
		case CodeUnbound:
			return "this API requires DPoP: the client must request its token with a DPoP proof so that the issuer binds it (cnf.jkt, RFC 9449 §5)"
		}
		return "the issuer binds tokens by a confirmation method this verifier does not support (only cnf.jkt, DPoP), or writes cnf malformed; fix the issuer"
	case CheckScope:
		return "request the token with scope=" + quoteOr(e.Want, "") + " (space-separated), and make sure the client is allowed those scopes in the identity provider"
	}
	return ""
}

func quoteOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
