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
//   - Every method that changes state does so in one transaction: it
//     changes everything it documents or nothing, and a call that returns
//     an error has changed nothing. Two deliberate exceptions:
//     RotateRefresh on reuse commits the family's revocation and still
//     returns ErrReused, and DeleteExpired works in many small
//     transactions (each batch stays deleted if a later one fails).
//   - Methods whose outcome depends on the time take it as a now argument;
//     the store never reads a clock, so tests and several instances agree
//     on what "expired" means. Expired means now >= ExpiresAt.
//   - Secrets are never stored in clear. Authorization codes, refresh
//     tokens and session cookies reach the store only as a hash computed by
//     the caller (for example lower-case hex of SHA-256), passed as a
//     string. The store does not hash; it compares hashes exactly, byte for
//     byte, so the caller must encode them the same way every time.
//   - Inserting a row whose key (hash, ID, jti, subject) is already taken
//     returns ErrConflict and changes nothing: a store never silently
//     overwrites a code, token, family, session, access record or person.
//   - Byte slices that are opaque to the store (a Person's Claims)
//     round-trip exactly; an empty one, nil or not, reads back as nil.
//   - Lists ([]string: scopes, audiences, AMR, groups) round-trip exactly: same
//     elements, same order, duplicates kept, compared case-sensitively. An
//     empty list, nil or not, reads back as nil.
//   - A FamilyID field that the store can infer from the call (the family
//     being created, or the family of the token being rotated) may be left
//     empty and is filled in; when set it must agree, or the call fails
//     with an error and changes nothing.
//   - A required field left empty or zero (a hash, an ID, an ExpiresAt, a
//     now) is refused with an error (none of the sentinels) before
//     anything changes.
//
// The built-in backends (store/sqlite, store/postgres) hold only SQL: the
// parts of this contract that do not depend on the database (required
// arguments, inferred FamilyIDs, the shape of times and lists) are
// checked and applied once, by store/internal/backend, for both.
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
	// ErrConflict means a compare-and-swap lost to a concurrent change,
	// or an insert found its key (hash, ID, jti) already taken.
	ErrConflict = errors.New("store: conflict")
	// ErrCodeUsed means an authorization code has already been redeemed.
	// RedeemCode returns it together with the stored code, whose Issued
	// says what the first redemption issued, so the caller can revoke it
	// (RFC 6749 section 4.1.2).
	ErrCodeUsed = errors.New("store: authorization code already used")
	// ErrExpired means the code, refresh token, refresh family or session
	// has reached its ExpiresAt.
	ErrExpired = errors.New("store: expired")
	// ErrRevoked means the refresh family has been revoked (by reuse
	// detection, RFC 7009 revocation, code replay or logout).
	ErrRevoked = errors.New("store: revoked")
	// ErrReused means a refresh token that had already been rotated was
	// presented again. The store has revoked the token's whole family, and
	// that revocation is committed (RFC 9700, "Refresh Token Protection").
	ErrReused = errors.New("store: refresh token reused")
)

// Store is the whole runtime state, one embedded interface per aggregate.
// Later aggregates are added as further embedded interfaces.
type Store interface {
	KeyStore
	CodeStore
	RefreshStore
	RevocationStore
	SessionStore
	ConsentStore
	UsageStore
	LoginThrottleStore
	PeopleStore
	OnceStore
	ClientRegistrationStore
	// DeleteExpired removes what can no longer matter at now, and returns
	// how many rows it removed:
	//   - authorization codes, sessions, access records and access-token
	//     revocations with ExpiresAt <= now (used codes too: a replay
	//     after that finds nothing and is refused as unknown, but can no
	//     longer revoke what the code issued);
	//   - refresh tokens with ExpiresAt <= now, and every refresh token of
	//     a family with ExpiresAt <= now;
	//   - refresh families with ExpiresAt <= now, but only once no access
	//     record naming the family is still unexpired, so AccessRevoked
	//     stays right for the family's last access tokens;
	//   - login failures noted at or before now - LoginFailureRetention;
	//   - single-use values (UseOnce) with expiresAt <= now;
	//   - registered clients with ExpiresAt <= now.
	// Consents, usage counts, people and the key ring are never removed. The work is done in
	// bounded batches, each its own short transaction, so a large backlog
	// never holds the write lock for long; if ctx ends or a batch fails it
	// returns what it removed so far with the error, and a later call
	// carries on.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
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
