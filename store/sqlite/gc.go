package sqlite

import (
	"context"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
)

// sweeps are DeleteExpired's statements, one per backend.Sweep (which
// says what each removes and in what order). Each deletes at most ?2 rows
// chosen through an expires_at index (login_failures: its at index); ?1
// is now in Unix milliseconds. Each statement is its own transaction, so
// the write lock is held for one batch only.
var sweeps = [backend.Sweeps]string{
	backend.SweepAccess: `DELETE FROM access_tokens WHERE rowid IN
		(SELECT rowid FROM access_tokens WHERE expires_at <= ?1 LIMIT ?2)`,
	backend.SweepTokens: `DELETE FROM refresh_tokens WHERE rowid IN
		(SELECT rowid FROM refresh_tokens WHERE expires_at <= ?1 LIMIT ?2)`,
	backend.SweepFamilyTokens: `DELETE FROM refresh_tokens WHERE rowid IN
		(SELECT rowid FROM refresh_tokens WHERE family_id IN
			(SELECT id FROM refresh_families WHERE expires_at <= ?1) LIMIT ?2)`,
	backend.SweepFamilies: `DELETE FROM refresh_families WHERE rowid IN
		(SELECT f.rowid FROM refresh_families f WHERE f.expires_at <= ?1
			AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family_id = f.id AND a.expires_at > ?1)
			LIMIT ?2)`,
	backend.SweepCodes: `DELETE FROM auth_codes WHERE rowid IN
		(SELECT rowid FROM auth_codes WHERE expires_at <= ?1 LIMIT ?2)`,
	backend.SweepSessions: `DELETE FROM sessions WHERE rowid IN
		(SELECT rowid FROM sessions WHERE expires_at <= ?1 LIMIT ?2)`,
	// A failure stops mattering LoginFailureRetention after it was noted.
	backend.SweepLoginFailures: `DELETE FROM login_failures WHERE rowid IN
		(SELECT rowid FROM login_failures WHERE at <= ?1 - ` +
		strconv.FormatInt(store.LoginFailureRetention.Milliseconds(), 10) + ` LIMIT ?2)`,
	backend.SweepOnce: `DELETE FROM once WHERE rowid IN
		(SELECT rowid FROM once WHERE expires_at <= ?1 LIMIT ?2)`,
	backend.SweepRegisteredClients: `DELETE FROM registered_clients WHERE rowid IN
		(SELECT rowid FROM registered_clients WHERE expires_at <= ?1 LIMIT ?2)`,
}

// Sweep deletes at most limit rows of one sweep.
func (s *sqlStore) Sweep(ctx context.Context, sw backend.Sweep, now time.Time, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, sweeps[sw], now.UnixMilli(), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
