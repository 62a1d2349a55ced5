package store

import (
	"context"
	"time"
)

// AuthCode is an authorization code as stored (RFC 6749 section 4.1,
// RFC 7636, OIDC Core section 3.1.2). It binds everything the token
// endpoint must check before it issues anything, and records what it
// issued, so a replay can revoke exactly that.
type AuthCode struct {
	// Hash is the hash of the code; the code itself is never stored.
	Hash        string
	ClientID    string
	RedirectURI string
	// CodeChallenge and CodeChallengeMethod are the PKCE challenge
	// (RFC 7636); both empty when the client sent none.
	CodeChallenge       string
	CodeChallengeMethod string
	// Nonce is the OIDC nonce to copy into the ID token (may be empty).
	Nonce   string
	Subject string
	// Scopes and Audience are what was granted at the authorization
	// endpoint; the token endpoint issues exactly these.
	Scopes   []string
	Audience []string
	// IDTokenClaims are the user claims the request asked for in the ID
	// token (OIDC Core §5.5, the "claims" parameter); a list like Scopes.
	IDTokenClaims []string
	// AuthTime is when the user authenticated (the ID token's auth_time).
	AuthTime time.Time
	// AMR lists how the user authenticated (the ID token's "amr", RFC
	// 8176 values such as "pwd"); a list like Scopes.
	AMR []string
	// DPoPJKT is the RFC 7638 thumbprint of the key the authorization
	// request bound the code to (RFC 9449 §10, dpop_jkt); the code is
	// redeemed only with a DPoP proof by that key. Empty when unbound.
	DPoPJKT string
	// SessionID links the code to the browser session that approved it
	// (the server's choice of identifier; may be empty).
	SessionID string
	CreatedAt time.Time
	// ExpiresAt is required; the code is refused from then on.
	ExpiresAt time.Time
	// UsedAt is when the code was redeemed; zero while unused.
	UsedAt time.Time
	// Issued is what the redemption issued; zero while unused. Its Family
	// and Refresh are never read back (always nil from the store).
	Issued Issued
}

// Issued records what a code redemption issued, so that a later replay of
// the code can revoke it.
type Issued struct {
	// FamilyID is the refresh family created by the redemption; empty when
	// no refresh token was issued.
	FamilyID string
	// AccessJTI is the jti of the access token issued (required by
	// RedeemCode).
	AccessJTI string
	// AccessExpiresAt is that access token's exp (required by
	// RedeemCode).
	AccessExpiresAt time.Time

	// Family and Refresh are input only: when the redemption issues a
	// refresh token, RedeemCode creates this family and its first token in
	// the same transaction that marks the code used. Both set or both nil.
	Family  *RefreshFamily
	Refresh *RefreshToken
}

// CodeStore keeps authorization codes. A code is single use: RedeemCode is
// the one authoritative check, atomic under concurrency.
type CodeStore interface {
	// CreateCode stores a new, unused code (UsedAt and Issued must be
	// zero). Hash and ExpiresAt are required. A hash already present
	// returns ErrConflict.
	CreateCode(ctx context.Context, c AuthCode) error
	// GetCode returns the code whatever its state (unused, used or
	// expired, until DeleteExpired removes it), or ErrNotFound. It is a
	// plain read for checks that must not consume the code (client,
	// redirect_uri, PKCE); it decides nothing.
	GetCode(ctx context.Context, hash string) (AuthCode, error)
	// RedeemCode marks the code used at now and records issued, in one
	// transaction that also
	//   - records the access token (as RecordAccess would: AccessJTI,
	//     FamilyID, AccessExpiresAt), so revoking the family revokes it;
	//   - when issued.Family is set, creates that family and its first
	//     refresh token issued.Refresh (as CreateFamily would).
	// issued.FamilyID, Refresh.FamilyID may be left empty (filled from
	// Family.ID). On success it returns the code as now stored.
	//
	// The checks, in order:
	//   - no such code: ErrNotFound;
	//   - already used: the stored code (its Issued is what the first
	//     redemption issued) and ErrCodeUsed, changing nothing. A replay
	//     is reported even after expiry, so it can still be revoked;
	//   - now >= ExpiresAt: ErrExpired, changing nothing.
	// Of several concurrent redemptions of one code exactly one succeeds;
	// the others get ErrCodeUsed with the winner's Issued. A family ID,
	// refresh hash or jti already taken returns ErrConflict and leaves the
	// code unused.
	RedeemCode(ctx context.Context, hash string, issued Issued, now time.Time) (AuthCode, error)
}
