package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
)

// sweeps are DeleteExpired's statements, one per backend.Sweep (which
// says what each removes and in what order). $1 is now, $2 the batch
// size. Each statement is its own transaction, so its row locks are held
// for one batch only.
//
// PostgreSQL's DELETE has no LIMIT, so each statement picks at most $2
// primary keys in an ARRAY sub-select (run once, through the expires_at
// index) and deletes by "key = ANY(…)", an index lookup: no plan can turn
// a batch into a join that reads a whole table. For the same reason the
// per-family checks are a LATERAL with its own LIMIT and a sub-select in
// the WHERE clause, which the planner keeps as per-row index probes
// instead of hashing every token or live access record.
//
// FOR UPDATE SKIP LOCKED lets several instances sweep at once without
// queueing on each other, and keeps the sweep from waiting for a row that
// a live request holds (a rotation's token, say): a skipped row is taken
// by a later call.
var sweeps = [backend.Sweeps]string{
	backend.SweepAccess: `DELETE FROM access_tokens WHERE jti = ANY(ARRAY(
		SELECT jti FROM access_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
	backend.SweepTokens: `DELETE FROM refresh_tokens WHERE hash = ANY(ARRAY(
		SELECT hash FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
	backend.SweepFamilyTokens: `DELETE FROM refresh_tokens WHERE hash = ANY(ARRAY(
		SELECT t.hash FROM refresh_families f CROSS JOIN LATERAL
			(SELECT hash FROM refresh_tokens WHERE family_id = f.id LIMIT $2 FOR UPDATE SKIP LOCKED) t
		WHERE f.expires_at <= $1 LIMIT $2))`,
	backend.SweepFamilies: `DELETE FROM refresh_families WHERE id = ANY(ARRAY(
		SELECT f.id FROM refresh_families f WHERE f.expires_at <= $1
			AND NOT (SELECT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family_id = f.id AND a.expires_at > $1))
		LIMIT $2 FOR UPDATE SKIP LOCKED))`,
	backend.SweepCodes: `DELETE FROM auth_codes WHERE hash = ANY(ARRAY(
		SELECT hash FROM auth_codes WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
	backend.SweepSessions: `DELETE FROM sessions WHERE id = ANY(ARRAY(
		SELECT id FROM sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
	// A failure stops mattering LoginFailureRetention after it was noted.
	backend.SweepLoginFailures: `DELETE FROM login_failures WHERE id = ANY(ARRAY(
		SELECT id FROM login_failures WHERE at <= $1::timestamptz - interval '` +
		strconv.FormatInt(store.LoginFailureRetention.Milliseconds(), 10) + ` milliseconds'
		LIMIT $2 FOR UPDATE SKIP LOCKED))`,
	backend.SweepOnce: `DELETE FROM once WHERE key = ANY(ARRAY(
		SELECT key FROM once WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
	backend.SweepRegisteredClients: `DELETE FROM registered_clients WHERE id = ANY(ARRAY(
		SELECT id FROM registered_clients WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
}

// Sweep deletes at most limit rows of one sweep.
func (s *sqlStore) Sweep(ctx context.Context, sw backend.Sweep, now time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, sweeps[sw], ts(now), limit)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
