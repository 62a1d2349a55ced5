package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Checked is the store.Store over an SQL. It checks every argument the
// contract calls required before anything reaches the database, gives
// times the stored shape on the way in, and shapes every result on the
// way out (see SQL). Its checks are comparisons and copies of the
// arguments, no I/O and no locks, so it adds nothing that matters to a
// call's cost. It is safe for concurrent use when its SQL is.
type Checked struct {
	name string
	sql  SQL
}

var _ store.Store = (*Checked)(nil)

// Check returns the store.Store over sql. name ("sqlite", "postgres")
// prefixes the errors of refused arguments, as sql prefixes its own.
func Check(name string, sql SQL) *Checked {
	return &Checked{name: name, sql: sql}
}

// Operation names, the second part of an error's prefix.
const (
	opRedeem = "redeem code"
	opRotate = "rotate refresh token"
)

func (c *Checked) required(op string) *required {
	return &required{backend: c.name, op: op}
}

// KeyRing returns the current key ring.
func (c *Checked) KeyRing(ctx context.Context) (store.KeyRing, error) {
	ring, err := c.sql.KeyRing(ctx)
	if err != nil {
		return store.KeyRing{}, err
	}
	for i := range ring.Keys {
		ring.Keys[i] = shapeKey(ring.Keys[i])
	}
	return ring, nil
}

// KeyRingVersion returns the current key ring version.
func (c *Checked) KeyRingVersion(ctx context.Context) (int64, error) {
	return c.sql.KeyRingVersion(ctx)
}

// SwapKeyRing replaces the ring with keys if its version is still expected.
func (c *Checked) SwapKeyRing(ctx context.Context, expected int64, keys []store.Key) (int64, error) {
	r := c.required("swap key ring")
	// Duplicate IDs are refused here rather than left to the primary key,
	// whose violation could read as ErrConflict (a lost race) instead of
	// the caller's bug.
	seen := make(map[string]bool, len(keys))
	in := make([]store.Key, len(keys)) // a copy: the caller's slice is not ours to change
	for i, k := range keys {
		if seen[k.ID] {
			r.failf("key ID %q appears twice", k.ID)
		}
		seen[k.ID] = true
		in[i] = shapeKey(k)
		in[i].Private, in[i].Public = nonNil(k.Private), nonNil(k.Public)
	}
	if err := r.err(); err != nil {
		return 0, err
	}
	if err := c.sql.SwapKeyRing(ctx, expected, in); err != nil {
		return 0, err
	}
	return expected + 1, nil
}

// CreateCode stores a new, unused authorization code.
func (c *Checked) CreateCode(ctx context.Context, code store.AuthCode) error {
	r := c.required("create code")
	r.nonEmpty("Hash", code.Hash)
	r.nonZero("ExpiresAt", code.ExpiresAt)
	r.check(code.UsedAt.IsZero(), "UsedAt is set on a new code")
	iss := code.Issued
	r.check(iss.FamilyID == "" && iss.AccessJTI == "" && iss.AccessExpiresAt.IsZero() &&
		iss.Family == nil && iss.Refresh == nil, "Issued is set on a new code")
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.CreateCode(ctx, shapeCode(code))
}

// GetCode returns the code whatever its state.
func (c *Checked) GetCode(ctx context.Context, hash string) (store.AuthCode, error) {
	return shaped(shapeCode)(c.sql.GetCode(ctx, hash))
}

// RedeemCode marks the code used and records, and creates, what it issued.
func (c *Checked) RedeemCode(ctx context.Context, hash string, issued store.Issued, now time.Time) (store.AuthCode, error) {
	r := c.required(opRedeem)
	r.nonEmpty("hash", hash)
	r.nonZero("now", now)
	r.nonEmpty("Issued.AccessJTI", issued.AccessJTI)
	r.nonZero("Issued.AccessExpiresAt", issued.AccessExpiresAt)
	switch {
	case issued.Family != nil && issued.Refresh != nil:
		// Copies, so filling in FamilyIDs never writes to the caller's
		// structs.
		fam, first := *issued.Family, *issued.Refresh
		r.family(fam, &first)
		r.fillFamilyID("Issued.FamilyID", &issued.FamilyID, fam.ID)
		fam, first = shapeFamily(fam), shapeToken(first)
		issued.Family, issued.Refresh = &fam, &first
	case issued.Family != nil || issued.Refresh != nil:
		r.check(false, "Issued.Family and Issued.Refresh must be set together")
	default:
		r.check(issued.FamilyID == "", "Issued.FamilyID is set but Issued.Family is nil")
	}
	if err := r.err(); err != nil {
		return store.AuthCode{}, err
	}
	issued.AccessExpiresAt = stored(issued.AccessExpiresAt)
	now = stored(now)

	code, err := c.sql.RedeemCode(ctx, Redemption{Hash: hash, Issued: issued, Now: now})
	switch {
	case errors.Is(err, store.ErrCodeUsed):
		// The stored code's Issued is what the first redemption issued,
		// for the caller to revoke.
		return shapeCode(code), err
	case err != nil:
		return store.AuthCode{}, err
	}
	code.UsedAt = now
	code.Issued = store.Issued{FamilyID: issued.FamilyID, AccessJTI: issued.AccessJTI, AccessExpiresAt: issued.AccessExpiresAt}
	return shapeCode(code), nil
}

// CreateFamily stores a new family with its first token.
func (c *Checked) CreateFamily(ctx context.Context, f store.RefreshFamily, first store.RefreshToken) error {
	r := c.required("create refresh family")
	r.family(f, &first)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.CreateFamily(ctx, shapeFamily(f), shapeToken(first))
}

// GetRefresh returns a refresh token and its family whatever their state.
func (c *Checked) GetRefresh(ctx context.Context, hash string) (store.RefreshToken, store.RefreshFamily, error) {
	t, f, err := c.sql.GetRefresh(ctx, hash)
	if err != nil {
		return store.RefreshToken{}, store.RefreshFamily{}, err
	}
	return shapeToken(t), shapeFamily(f), nil
}

// RotateRefresh exchanges the token oldHash for next, detecting reuse.
func (c *Checked) RotateRefresh(ctx context.Context, oldHash string, next store.RefreshToken, access store.AccessRecord, now time.Time) (store.RefreshFamily, error) {
	r := c.required(opRotate)
	r.nonEmpty("old hash", oldHash)
	r.nonZero("now", now)
	r.nonEmpty("next Hash", next.Hash)
	r.check(next.Hash != oldHash, "next Hash equals the old hash")
	r.nonZero("next ExpiresAt", next.ExpiresAt)
	r.nonEmpty("access JTI", access.JTI)
	r.nonZero("access ExpiresAt", access.ExpiresAt)
	if err := r.err(); err != nil {
		return store.RefreshFamily{}, err
	}
	fam, err := c.sql.RotateRefresh(ctx, Rotation{OldHash: oldHash, Next: shapeToken(next),
		Access: shapeAccess(access), Now: stored(now), backend: c.name})
	switch {
	case err == nil, errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrExpired), errors.Is(err, store.ErrReused):
		// The contract returns the family with these, for logs and audit.
		return shapeFamily(fam), err
	}
	return store.RefreshFamily{}, err
}

// RevokeFamily revokes a family, keeping an earlier revocation time.
func (c *Checked) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	r := c.required("revoke refresh family")
	r.nonEmpty("family ID", familyID)
	r.nonZero("now", now)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.RevokeFamily(ctx, familyID, stored(now))
}

// RevokeFamiliesBySession revokes every live family of a session.
func (c *Checked) RevokeFamiliesBySession(ctx context.Context, sessionID string, now time.Time) (int, error) {
	r := c.required("revoke refresh families by session")
	// An empty ID would match every family without a session.
	r.nonEmpty("session ID", sessionID)
	r.nonZero("now", now)
	if err := r.err(); err != nil {
		return 0, err
	}
	return c.sql.RevokeFamiliesBySession(ctx, sessionID, stored(now))
}

// RecordAccess stores an access record.
func (c *Checked) RecordAccess(ctx context.Context, a store.AccessRecord) error {
	r := c.required("record access token")
	r.access(a)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.RecordAccess(ctx, shapeAccess(a))
}

// RevokeAccess revokes one access token by jti; idempotent.
func (c *Checked) RevokeAccess(ctx context.Context, jti string, expiresAt time.Time) error {
	r := c.required("revoke access token")
	r.access(store.AccessRecord{JTI: jti, ExpiresAt: expiresAt})
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.RevokeAccess(ctx, jti, stored(expiresAt))
}

// AccessRevoked reports whether jti, or its recorded family, is revoked.
func (c *Checked) AccessRevoked(ctx context.Context, jti string, now time.Time) (bool, error) {
	return c.sql.AccessRevoked(ctx, jti, stored(now))
}

// CreateSession stores a new session.
func (c *Checked) CreateSession(ctx context.Context, s store.Session) error {
	r := c.required("create session")
	r.nonEmpty("ID", s.ID)
	r.nonZero("ExpiresAt", s.ExpiresAt)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.CreateSession(ctx, shapeSession(s))
}

// GetSession returns a live session.
func (c *Checked) GetSession(ctx context.Context, id string, now time.Time) (store.Session, error) {
	return liveAt(now)(c.sql.GetSession(ctx, id))
}

// SessionBySID returns the live session whose ID starts with sid.
func (c *Checked) SessionBySID(ctx context.Context, sid string, now time.Time) (store.Session, error) {
	if len(sid) != store.SIDLength {
		return store.Session{}, store.ErrNotFound
	}
	return liveAt(now)(c.sql.SessionBySID(ctx, sid))
}

// liveAt shapes a session the SQL read, refusing it once now >=
// ExpiresAt, with the zero Session.
func liveAt(now time.Time) func(store.Session, error) (store.Session, error) {
	return func(s store.Session, err error) (store.Session, error) {
		switch {
		case err != nil:
			return store.Session{}, err
		case !now.Before(s.ExpiresAt):
			return store.Session{}, store.ErrExpired
		}
		return shapeSession(s), nil
	}
}

// DeleteSession removes a session; absent is not an error.
func (c *Checked) DeleteSession(ctx context.Context, id string) error {
	return c.sql.DeleteSession(ctx, id)
}

// PutConsent stores or replaces a consent.
func (c *Checked) PutConsent(ctx context.Context, cs store.Consent) error {
	r := c.required("put consent")
	r.nonEmpty("Subject", cs.Subject)
	r.nonEmpty("ClientID", cs.ClientID)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.PutConsent(ctx, shapeConsent(cs))
}

// GetConsent returns a consent.
func (c *Checked) GetConsent(ctx context.Context, subject, clientID string) (store.Consent, error) {
	return shaped(shapeConsent)(c.sql.GetConsent(ctx, subject, clientID))
}

// DeleteConsent removes a consent; absent is not an error.
func (c *Checked) DeleteConsent(ctx context.Context, subject, clientID string) error {
	return c.sql.DeleteConsent(ctx, subject, clientID)
}

// AddUsage adds the deltas in one transaction.
func (c *Checked) AddUsage(ctx context.Context, deltas []store.UsageDelta) error {
	r := c.required("add usage")
	merged := r.mergeUsage(deltas)
	if err := r.err(); err != nil {
		return err
	}
	if len(merged) == 0 {
		return nil
	}
	return c.sql.AddUsage(ctx, merged)
}

// Usage returns every usage row in (client, audience) byte order, nil
// when there is none.
func (c *Checked) Usage(ctx context.Context) ([]store.UsageRow, error) {
	rows, err := c.sql.Usage(ctx)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	for i := range rows {
		rows[i].LastIssued = stored(rows[i].LastIssued)
	}
	return rows, nil
}

// NoteLoginFailure records one failure of key at at.
func (c *Checked) NoteLoginFailure(ctx context.Context, key string, at time.Time) error {
	r := c.required("note login failure")
	r.nonEmpty("key", key)
	r.nonZero("at", at)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.NoteLoginFailure(ctx, key, stored(at))
}

// LoginFailures counts key's failures noted at or after since. since is
// truncated to the millisecond like the stored times, so a failure at or
// after since is counted however finely either was given.
func (c *Checked) LoginFailures(ctx context.Context, key string, since time.Time) (int, error) {
	r := c.required("login failures")
	r.nonEmpty("key", key)
	r.nonZero("since", since)
	if err := r.err(); err != nil {
		return 0, err
	}
	return c.sql.LoginFailures(ctx, key, stored(since))
}

// ClearLoginFailures forgets every failure of key.
func (c *Checked) ClearLoginFailures(ctx context.Context, key string) error {
	r := c.required("clear login failures")
	r.nonEmpty("key", key)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.ClearLoginFailures(ctx, key)
}

// DeleteExpired runs the sweeps in order, each in batches of SweepBatch
// until a batch comes back short. It stops at the first error or when
// ctx ends, returning what it removed so far: every batch is committed on
// its own, and a later call carries on.
func (c *Checked) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	r := c.required("delete expired")
	r.nonZero("now", now)
	if err := r.err(); err != nil {
		return 0, err
	}
	now = stored(now)
	var total int64
	for sw := range Sweep(Sweeps) {
		for {
			if err := ctx.Err(); err != nil {
				return total, fmt.Errorf("%s: delete expired %s: %w", c.name, sw, err)
			}
			n, err := c.sql.Sweep(ctx, sw, now, SweepBatch)
			total += n
			if err != nil {
				return total, fmt.Errorf("%s: delete expired %s: %w", c.name, sw, err)
			}
			if n < SweepBatch {
				break
			}
		}
	}
	return total, nil
}

// Ping reports whether the database is reachable.
func (c *Checked) Ping(ctx context.Context) error {
	return c.sql.Ping(ctx)
}

// Close releases the database.
func (c *Checked) Close() error {
	return c.sql.Close()
}
