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
	AuthTime  time.Time
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
}
