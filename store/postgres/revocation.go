package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// Access records and revocations (store.RevocationStore). Both live in
// access_tokens, so AccessRevoked is one primary-key lookup plus at most
// one more on the family's primary key.

// RecordAccess stores an access record.
func (s *sqlStore) RecordAccess(ctx context.Context, a store.AccessRecord) error {
	const op = "record access token"
	// One statement is one transaction.
	if _, err := s.pool.Exec(ctx, insertAccessSQL, a.JTI, nullString(a.FamilyID), ts(a.ExpiresAt)); err != nil {
		return insertErr(op, fmt.Sprintf("access token jti %q", a.JTI), err)
	}
	return nil
}

// insertAccessSQL inserts an access record; a jti already present,
// recorded or revoked, is a unique violation, so a conflict.
const insertAccessSQL = `INSERT INTO access_tokens (jti, family_id, expires_at) VALUES ($1, $2, $3)`

// queueAccess queues the insert of a checked access record: one statement.
func queueAccess(b *pgx.Batch, a store.AccessRecord) {
	b.Queue(insertAccessSQL, a.JTI, nullString(a.FamilyID), ts(a.ExpiresAt))
}

// RevokeAccess revokes one access token by jti; idempotent.
func (s *sqlStore) RevokeAccess(ctx context.Context, jti string, expiresAt time.Time) error {
	const op = "revoke access token"
	// The upsert keeps a recorded family and the later expiry, so a
	// revocation never shortens how long a record is kept. ON CONFLICT is
	// atomic against a concurrent insert of the same jti.
	if _, err := s.pool.Exec(ctx, `INSERT INTO access_tokens (jti, family_id, expires_at, revoked)
		VALUES ($1, NULL, $2, true)
		ON CONFLICT (jti) DO UPDATE SET revoked = true,
			expires_at = GREATEST(access_tokens.expires_at, EXCLUDED.expires_at)`,
		jti, ts(expiresAt)); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return nil
}

// accessRevokedQuery is AccessRevoked's lookup: the jti's primary key,
// then, only when the token was not revoked directly, the family's. The
// family check is a sub-select in the select list, which PostgreSQL runs
// as a per-row primary-key probe, never as a join over all families. Rows
// past their expiry are ignored, as the contract says.
const accessRevokedQuery = `SELECT a.revoked OR EXISTS (SELECT 1 FROM refresh_families f
		WHERE f.id = a.family_id AND f.revoked_at IS NOT NULL)
	FROM access_tokens a
	WHERE a.jti = $1 AND a.expires_at > $2`

// AccessRevoked reports whether jti, or its recorded family, is revoked.
func (s *sqlStore) AccessRevoked(ctx context.Context, jti string, now time.Time) (bool, error) {
	var revoked bool
	// now arrives truncated like every stored time, so "expired" means the
	// same as in the Go comparisons of the other methods.
	err := s.pool.QueryRow(ctx, accessRevokedQuery, jti, ts(now)).Scan(&revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: access revoked: %w", err)
	}
	return revoked, nil
}
