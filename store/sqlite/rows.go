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

// required checks the arguments the contract calls required, so a caller's
// mistake is an error that names the field rather than a constraint
// failure (or, for times, a row that never expires).
type required struct {
	op   string
	errs []string
}

func (r *required) str(name, v string) {
	if v == "" {
		r.errs = append(r.errs, name+" is empty")
	}
}

func (r *required) time(name string, v time.Time) {
	if v.IsZero() {
		r.errs = append(r.errs, name+" is the zero time")
	}
}

func (r *required) check(ok bool, msg string) {
	if !ok {
		r.errs = append(r.errs, msg)
	}
}

func (r *required) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	msg := r.errs[0]
	for _, e := range r.errs[1:] {
		msg += "; " + e
	}
	return fmt.Errorf("sqlite: %s: %s", r.op, msg)
}

// fillFamilyID applies the contract's rule for FamilyID fields the store
// can infer: empty is filled in, anything else must agree.
func fillFamilyID(r *required, name string, field *string, familyID string) {
	switch *field {
	case "":
		*field = familyID
	case familyID:
	default:
		r.errs = append(r.errs, fmt.Sprintf("%s is %q, want %q (or empty)", name, *field, familyID))
	}
}
