package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Access records and revocations (store.RevocationStore). Both live in
// access_tokens, so AccessRevoked is one primary-key lookup plus one join
// on the family's primary key.

// RecordAccess stores an access record.
func (s *sqlStore) RecordAccess(ctx context.Context, a store.AccessRecord) error {
	const op = "record access token"
	return s.withTx(ctx, op, func(tx querier) error {
		return insertAccess(ctx, tx, op, a)
	})
}

// insertAccess inserts an access record; a jti already present, recorded
// or revoked, is a conflict.
func insertAccess(ctx context.Context, tx querier, op string, a store.AccessRecord) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO access_tokens (jti, family_id, expires_at) VALUES (?, ?, ?)`,
		a.JTI, nullString(a.FamilyID), toMillis(a.ExpiresAt)); err != nil {
		return insertErr(op, fmt.Sprintf("access token jti %q", a.JTI), err)
	}
	return nil
}

// RevokeAccess revokes one access token by jti; idempotent.
func (s *sqlStore) RevokeAccess(ctx context.Context, jti string, expiresAt time.Time) error {
	const op = "revoke access token"
	// The upsert keeps a recorded family and the later expiry, so a
	// revocation never shortens how long a record is kept.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO access_tokens (jti, family_id, expires_at, revoked)
		VALUES (?, NULL, ?, 1)
		ON CONFLICT (jti) DO UPDATE SET revoked = 1, expires_at = max(expires_at, excluded.expires_at)`,
		jti, toMillis(expiresAt)); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return nil
}

// accessRevokedQuery is AccessRevoked's lookup: the jti's primary key, then
// the family's. Rows past their expiry are ignored, as the contract says.
const accessRevokedQuery = `SELECT a.revoked = 1 OR f.revoked_at IS NOT NULL
	FROM access_tokens a LEFT JOIN refresh_families f ON f.id = a.family_id
	WHERE a.jti = ? AND a.expires_at > ?`

// AccessRevoked reports whether jti, or its recorded family, is revoked.
func (s *sqlStore) AccessRevoked(ctx context.Context, jti string, now time.Time) (bool, error) {
	var revoked bool
	err := s.queryRow(ctx, accessRevokedQuery, jti, now.UnixMilli()).Scan(&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: access revoked: %w", err)
	}
	return revoked, nil
}
