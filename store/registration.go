package store

import (
	"context"
	"time"
)

// RegisteredClient is a client registered through RFC 7591 dynamic client
// registration: public (AuthMethod "none") or private_key_jwt. It lives
// until ExpiresAt, which every use moves on (TouchRegisteredClient), so a
// client nobody uses any more goes away.
type RegisteredClient struct {
	// ID is the client_id Gatehouse issued.
	ID           string
	Name         string
	RedirectURIs []string
	GrantTypes   []string
	AuthMethod   string
	// JWKS is the client's inline JSON Web Key Set, or nil; JWKSURI the
	// URL of its set, or "" (private_key_jwt).
	JWKS    []byte
	JWKSURI string
	// CreatedAt is the registration; LastUsedAt the last use (zero: not
	// used yet); ExpiresAt is required.
	CreatedAt, LastUsedAt, ExpiresAt time.Time
}

// ClientRegistrationStore keeps registered clients, shared by every
// instance.
type ClientRegistrationStore interface {
	// CreateRegisteredClient stores c. ID, CreatedAt and ExpiresAt are
	// required; an ID already present returns ErrConflict.
	CreateRegisteredClient(ctx context.Context, c RegisteredClient) error
	// GetRegisteredClient returns the client, ErrNotFound, or (with the
	// zero value) ErrExpired once now >= ExpiresAt.
	GetRegisteredClient(ctx context.Context, id string, now time.Time) (RegisteredClient, error)
	// TouchRegisteredClient sets LastUsedAt to usedAt and ExpiresAt to
	// expiresAt (both required); ErrNotFound when absent.
	TouchRegisteredClient(ctx context.Context, id string, usedAt, expiresAt time.Time) error
	// ListRegisteredClients returns every registered client, expired ones
	// not yet removed included, ordered by ID.
	ListRegisteredClients(ctx context.Context) ([]RegisteredClient, error)
}
