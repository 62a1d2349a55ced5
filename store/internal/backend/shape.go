package backend

import (
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// The contract's shape of values, applied by Checked on the way in (so an
// SQL stores exactly what every backend stores) and on the way out (so an
// SQL may return rows as its driver reads them).

// stored is t as the contract stores it: UTC, truncated to the
// millisecond, the zero time kept zero. Truncated rather than rounded, and
// to the millisecond although PostgreSQL keeps microseconds, so a stored
// expiry is the same on every backend: a time a caller truncates to the
// millisecond is then already "at or after" it. Comparing a stored now
// with stored times decides exactly as comparing the caller's now would,
// since a stored time is a whole millisecond.
func stored(t time.Time) time.Time {
	return t.Truncate(time.Millisecond).UTC()
}

// list is an empty list, nil or not, as nil: the contract's one spelling.
func list(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// nonNil makes a nil slice empty: both drivers would bind nil as NULL,
// which the NOT NULL key columns refuse.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func shapeKey(k store.Key) store.Key {
	k.CreatedAt, k.ActivatedAt = stored(k.CreatedAt), stored(k.ActivatedAt)
	k.RetiredAt, k.PublishUntil = stored(k.RetiredAt), stored(k.PublishUntil)
	return k
}

func shapeCode(c store.AuthCode) store.AuthCode {
	c.Scopes, c.Audience, c.IDTokenClaims, c.AMR = list(c.Scopes), list(c.Audience), list(c.IDTokenClaims), list(c.AMR)
	c.AuthTime, c.CreatedAt = stored(c.AuthTime), stored(c.CreatedAt)
	c.ExpiresAt, c.UsedAt = stored(c.ExpiresAt), stored(c.UsedAt)
	c.Issued.AccessExpiresAt = stored(c.Issued.AccessExpiresAt)
	return c
}

func shapeFamily(f store.RefreshFamily) store.RefreshFamily {
	f.Scopes, f.Audience, f.AMR = list(f.Scopes), list(f.Audience), list(f.AMR)
	f.AuthTime, f.CreatedAt = stored(f.AuthTime), stored(f.CreatedAt)
	f.ExpiresAt, f.RevokedAt = stored(f.ExpiresAt), stored(f.RevokedAt)
	return f
}

func shapeToken(t store.RefreshToken) store.RefreshToken {
	t.CreatedAt, t.ExpiresAt, t.RotatedAt = stored(t.CreatedAt), stored(t.ExpiresAt), stored(t.RotatedAt)
	return t
}

func shapeAccess(a store.AccessRecord) store.AccessRecord {
	a.ExpiresAt = stored(a.ExpiresAt)
	return a
}

func shapeSession(s store.Session) store.Session {
	s.AMR = list(s.AMR)
	s.AuthTime, s.CreatedAt, s.ExpiresAt = stored(s.AuthTime), stored(s.CreatedAt), stored(s.ExpiresAt)
	return s
}

func shapePerson(p store.Person) store.Person {
	p.Groups = list(p.Groups)
	if len(p.Claims) == 0 {
		p.Claims = nil
	}
	p.CreatedAt, p.UpdatedAt, p.LastSignIn = stored(p.CreatedAt), stored(p.UpdatedAt), stored(p.LastSignIn)
	return p
}

func shapeConsent(c store.Consent) store.Consent {
	c.Scopes, c.Audience = list(c.Scopes), list(c.Audience)
	c.GrantedAt = stored(c.GrantedAt)
	return c
}

// shaped returns a function that passes an SQL result through shape, or
// the zero value with a non-nil error: a value beside an error is dropped
// unless the contract keeps it (RedeemCode, RotateRefresh do that
// themselves). Written as a function of the result pair so a method can
// say shaped(shapeCode)(c.sql.GetCode(ctx, hash)).
func shaped[T any](shape func(T) T) func(T, error) (T, error) {
	return func(v T, err error) (T, error) {
		if err != nil {
			var zero T
			return zero, err
		}
		return shape(v), nil
	}
}
