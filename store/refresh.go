package store

import (
	"context"
	"time"
)

// RefreshFamily is one grant's chain of refresh tokens: every rotation
// adds a token to the family, and revoking the family ends them all, along
// with the access tokens recorded under it (RFC 9700, "Refresh Token
// Protection": rotation and reuse detection).
type RefreshFamily struct {
	ID       string
	ClientID string
	Subject  string
	// Scopes and Audience are the maximum granted. A refresh request may
	// narrow them, never widen them, and narrowing one refresh does not
	// narrow the next: the family keeps the maximum. The store does not
	// enforce this; the token endpoint does.
	Scopes   []string
	Audience []string
	// SessionID links the family to the browser session that created it,
	// so logout can revoke it (RevokeFamiliesBySession); may be empty.
	SessionID string
	AuthTime  time.Time
	// AMR lists how the user authenticated at AuthTime (RFC 8176), so an
	// ID token issued at a refresh says the same as the first one; a list
	// like Scopes.
	AMR []string
	// DPoPJKT is the thumbprint of the key a public client's refresh
	// tokens are bound to (RFC 9449 §5): every refresh needs a DPoP proof
	// by that key. Empty when unbound.
	DPoPJKT   string
	CreatedAt time.Time
	// ExpiresAt is the family's absolute end (required); no token of the
	// family rotates from then on.
	ExpiresAt time.Time
	// RevokedAt is when the family was revoked; zero while live.
	RevokedAt time.Time
}

// RefreshToken is one refresh token of a family, as stored.
type RefreshToken struct {
	// Hash is the hash of the opaque token; the token itself is never
	// stored.
	Hash      string
	FamilyID  string
	CreatedAt time.Time
	// ExpiresAt is required.
	ExpiresAt time.Time
	// RotatedAt is when the token was exchanged for its successor; zero
	// while it is the family's current token. Presenting a rotated token
	// again is reuse.
	RotatedAt time.Time
}

// RefreshStore keeps refresh-token families. RotateRefresh is the one
// authoritative check, atomic under concurrency.
type RefreshStore interface {
	// CreateFamily stores a new family with its first token (first.FamilyID
	// may be left empty). ID, first.Hash and both ExpiresAt are required;
	// an ID or hash already present returns ErrConflict and stores
	// neither.
	CreateFamily(ctx context.Context, f RefreshFamily, first RefreshToken) error
	// GetRefresh returns a token and its family whatever their state, or
	// ErrNotFound. It is a plain read for checks that must not rotate
	// (the token belongs to the client presenting it; RFC 7009
	// revocation); it decides nothing.
	GetRefresh(ctx context.Context, hash string) (RefreshToken, RefreshFamily, error)
	// RotateRefresh exchanges the token oldHash for next, in one
	// transaction. The checks, in order:
	//   - no such token: ErrNotFound;
	//   - the family is revoked: ErrRevoked;
	//   - now >= ExpiresAt of the token or of the family: ErrExpired;
	//   - the token was already rotated (reuse: it was stolen, or a client
	//     raced itself): the family is revoked at now, that revocation is
	//     committed, and the error is ErrReused.
	// Otherwise it marks the old token rotated at now, inserts next, and
	// records access (as RecordAccess would), then returns the family.
	// next.FamilyID and access.FamilyID may be left empty (filled with
	// the old token's family). next.Hash, next.ExpiresAt, access.JTI and
	// access.ExpiresAt are required; a next hash or jti already present
	// returns ErrConflict and changes nothing.
	//
	// With ErrRevoked, ErrExpired and ErrReused it also returns the family
	// as it is after the call (for logs and audit); with other errors the
	// zero family. Concurrent rotations of one token behave as if run one
	// after another: exactly one succeeds, the first of the others gets
	// ErrReused and revokes the family, and any after it get ErrRevoked.
	// Either way the family ends revoked.
	RotateRefresh(ctx context.Context, oldHash string, next RefreshToken, access AccessRecord, now time.Time) (RefreshFamily, error)
	// RevokeFamily revokes the family at now. Revoking a revoked family
	// succeeds and keeps the first RevokedAt; an unknown ID returns
	// ErrNotFound.
	RevokeFamily(ctx context.Context, familyID string, now time.Time) error
	// RevokeFamiliesBySession revokes, at now, every live family whose
	// SessionID is sessionID (RP-initiated logout), and returns how many
	// it revoked; already revoked families are left alone and not
	// counted. An empty sessionID is refused with an error, since it would
	// otherwise match every family without a session.
	RevokeFamiliesBySession(ctx context.Context, sessionID string, now time.Time) (int, error)
}
