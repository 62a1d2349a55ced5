package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse/store"
)

// Helpers shared by the runtime-state aggregates (migration 2).

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// withTx runs fn in one write transaction (BEGIN IMMEDIATE: see dsn) and
// commits it when fn returns nil; otherwise it rolls back and returns fn's
// error unchanged, so sentinels stay matchable with errors.Is.
func (s *sqlStore) withTx(ctx context.Context, op string, fn func(tx querier) error) (err error) {
	tx, release, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer release()
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := fn(s.cached(tx)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", op, err)
	}
	return nil
}

// isUnique reports whether err is a PRIMARY KEY or UNIQUE violation: an
// insert whose key is already taken, which the contract calls ErrConflict.
func isUnique(err error) bool {
	var se *sqlitedrv.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// insertErr wraps an insert's error for op, turning a taken key into
// ErrConflict; what names the row ("refresh token", "jti %q", …).
func insertErr(op, what string, err error) error {
	if isUnique(err) {
		return fmt.Errorf("sqlite: %s: %s already exists: %w", op, what, store.ErrConflict)
	}
	return fmt.Errorf("sqlite: %s: %s: %w", op, what, err)
}

// encodeList stores a list as a JSON array. nil and empty both become
// "[]", so the column is never NULL and reads back the same either way.
func encodeList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, err := json.Marshal(l)
	if err != nil {
		// Marshalling []string cannot fail (invalid UTF-8 is replaced,
		// not refused).
		panic(err)
	}
	return string(b)
}

// decodeList reads a list written by encodeList ("[]" as an empty list:
// the wrapper makes it nil).
func decodeList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decoding list %q: %w", s, err)
	}
	return l, nil
}

// notFound turns sql.ErrNoRows into store.ErrNotFound and wraps anything
// else for op.
func notFound(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// nullString stores "" as NULL, for columns where NULL means "none".
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// backendName prefixes the errors of refused arguments (backend.Check).
const backendName = "sqlite"
