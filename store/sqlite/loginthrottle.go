package sqlite

import (
	"context"
	"fmt"
	"time"
)

// Failed sign-ins (store.LoginThrottleStore), in login_failures (migration
// 4), one row per failure.

// loginFailuresQuery counts a key's failures since a time: a range of the
// (key, at) index, never a table scan.
const loginFailuresQuery = `SELECT COUNT(*) FROM login_failures WHERE key = ? AND at >= ?`

// NoteLoginFailure records one failure of key at at.
func (s *sqlStore) NoteLoginFailure(ctx context.Context, key string, at time.Time) error {
	const op = "note login failure"
	return s.withTx(ctx, op, func(tx querier) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (key, at) VALUES (?, ?)`,
			key, at.UnixMilli()); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		return nil
	})
}

// LoginFailures counts key's failures noted at or after since.
func (s *sqlStore) LoginFailures(ctx context.Context, key string, since time.Time) (int, error) {
	const op = "login failures"
	var n int
	if err := s.queryRow(ctx, loginFailuresQuery, key, since.UnixMilli()).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return n, nil
}

// ClearLoginFailures forgets every failure of key.
func (s *sqlStore) ClearLoginFailures(ctx context.Context, key string) error {
	const op = "clear login failures"
	return s.withTx(ctx, op, func(tx querier) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE key = ?`, key); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		return nil
	})
}
