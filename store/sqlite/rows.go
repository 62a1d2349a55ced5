package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
)

// Helpers shared by the runtime-state aggregates (migration 2).

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// withTx runs fn in one write transaction (BEGIN IMMEDIATE: see dsn) and
// commits it when fn returns nil; otherwise it rolls back and returns fn's
// error unchanged, so sentinels stay matchable with errors.Is.
func (s *Store) withTx(ctx context.Context, op string, fn func(tx querier) error) (err error) {
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

// decodeList reads a list written by encodeList; empty reads back as nil,
// as the store contract says.
func decodeList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decoding list %q: %w", s, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// stored is t as it reads back from the database (UTC, whole
// milliseconds), so a value a method returns equals what a later Get
// returns.
func stored(t time.Time) time.Time {
	return fromMillis(toMillis(t))
}

// nullString stores "" as NULL, for columns where NULL means "none".
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// required: see backend.Required; backendName prefixes its errors.
type required = backend.Required

const backendName = "sqlite"
