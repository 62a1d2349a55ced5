package backend

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// SQL is what a backend implements: the statements of the store.Store
// methods in one SQL dialect, and nothing that is the same in every
// dialect. Check wraps an SQL into the store.Store the rest of Gatehouse
// sees. The wrapper owns the parts of the store contract that do not
// depend on the database, so an SQL relies on them instead of checking
// them again:
//
//   - Arguments are valid. Every field the contract calls required is
//     set; a FamilyID the store can infer is filled in (or the call was
//     refused); a new code has no UsedAt or Issued; key IDs are distinct
//     and key bytes non-nil; usage deltas are merged, one per pair, and
//     never an empty slice; a sid has store.SIDLength characters; a
//     person's Claims is nil or non-empty.
//   - Times arrive as the contract stores them, UTC truncated to the
//     millisecond, so an SQL stores them as given. The zero time means
//     "none" and must read back as the zero time.
//
// An SQL in turn returns rows as its driver reads them: times in any zone
// and empty lists nil or not (the wrapper converts to UTC and nil), and
// any value beside an error (the wrapper drops it where the contract
// wants the zero value).
//
// What stays with an SQL is what only the database can do: statements,
// transactions and locks, durability, a taken key as store.ErrConflict
// and an absent row as store.ErrNotFound (possibly wrapped), and its own
// errors prefixed with the backend's name and the operation. The methods
// that decide on rows read inside their transaction take the decision
// from Redemption.Decide and Rotation.Decide, so those rules are written
// once as well.
//
// Methods not documented here do what the store.Store method of the same
// name documents, on arguments checked as above.
type SQL interface {
	KeyRing(ctx context.Context) (store.KeyRing, error)
	KeyRingVersion(ctx context.Context) (int64, error)
	// SwapKeyRing is store.KeyStore's without the new version, which is
	// always expected+1.
	SwapKeyRing(ctx context.Context, expected int64, keys []store.Key) error

	CreateCode(ctx context.Context, c store.AuthCode) error
	GetCode(ctx context.Context, hash string) (store.AuthCode, error)
	// RedeemCode runs r in one transaction: it reads the code r.Hash,
	// locked against concurrent redemptions, and stops with
	// r.Decide's error if there is one; otherwise it creates
	// r.Issued.Family and r.Issued.Refresh when set, records r.Access(),
	// and marks the code used at r.Now with r.Issued. It returns the code
	// as it read it (the wrapper adds UsedAt and Issued on success, and
	// keeps it with ErrCodeUsed).
	RedeemCode(ctx context.Context, r Redemption) (store.AuthCode, error)

	CreateFamily(ctx context.Context, f store.RefreshFamily, first store.RefreshToken) error
	GetRefresh(ctx context.Context, hash string) (store.RefreshToken, store.RefreshFamily, error)
	// RotateRefresh runs r in one transaction: it reads the token
	// r.OldHash and its family, locked against concurrent rotations and
	// revocations, and asks r.Decide. On ErrReused it revokes the family
	// at r.Now, commits that, and returns the family so revoked with
	// ErrReused; on another error it returns the family as read with that
	// error; otherwise it marks the old token rotated at r.Now, inserts
	// the next token and access record Decide returned, and returns the
	// family.
	RotateRefresh(ctx context.Context, r Rotation) (store.RefreshFamily, error)
	RevokeFamily(ctx context.Context, familyID string, now time.Time) error
	RevokeFamiliesBySession(ctx context.Context, sessionID string, now time.Time) (int, error)

	RecordAccess(ctx context.Context, a store.AccessRecord) error
	RevokeAccess(ctx context.Context, jti string, expiresAt time.Time) error
	AccessRevoked(ctx context.Context, jti string, now time.Time) (bool, error)

	CreateSession(ctx context.Context, s store.Session) error
	// GetSession returns the session id, or ErrNotFound, whatever its
	// expiry: the wrapper decides that.
	GetSession(ctx context.Context, id string) (store.Session, error)
	// SessionBySID returns the session whose ID starts with sid, or
	// ErrNotFound, whatever its expiry.
	SessionBySID(ctx context.Context, sid string) (store.Session, error)
	DeleteSession(ctx context.Context, id string) error

	PutConsent(ctx context.Context, c store.Consent) error
	GetConsent(ctx context.Context, subject, clientID string) (store.Consent, error)
	DeleteConsent(ctx context.Context, subject, clientID string) error

	AddUsage(ctx context.Context, deltas []store.UsageDelta) error
	Usage(ctx context.Context) ([]store.UsageRow, error)

	NoteLoginFailure(ctx context.Context, key string, at time.Time) error
	LoginFailures(ctx context.Context, key string, since time.Time) (int, error)
	ClearLoginFailures(ctx context.Context, key string) error

	CreatePerson(ctx context.Context, p store.Person) error
	GetPerson(ctx context.Context, subject string) (store.Person, error)
	LocalUser(ctx context.Context, username string) (store.Person, error)
	// RecordSignIn inserts p (CreatedAt, UpdatedAt and LastSignIn already
	// set to now by the wrapper), or, when a person of the same Source
	// has p.Subject, replaces their Username, Claims and Groups and sets
	// UpdatedAt and LastSignIn, in one statement or transaction. It
	// returns the row as stored, and ErrConflict when the subject belongs
	// to a person of another Source.
	RecordSignIn(ctx context.Context, p store.Person) (store.Person, error)
	UpdatePerson(ctx context.Context, p store.Person) error
	DeletePerson(ctx context.Context, subject string) error
	// ListPeople returns everyone in byte order of Subject.
	ListPeople(ctx context.Context) ([]store.Person, error)

	UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error

	CreateRegisteredClient(ctx context.Context, c store.RegisteredClient) error
	// GetRegisteredClient returns the row whatever its expiry; the
	// wrapper judges it.
	GetRegisteredClient(ctx context.Context, id string) (store.RegisteredClient, error)
	TouchRegisteredClient(ctx context.Context, id string, usedAt, expiresAt time.Time) error
	// ListRegisteredClients returns every row in byte order of ID.
	ListRegisteredClients(ctx context.Context) ([]store.RegisteredClient, error)

	// Sweep deletes at most limit rows of sweep sw that have expired at
	// now, in one statement or short transaction, and returns how many it
	// deleted. The wrapper runs the sweeps in order, each until it deletes
	// fewer than limit, and prefixes Sweep's errors.
	Sweep(ctx context.Context, sw Sweep, now time.Time, limit int) (int64, error)

	Ping(ctx context.Context) error
	Close() error
}

// Redemption is a checked RedeemCode call, as SQL.RedeemCode gets it.
type Redemption struct {
	Hash string
	// Issued is what the redemption records. Its FamilyID is filled in,
	// and Family and Refresh are both nil or both set, with
	// Refresh.FamilyID filled in.
	Issued store.Issued
	Now    time.Time
}

// Decide is RedeemCode's rule on the code as the SQL read it: nil to go
// ahead, ErrCodeUsed for a replay, ErrExpired once now >= ExpiresAt.
func (r Redemption) Decide(code store.AuthCode) error {
	switch {
	case !code.UsedAt.IsZero():
		// Checked before expiry: a replay must be reported (so what it
		// issued can be revoked) however late it comes.
		return store.ErrCodeUsed
	case !r.Now.Before(code.ExpiresAt):
		return store.ErrExpired
	}
	return nil
}

// Access is the access record the redemption writes, as RecordAccess
// would.
func (r Redemption) Access() store.AccessRecord {
	return store.AccessRecord{JTI: r.Issued.AccessJTI, FamilyID: r.Issued.FamilyID, ExpiresAt: r.Issued.AccessExpiresAt}
}

// Rotation is a checked RotateRefresh call, as SQL.RotateRefresh gets it.
// Next.FamilyID and Access.FamilyID may still be empty: only the old
// token's row says which family they belong to, so Decide fills them in.
type Rotation struct {
	OldHash string
	Next    store.RefreshToken
	Access  store.AccessRecord
	Now     time.Time

	backend string // the error prefix, set by Checked
}

// Decide is RotateRefresh's rule on the old token and its family as the
// SQL read them. The checks, in the contract's order: the family is
// revoked (ErrRevoked); the token or family has expired (ErrExpired); the
// token was already rotated (ErrReused: the SQL then revokes the family
// and commits that). Otherwise it returns the next token and access
// record to insert, their FamilyID set to fam.ID, or an error (no
// sentinel) when the caller set another family.
func (r Rotation) Decide(old store.RefreshToken, fam store.RefreshFamily) (store.RefreshToken, store.AccessRecord, error) {
	switch {
	case !fam.RevokedAt.IsZero():
		return store.RefreshToken{}, store.AccessRecord{}, store.ErrRevoked
	case !r.Now.Before(old.ExpiresAt) || !r.Now.Before(fam.ExpiresAt):
		return store.RefreshToken{}, store.AccessRecord{}, store.ErrExpired
	case !old.RotatedAt.IsZero():
		return store.RefreshToken{}, store.AccessRecord{}, store.ErrReused
	}
	req := required{backend: r.backend, op: opRotate}
	req.fillFamilyID("next FamilyID", &r.Next.FamilyID, fam.ID)
	req.fillFamilyID("access FamilyID", &r.Access.FamilyID, fam.ID)
	if err := req.err(); err != nil {
		return store.RefreshToken{}, store.AccessRecord{}, err
	}
	return r.Next, r.Access, nil
}

// Sweep is one pass of DeleteExpired. The passes run in the order of
// these constants, which lets one call finish the job: access records go
// first, because an unexpired one keeps its family alive; a family's
// tokens go before the family, so they are counted.
type Sweep int

// The sweeps, each deleting the rows that can no longer matter at now.
const (
	// SweepAccess: access records and revocations with ExpiresAt <= now.
	SweepAccess Sweep = iota
	// SweepTokens: refresh tokens with ExpiresAt <= now.
	SweepTokens
	// SweepFamilyTokens: every refresh token of a family with ExpiresAt
	// <= now.
	SweepFamilyTokens
	// SweepFamilies: families with ExpiresAt <= now that no unexpired
	// access record names.
	SweepFamilies
	// SweepCodes: authorization codes with ExpiresAt <= now.
	SweepCodes
	// SweepSessions: sessions with ExpiresAt <= now.
	SweepSessions
	// SweepLoginFailures: failures noted at or before now minus
	// store.LoginFailureRetention.
	SweepLoginFailures
	// SweepOnce: single-use values (UseOnce) with ExpiresAt <= now.
	SweepOnce
	// SweepRegisteredClients: registered clients with ExpiresAt <= now.
	SweepRegisteredClients

	// Sweeps is how many sweeps there are; a backend's table of sweep
	// statements has this length.
	Sweeps = iota
)

// SweepBatch is the limit Checked passes to SQL.Sweep. Each call is its
// own short transaction, so a large backlog never holds a write lock (or,
// in PostgreSQL, row locks) for long, and requests queued behind a batch
// wait milliseconds, not seconds.
const SweepBatch = 500

var sweepNames = [Sweeps]string{
	SweepAccess:            "access records",
	SweepTokens:            "expired refresh tokens",
	SweepFamilyTokens:      "refresh tokens of expired families",
	SweepFamilies:          "refresh families",
	SweepCodes:             "authorization codes",
	SweepSessions:          "sessions",
	SweepLoginFailures:     "login failures",
	SweepOnce:              "single-use values",
	SweepRegisteredClients: "registered clients",
}

// String names the sweep, for errors and tests.
func (sw Sweep) String() string {
	if sw < 0 || sw >= Sweeps {
		return "unknown sweep"
	}
	return sweepNames[sw]
}
