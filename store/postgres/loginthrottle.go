package postgres

import (
	"context"
	"fmt"
	"time"
)

// Failed sign-ins (store.LoginThrottleStore), in login_failures (migration
// 4), one row per failure. Each method is one statement, so one
// transaction; concurrent notes are plain inserts and never conflict.

// loginFailuresQuery counts a key's failures since a time: a range of the
// (key, at) index, never a table scan.
const loginFailuresQuery = `SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at >= $2`

// NoteLoginFailure records one failure of key at at.
func (s *sqlStore) NoteLoginFailure(ctx context.Context, key string, at time.Time) error {
	const op = "note login failure"
	if _, err := s.pool.Exec(ctx, `INSERT INTO login_failures (key, at) VALUES ($1, $2)`, key, ts(at)); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return nil
}

// LoginFailures counts key's failures noted at or after since.
func (s *sqlStore) LoginFailures(ctx context.Context, key string, since time.Time) (int, error) {
	const op = "login failures"
	var n int
	if err := s.pool.QueryRow(ctx, loginFailuresQuery, key, ts(since)).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", op, err)
	}
	return n, nil
}

// ClearLoginFailures forgets every failure of key.
func (s *sqlStore) ClearLoginFailures(ctx context.Context, key string) error {
	const op = "clear login failures"
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_failures WHERE key = $1`, key); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return nil
}
