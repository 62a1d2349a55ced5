package store

import (
	"context"
	"time"
)

// AccessRecord ties an access token, by its jti, to the refresh family it
// was issued under, so that revoking the family revokes it too (issue 4:
// every access token of a revoked family reads inactive at
// introspection).
type AccessRecord struct {
	// JTI is the token's jti claim (required).
	JTI string
	// FamilyID is the refresh family; empty when the token was issued
	// without one (a code redemption that issued no refresh token). The
	// store does not check that it names an existing family (no foreign
	// key): DeleteExpired instead keeps a family while any of its access
	// records is unexpired.
	FamilyID string
	// ExpiresAt is the token's exp (required); the record is kept until
	// then.
	ExpiresAt time.Time
}

// RevocationStore answers "was this access token revoked?" for
// introspection, UserInfo and revocation (RFC 7009). Access tokens are
// JWTs validated without the database; this is the extra check an
// issuer-side endpoint makes.
type RevocationStore interface {
	// RecordAccess stores an access record. It is written for user flows
	// only (code and refresh grants), never for client_credentials, whose
	// tokens have no family. A jti already present returns ErrConflict.
	RecordAccess(ctx context.Context, r AccessRecord) error
	// RevokeAccess revokes one access token by jti, whether or not it was
	// recorded; expiresAt is the token's exp, until which the revocation
	// is kept. It is idempotent: revoking again succeeds and keeps the
	// later of the two expiries.
	RevokeAccess(ctx context.Context, jti string, expiresAt time.Time) error
	// AccessRevoked reports whether the token jti was revoked directly or
	// its recorded family is revoked. It is one indexed lookup, cheap
	// enough for every introspection. Once now >= the expiry recorded for
	// the jti it reports false: the token is refused as expired anyway,
	// and DeleteExpired may already have removed the record, so the answer
	// must not depend on whether it has.
	AccessRevoked(ctx context.Context, jti string, now time.Time) (bool, error)
}
