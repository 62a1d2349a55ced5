package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// gcBatch bounds how many rows one DeleteExpired statement removes. Each
// statement is its own transaction, so its row locks are held for one
// batch only and a large backlog never makes a sign-in wait long.
const gcBatch = 500

// gcSteps are the sweeps, in an order that lets one call finish the job:
// access records go first, because an unexpired one keeps its family
// alive; a family's tokens go before the family, so they are counted.
// $1 is now, $2 the batch size.
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
var gcSteps = []struct{ what, sql string }{
	{"access records", `DELETE FROM access_tokens WHERE jti = ANY(ARRAY(
		SELECT jti FROM access_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`},
	{"expired refresh tokens", `DELETE FROM refresh_tokens WHERE hash = ANY(ARRAY(
		SELECT hash FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`},
	{"refresh tokens of expired families", `DELETE FROM refresh_tokens WHERE hash = ANY(ARRAY(
		SELECT t.hash FROM refresh_families f CROSS JOIN LATERAL
			(SELECT hash FROM refresh_tokens WHERE family_id = f.id LIMIT $2 FOR UPDATE SKIP LOCKED) t
		WHERE f.expires_at <= $1 LIMIT $2))`},
	{"refresh families", `DELETE FROM refresh_families WHERE id = ANY(ARRAY(
		SELECT f.id FROM refresh_families f WHERE f.expires_at <= $1
			AND NOT (SELECT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family_id = f.id AND a.expires_at > $1))
		LIMIT $2 FOR UPDATE SKIP LOCKED))`},
	{"authorization codes", `DELETE FROM auth_codes WHERE hash = ANY(ARRAY(
		SELECT hash FROM auth_codes WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`},
	{"sessions", `DELETE FROM sessions WHERE id = ANY(ARRAY(
		SELECT id FROM sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`},
	// A failure stops mattering LoginFailureRetention after it was noted.
	{"login failures", `DELETE FROM login_failures WHERE id = ANY(ARRAY(
		SELECT id FROM login_failures WHERE at <= $1::timestamptz - interval '` +
		strconv.FormatInt(store.LoginFailureRetention.Milliseconds(), 10) + ` milliseconds'
		LIMIT $2 FOR UPDATE SKIP LOCKED))`},
}

// DeleteExpired removes expired runtime state in bounded batches.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	if now.IsZero() {
		return 0, fmt.Errorf("postgres: delete expired: now is the zero time")
	}
	cutoff := ts(now)
	var total int64
	for _, step := range gcSteps {
		for {
			if err := ctx.Err(); err != nil {
				return total, fmt.Errorf("postgres: delete expired %s: %w", step.what, err)
			}
			tag, err := s.pool.Exec(ctx, step.sql, cutoff, gcBatch)
			if err != nil {
				return total, fmt.Errorf("postgres: delete expired %s: %w", step.what, err)
			}
			n := tag.RowsAffected()
			total += n
			if n < gcBatch {
				break
			}
		}
	}
	return total, nil
}
