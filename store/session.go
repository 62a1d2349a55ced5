package store

import (
	"context"
	"time"
)

// Session is a signed-in browser session.
type Session struct {
	// ID is the hash of the session cookie's value; the cookie value
	// itself is never stored.
	ID      string
	Subject string
	// AuthTime is when the user last authenticated (OIDC auth_time,
	// max_age and prompt=login are judged against it).
	AuthTime time.Time
	// AMR lists how the user authenticated at AuthTime (OIDC "amr",
	// RFC 8176 values such as "pwd"); a list like a code's Scopes.
	AMR       []string
	CreatedAt time.Time
	// ExpiresAt is required; the session is over from then on.
	ExpiresAt time.Time
}

// SessionStore keeps browser sessions.
type SessionStore interface {
	// CreateSession stores a new session. ID and ExpiresAt are required;
	// an ID already present returns ErrConflict.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session, ErrNotFound, or (with the zero
	// Session) ErrExpired once now >= ExpiresAt.
	GetSession(ctx context.Context, id string, now time.Time) (Session, error)
	// DeleteSession removes the session (logout). Deleting an absent
	// session succeeds, so a repeated logout is not an error.
	DeleteSession(ctx context.Context, id string) error
	// SessionBySID returns the live session whose SID(ID) is sid, as
	// GetSession does (ErrNotFound, or ErrExpired once now >= ExpiresAt).
	// It lets a logout that carries no cookie end the session an ID
	// token names. A sid of any other length than SIDLength is not found.
	SessionBySID(ctx context.Context, sid string, now time.Time) (Session, error)
}

// SIDLength is how many leading characters of a session's ID form its
// public OIDC "sid": half of a hex SHA-256, enough to be unique, while the
// rest of the ID stays unknown to whoever reads the ID token.
const SIDLength = 32

// SID is the public "sid" of the session with this ID.
func SID(id string) string {
	if len(id) > SIDLength {
		return id[:SIDLength]
	}
	return id
}
