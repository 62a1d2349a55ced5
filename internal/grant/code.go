package grant

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
)

// CodeTTL is how long an authorization code can be redeemed.
const CodeTTL = 60 * time.Second

var errCodeReplayed = oauth.InvalidGrant("the authorization code was already used; the tokens issued with it have been revoked")

// RedeemCode is RFC 6749 §4.1.3 with RFC 7636 §4.6 and the single-use rule
// of §4.1.2: a replayed code revokes what it issued. The checks run in
// this order: the client's grant, the code (known, this client's, unused,
// unexpired), redirect_uri, PKCE, narrowing; then the tokens are minted
// and the redemption, with the refresh family it creates, is committed in
// one transaction before anything is returned.
func (e *Engine) RedeemCode(ctx context.Context, c Client, req TokenRequest) (Result, *oauth.Error) {
	if oe := e.mayUse(c.ID, oauth.GrantAuthorizationCode); oe != nil {
		return Result{}, oe
	}
	if req.Code == "" {
		return Result{}, oauth.InvalidRequest("missing code")
	}
	now := e.now()
	hash := issue.HashOpaque(req.Code)
	ac, err := e.store.GetCode(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Result{}, oauth.InvalidGrant("the authorization code is invalid or has expired")
	case err != nil:
		return Result{}, oauth.ServerError(err)
	case ac.ClientID != c.ID:
		return Result{}, oauth.InvalidGrant("the authorization code was issued to another client")
	case !ac.UsedAt.IsZero():
		e.revokeIssued(ctx, ac.Issued, now)
		e.codeEvent(ctx, events.CodeReplayed, ac, now)
		return Result{}, errCodeReplayed
	case !now.Before(ac.ExpiresAt):
		return Result{}, oauth.InvalidGrant("the authorization code has expired; codes live 60 seconds")
	case !redirectMatches(c, ac.RedirectURI, req):
		return Result{}, oauth.InvalidGrant("redirect_uri does not match the one of the authorization request")
	}
	if oe := checkPKCE(ac.CodeChallenge, req); oe != nil {
		return Result{}, oe
	}
	if ac.DPoPJKT != "" && !equalJKT(ac.DPoPJKT, req.DPoPJKT) {
		return Result{}, oauth.InvalidGrant("the authorization code is bound to a DPoP key (dpop_jkt): send a DPoP proof signed by that key")
	}
	g, oe := e.model.Narrow(c.ID, ac.Scopes, ac.Audience, req.Narrow)
	if oe != nil {
		return Result{}, oe
	}
	p, oe := e.person(ctx, ac.Subject, false)
	if oe != nil {
		return Result{}, oe
	}
	// The person's groups may have changed since the code was issued.
	if g, oe = e.forPerson(c.ID, g, p, req.Narrow); oe != nil {
		return Result{}, oe
	}
	fam := store.RefreshFamily{ClientID: c.ID, Subject: ac.Subject, Scopes: ac.Scopes, Audience: ac.Audience,
		SessionID: ac.SessionID, AuthTime: ac.AuthTime, AMR: ac.AMR}
	if c.Public {
		// A public client's refresh tokens are bound to its key
		// (RFC 9449 §5); a confidential client's to its credentials.
		fam.DPoPJKT = req.DPoPJKT
	}
	res, issued, oe := e.mintUserTokens(c, g, fam, p, ac.Nonce, ac.IDTokenClaims, req.DPoPJKT, now)
	if oe != nil {
		return Result{}, oe
	}
	if _, err := e.store.RedeemCode(ctx, hash, issued, now); err != nil {
		switch {
		case errors.Is(err, store.ErrCodeUsed):
			// Lost a race with a concurrent redemption: a replay.
			prev, _ := e.store.GetCode(ctx, hash)
			e.revokeIssued(ctx, prev.Issued, now)
			e.codeEvent(ctx, events.CodeReplayed, ac, now)
			return Result{}, errCodeReplayed
		case errors.Is(err, store.ErrExpired):
			return Result{}, oauth.InvalidGrant("the authorization code has expired")
		}
		return Result{}, oauth.ServerError(err)
	}
	e.codeEvent(ctx, events.CodeRedeemed, ac, now)
	return res, nil
}

// codeEvent records a redemption or a replay: who and which client, never
// the code.
func (e *Engine) codeEvent(ctx context.Context, typ string, ac store.AuthCode, now time.Time) {
	e.events.Emit(ctx, events.Event{Time: now, Type: typ, Username: ac.Subject, ClientID: ac.ClientID})
}

// redirectMatches applies RFC 6749 §4.1.3: redirect_uri must repeat the
// one of the authorization request when that request named it (stored);
// when it did not, it may be left out, and if sent must be the client's
// one registered URI, the one the code was delivered to.
func redirectMatches(c Client, stored string, req TokenRequest) bool {
	if stored != "" {
		return req.RedirectURIGiven && req.RedirectURI == stored
	}
	return !req.RedirectURIGiven || len(c.RedirectURIs) == 1 && req.RedirectURI == c.RedirectURIs[0]
}

// checkPKCE is RFC 7636 §4.6 with S256 only.
func checkPKCE(challenge string, req TokenRequest) *oauth.Error {
	switch {
	case challenge != "" && !req.CodeVerifierGiven:
		return oauth.InvalidGrant("code_verifier is required: the authorization request used PKCE")
	case challenge == "" && req.CodeVerifierGiven:
		// RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
		return oauth.InvalidGrant("code_verifier sent but the authorization request had no code_challenge")
	case req.CodeVerifierGiven && (!ValidVerifier(req.CodeVerifier) || !pkceMatches(req.CodeVerifier, challenge)):
		return oauth.InvalidGrant("code_verifier does not match the code_challenge")
	}
	return nil
}

// ValidVerifier checks RFC 7636 §4.1 (also the form of an S256 challenge:
// 43 base64url characters).
func ValidVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

func pkceMatches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// revokeIssued undoes what a replayed code had issued (RFC 6749 §4.1.2).
func (e *Engine) revokeIssued(ctx context.Context, iss store.Issued, now time.Time) {
	if iss.FamilyID != "" {
		if err := e.store.RevokeFamily(ctx, iss.FamilyID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			e.log.Error("revoking the family of a replayed code", "error", err)
		}
	}
	if iss.AccessJTI != "" {
		if err := e.store.RevokeAccess(ctx, iss.AccessJTI, iss.AccessExpiresAt); err != nil {
			e.log.Error("revoking the access token of a replayed code", "error", err)
		}
	}
	e.log.Warn("authorization code replay: issued tokens revoked")
}

// equalJKT compares key thumbprints in constant time.
func equalJKT(bound, presented string) bool {
	return subtle.ConstantTimeCompare([]byte(bound), []byte(presented)) == 1
}
