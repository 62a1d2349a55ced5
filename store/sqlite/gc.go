package sqlite

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// gcBatch bounds how many rows one DeleteExpired statement removes. Each
// statement is its own transaction, so the write lock is held only for one
// batch and sign-ins queued behind it wait milliseconds, not seconds.
const gcBatch = 500

// gcSteps are the sweeps, in an order that lets one call finish the job:
// access records go first, because an unexpired one keeps its family
// alive; a family's tokens go before the family, so they are counted. Each
// statement deletes at most ?2 rows chosen through an expires_at index
// (login_failures: its at index); ?1 is now in Unix milliseconds.
var gcSteps = []struct{ what, sql string }{
	{"access records", `DELETE FROM access_tokens WHERE rowid IN
		(SELECT rowid FROM access_tokens WHERE expires_at <= ?1 LIMIT ?2)`},
	{"expired refresh tokens", `DELETE FROM refresh_tokens WHERE rowid IN
		(SELECT rowid FROM refresh_tokens WHERE expires_at <= ?1 LIMIT ?2)`},
	{"refresh tokens of expired families", `DELETE FROM refresh_tokens WHERE rowid IN
		(SELECT rowid FROM refresh_tokens WHERE family_id IN
			(SELECT id FROM refresh_families WHERE expires_at <= ?1) LIMIT ?2)`},
	{"refresh families", `DELETE FROM refresh_families WHERE rowid IN
		(SELECT f.rowid FROM refresh_families f WHERE f.expires_at <= ?1
			AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family_id = f.id AND a.expires_at > ?1)
			LIMIT ?2)`},
	{"authorization codes", `DELETE FROM auth_codes WHERE rowid IN
		(SELECT rowid FROM auth_codes WHERE expires_at <= ?1 LIMIT ?2)`},
	{"sessions", `DELETE FROM sessions WHERE rowid IN
		(SELECT rowid FROM sessions WHERE expires_at <= ?1 LIMIT ?2)`},
	// A failure stops mattering LoginFailureRetention after it was noted.
	{"login failures", `DELETE FROM login_failures WHERE rowid IN
		(SELECT rowid FROM login_failures WHERE at <= ?1 - ` +
		strconv.FormatInt(store.LoginFailureRetention.Milliseconds(), 10) + ` LIMIT ?2)`},
}

// DeleteExpired removes expired runtime state in bounded batches.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	if now.IsZero() {
		return 0, fmt.Errorf("sqlite: delete expired: now is the zero time")
	}
	cutoff := now.UnixMilli()
	var total int64
	for _, step := range gcSteps {
		for {
			if err := ctx.Err(); err != nil {
				return total, fmt.Errorf("sqlite: delete expired %s: %w", step.what, err)
			}
			res, err := s.db.ExecContext(ctx, step.sql, cutoff, gcBatch)
			if err != nil {
				return total, fmt.Errorf("sqlite: delete expired %s: %w", step.what, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, fmt.Errorf("sqlite: delete expired %s: %w", step.what, err)
			}
			total += n
			if n < gcBatch {
				break
			}
		}
	}
	return total, nil
}
