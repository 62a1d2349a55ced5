// Package store defines the runtime state Gatehouse keeps in a database and
// the contract every backend must honour. Configuration (clients, users,
// audiences) is not here: it lives in the YAML file.
//
// The contract, checked for every backend by store/storetest:
//   - Times are stored and returned in UTC with at least millisecond
//     precision.
//   - Every method that changes state has committed that change durably
//     when it returns nil; a response may then depend on it.
//   - Compare-and-swap methods return ErrConflict, and change nothing, when
//     the expected version is not the current one.
//   - Lookups of absent rows return ErrNotFound.
//   - Methods are safe for concurrent use by many goroutines and by many
//     processes sharing one database.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors every backend returns (possibly wrapped).
var (
	// ErrNotFound means the requested row does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a compare-and-swap lost to a concurrent change.
	ErrConflict = errors.New("store: conflict")
)

// Store is the whole runtime state. Later aggregates (codes, refresh
// families, sessions) are added as further embedded interfaces.
type Store interface {
	KeyStore
	// Ping reports whether the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// KeyState is a signing key's place in the key ring.
type KeyState string

// Key ring states. A key is published in JWKS in every state; it signs only
// while active.
const (
	KeyNext    KeyState = "next"
	KeyActive  KeyState = "active"
	KeyRetired KeyState = "retired"
)

// Key is one signing key as stored. The store treats Private as opaque bytes:
// internal/keys encrypts it before it gets here.
type Key struct {
	ID    string // the JWS "kid"
	Alg   string // ES256, EdDSA or RS256
	State KeyState
	// Private is the encrypted private key (internal/keys' envelope format).
	Private []byte
	// Public is the public JWK as JSON.
	Public    []byte
	CreatedAt time.Time
	// ActivatedAt is when the key started signing (zero while next).
	ActivatedAt time.Time
	// RetiredAt is when the key stopped signing (zero unless retired).
	RetiredAt time.Time
	// PublishUntil is when a retired key may leave JWKS: after every token
	// it signed has expired. Zero unless retired.
	PublishUntil time.Time
}

// KeyRing is the full set of keys with the version it was read at.
type KeyRing struct {
	// Version increases by one with every successful SwapKeyRing; 0 means
	// the ring has never been written.
	Version int64
	Keys    []Key
}

// KeyStore persists the signing key ring. The ring is replaced as a whole
// with compare-and-swap, which makes rotation safe when several instances
// try at once: exactly one wins, the others re-read.
type KeyStore interface {
	// KeyRing returns the current ring (Version 0, no keys, when empty),
	// read as one consistent snapshot: Keys are exactly those written by
	// the swap that produced Version, in the order that swap gave them.
	KeyRing(ctx context.Context) (KeyRing, error)
	// KeyRingVersion returns the current version only; instances poll it
	// cheaply to notice rotations made elsewhere.
	KeyRingVersion(ctx context.Context) (int64, error)
	// SwapKeyRing replaces the ring with keys if its version is still
	// expected, and returns the new version (expected+1). Otherwise it
	// returns ErrConflict and changes nothing. Keys with duplicate IDs are
	// refused with an error (not ErrConflict), also changing nothing. An
	// empty keys empties the ring (and still bumps the version).
	SwapKeyRing(ctx context.Context, expected int64, keys []Key) (int64, error)
}
