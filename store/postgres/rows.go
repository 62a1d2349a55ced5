package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse/store"
)

// Helpers shared by the aggregates.

// SQLSTATE codes the store acts on.
const (
	uniqueViolation      = "23505"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// txAttempts bounds how often inTx runs a transaction that PostgreSQL
// aborted to break a deadlock. Rows are always locked in the same order
// (token, then family), so a deadlock needs an unusual interleaving, with
// DeleteExpired's cascade for instance; a retry then succeeds.
const txAttempts = 3

// inTx runs fn in one transaction. fn says whether to commit: it commits
// on success, and also when the error it returns must stand together with
// a committed change (RotateRefresh's ErrReused). Otherwise the
// transaction is rolled back and fn's error returned unchanged, so
// sentinels stay matchable with errors.Is. A transaction the server
// aborted as a deadlock victim or serialisation failure changed nothing,
// so it is run again.
func (s *sqlStore) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) (commit bool, err error)) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, op, fn)
		if attempt < txAttempts && ctx.Err() == nil {
			if c := sqlState(err); c == deadlockDetected || c == serializationFailure {
				continue
			}
		}
		return err
	}
}

func (s *sqlStore) tryTx(ctx context.Context, op string, fn func(tx pgx.Tx) (bool, error)) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %s: begin: %w", op, err)
	}
	commit, ferr := fn(tx)
	if !commit {
		// If ctx has ended, pgx closes the connection instead, which
		// ends the transaction on the server just the same.
		_ = tx.Rollback(ctx)
		return ferr
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: %s: commit: %w", op, err)
	}
	return ferr
}

// execBatch sends b in one round trip and reads its results in order,
// returning each statement's command tag. On the first failure it returns
// wrap(i, err) for the i-th queued statement; the server skips the rest,
// and the caller rolls back.
func execBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch, wrap func(i int, err error) error) ([]pgconn.CommandTag, error) {
	br := tx.SendBatch(ctx, b)
	tags := make([]pgconn.CommandTag, 0, b.Len())
	for i := range b.Len() {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return nil, wrap(i, err)
		}
		tags = append(tags, tag)
	}
	if err := br.Close(); err != nil {
		return nil, wrap(b.Len()-1, err)
	}
	return tags, nil
}

// sqlState is err's SQLSTATE, or "" when err is not a server error.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// insertErr wraps an insert's error for op, turning a taken key (a unique
// violation) into ErrConflict; what names the row ("refresh token",
// "access token jti %q", …).
func insertErr(op, what string, err error) error {
	if sqlState(err) == uniqueViolation {
		return fmt.Errorf("postgres: %s: %s already exists: %w", op, what, store.ErrConflict)
	}
	return fmt.Errorf("postgres: %s: %s: %w", op, what, err)
}

// notFound turns pgx.ErrNoRows into store.ErrNotFound and wraps anything
// else for op.
func notFound(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// ts converts t for a timestamptz column, the zero time as NULL. t
// arrives truncated to the millisecond (backend.Checked does that, so a
// stored time is the same on every backend).
func ts(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// fromTS reads a timestamptz column (in the local zone, as pgx returns
// it: the wrapper returns it in UTC).
func fromTS(v pgtype.Timestamptz) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return v.Time
}

// list makes a nil list an empty array: pgx would send nil as NULL, which
// the NOT NULL columns refuse.
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// nullString stores "" as NULL, for columns where NULL means "none".
func nullString(s string) pgtype.Text {
	return pgtype.Text{String: s, Valid: s != ""}
}

// backendName prefixes the errors of refused arguments (backend.Check).
const backendName = "postgres"
