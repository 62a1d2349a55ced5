package grant

import (
	"context"
	"errors"
	"slices"

	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
)

// Refresh is RFC 6749 §6 with the rotation of RFC 9700 §4.14.2: every use
// rotates the token; a rotated token used again revokes its whole family
// (the store commits that revocation); the request may narrow scope and
// audience, never widen them. What the family granted is first cut down to
// what today's configuration still allows the client (the configuration is
// the source of truth), and a grant of a user removed from it ends.
// A jkt binds the new access token to that DPoP key; a family bound to a
// key (a public client's, RFC 9449 §5) refreshes only with a proof by it.
func (e *Engine) Refresh(ctx context.Context, c Client, token string, narrow policy.Request, jkt string) (Result, *oauth.Error) {
	if oe := e.mayUse(c.ID, oauth.GrantRefreshToken); oe != nil {
		return Result{}, oe
	}
	if token == "" {
		return Result{}, oauth.InvalidRequest("missing refresh_token")
	}
	now := e.now()
	oldHash := issue.HashOpaque(token)
	tok, fam, err := e.store.GetRefresh(ctx, oldHash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Result{}, oauth.InvalidGrant("the refresh token is invalid")
	case err != nil:
		return Result{}, oauth.ServerError(err)
	case fam.ClientID != c.ID:
		return Result{}, oauth.InvalidGrant("the refresh token was issued to another client")
	case !fam.RevokedAt.IsZero():
		return Result{}, oauth.InvalidGrant("the refresh token has been revoked")
	case !now.Before(tok.ExpiresAt):
		return Result{}, oauth.InvalidGrant("the refresh token has expired; sign in again")
	case fam.DPoPJKT != "" && !equalJKT(fam.DPoPJKT, jkt):
		return Result{}, oauth.InvalidGrant("the refresh token is bound to a DPoP key: send a DPoP proof signed by that key")
	}
	// Today's person: groups may have changed since the sign-in, and a
	// removed or disabled person's grant ends for good.
	p, err := e.users.Person(ctx, fam.Subject, true)
	switch {
	case errors.Is(err, ErrNoPerson):
		if err := e.store.RevokeFamily(ctx, fam.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			e.log.Error("revoking the family of a removed user", "error", err)
		}
		return Result{}, oauth.InvalidGrant("the user of this refresh token no longer exists or is disabled; sign in again")
	case err != nil:
		e.log.Error("looking up the person of a refresh", "error", err)
		return Result{}, &oauth.Error{Code: oauth.CodeServerError, Status: 503, Description: "the person's directory could not be reached; try again later"}
	}
	scopes, audience := e.model.Restrict(c.ID, fam.Scopes, fam.Audience)
	if len(audience) == 0 {
		return Result{}, oauth.InvalidGrant("nothing this refresh token granted is still allowed for the client; sign in again")
	}
	g, oe := e.model.Narrow(c.ID, scopes, audience, narrow)
	if oe != nil {
		return Result{}, oe
	}
	if g, oe = e.forPerson(c.ID, g, p, narrow); oe != nil {
		if oe.Code == oauth.CodeAccessDenied {
			oe = oauth.InvalidGrant(oe.Description)
		}
		return Result{}, oe
	}
	access, err := e.minter.AccessToken(issue.Access{Subject: fam.Subject, ClientID: c.ID, Grant: g, Groups: GroupsClaim(&c, p.Groups), JKT: jkt})
	if err != nil {
		return Result{}, oauth.ServerError(err)
	}
	next, nextHash, err := issue.NewOpaque()
	if err != nil {
		return Result{}, oauth.ServerError(err)
	}
	_, err = e.store.RotateRefresh(ctx, oldHash,
		store.RefreshToken{Hash: nextHash, FamilyID: fam.ID, CreatedAt: now, ExpiresAt: fam.ExpiresAt},
		store.AccessRecord{JTI: access.JTI, FamilyID: fam.ID, ExpiresAt: access.ExpiresAt}, now)
	if oe := rotationError(err); oe != nil {
		if errors.Is(err, store.ErrReused) {
			e.log.Warn("refresh token reuse detected: family revoked", "client", c.ID, "family", fam.ID)
			e.events.Emit(ctx, events.Event{Time: now, Type: events.RefreshReuse, Username: fam.Subject, ClientID: c.ID})
		}
		return Result{}, oe
	}
	res := Result{GrantType: oauth.GrantRefreshToken, Grant: g, Access: access, Refresh: next}
	if slices.Contains(g.Scopes, "openid") {
		// A refreshed ID token carries no nonce (OIDC Core §12.2) and no
		// claims the claims parameter asked for at sign-in.
		if res.IDToken, err = e.idToken(c, idTokenFor{person: p, sessionID: fam.SessionID,
			authTime: fam.AuthTime, amr: fam.AMR, scopes: g.Scopes, accessToken: access.Token}); err != nil {
			return Result{}, oauth.ServerError(err)
		}
	}
	return res, nil
}

// rotationError maps RotateRefresh's outcome to the answer.
func rotationError(err error) *oauth.Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrReused):
		return oauth.InvalidGrant("the refresh token was already used; every token of this grant has been revoked (possible token theft), sign in again")
	case errors.Is(err, store.ErrRevoked):
		return oauth.InvalidGrant("the refresh token has been revoked")
	case errors.Is(err, store.ErrExpired):
		return oauth.InvalidGrant("the refresh token has expired; sign in again")
	}
	return oauth.ServerError(err)
}
