package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
)

// Refresh families and tokens (store.RefreshStore).

const (
	familyColumns = `f.id, f.client_id, f.subject, f.scopes, f.audience, f.session_id,
		f.auth_time, f.created_at, f.expires_at, f.revoked_at, f.amr, f.dpop_jkt`
	tokenColumns = `t.hash, t.family_id, t.created_at, t.expires_at, t.rotated_at`
	// tokenFamilyQuery reads a token and its family; $1 is the hash.
	tokenFamilyQuery = `SELECT ` + tokenColumns + `, ` + familyColumns + `
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = $1`
)

// scanTokenFamily reads tokenColumns followed by familyColumns.
func scanTokenFamily(row pgx.Row) (store.RefreshToken, store.RefreshFamily, error) {
	var (
		t                                   store.RefreshToken
		f                                   store.RefreshFamily
		tCreated, tExpires, tRotated        pgtype.Timestamptz
		fAuth, fCreated, fExpires, fRevoked pgtype.Timestamptz
	)
	if err := row.Scan(&t.Hash, &t.FamilyID, &tCreated, &tExpires, &tRotated,
		&f.ID, &f.ClientID, &f.Subject, &f.Scopes, &f.Audience, &f.SessionID,
		&fAuth, &fCreated, &fExpires, &fRevoked, &f.AMR, &f.DPoPJKT); err != nil {
		return store.RefreshToken{}, store.RefreshFamily{}, err
	}
	t.CreatedAt, t.ExpiresAt, t.RotatedAt = fromTS(tCreated), fromTS(tExpires), fromTS(tRotated)
	f.AuthTime, f.CreatedAt = fromTS(fAuth), fromTS(fCreated)
	f.ExpiresAt, f.RevokedAt = fromTS(fExpires), fromTS(fRevoked)
	return t, f, nil
}

// queueFamily queues the inserts of a checked family and its first token:
// two statements.
func queueFamily(b *pgx.Batch, f store.RefreshFamily, first store.RefreshToken) {
	b.Queue(`INSERT INTO refresh_families (id, client_id, subject, scopes,
		audience, session_id, auth_time, created_at, expires_at, revoked_at, amr, dpop_jkt)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		f.ID, f.ClientID, f.Subject, list(f.Scopes), list(f.Audience), f.SessionID,
		ts(f.AuthTime), ts(f.CreatedAt), ts(f.ExpiresAt), ts(f.RevokedAt), list(f.AMR), f.DPoPJKT)
	queueToken(b, first)
}

// queueToken queues the insert of a refresh token: one statement.
func queueToken(b *pgx.Batch, t store.RefreshToken) {
	b.Queue(`INSERT INTO refresh_tokens (hash, family_id, created_at, expires_at, rotated_at)
		VALUES ($1, $2, $3, $4, $5)`,
		t.Hash, t.FamilyID, ts(t.CreatedAt), ts(t.ExpiresAt), ts(t.RotatedAt))
}

// CreateFamily stores a new family with its first token.
func (s *sqlStore) CreateFamily(ctx context.Context, f store.RefreshFamily, first store.RefreshToken) error {
	const op = "create refresh family"
	what := []string{fmt.Sprintf("refresh family %q", f.ID), "refresh token"}
	return s.inTx(ctx, op, func(tx pgx.Tx) (bool, error) {
		b := &pgx.Batch{}
		queueFamily(b, f, first)
		if _, err := execBatch(ctx, tx, b, func(i int, err error) error {
			return insertErr(op, what[i], err)
		}); err != nil {
			return false, err
		}
		return true, nil
	})
}

// GetRefresh returns a refresh token and its family whatever their state.
func (s *sqlStore) GetRefresh(ctx context.Context, hash string) (store.RefreshToken, store.RefreshFamily, error) {
	t, f, err := scanTokenFamily(s.pool.QueryRow(ctx, tokenFamilyQuery, hash))
	if err != nil {
		return store.RefreshToken{}, store.RefreshFamily{}, notFound("get refresh token", err)
	}
	return t, f, nil
}

// RotateRefresh exchanges the token r.OldHash for r.Next, detecting reuse.
func (s *sqlStore) RotateRefresh(ctx context.Context, r backend.Rotation) (store.RefreshFamily, error) {
	const op = "rotate refresh token"
	var fam store.RefreshFamily
	err := s.inTx(ctx, op, func(tx pgx.Tx) (bool, error) {
		// FOR NO KEY UPDATE locks the token and its family until the
		// transaction ends, token first (every path that locks both does
		// so in this order). A concurrent rotation of the token, or a
		// revocation of the family, waits here and then reads the
		// committed result: of two rotations of one token the second sees
		// it rotated, which is reuse. NO KEY rather than plain UPDATE:
		// only non-key columns change, and it does not block the foreign
		// key check of a token inserted into the family.
		var (
			old store.RefreshToken
			err error
		)
		old, fam, err = scanTokenFamily(tx.QueryRow(ctx, tokenFamilyQuery+` FOR NO KEY UPDATE`, r.OldHash))
		if err != nil {
			return false, notFound(op, err)
		}
		next, access, err := r.Decide(old, fam)
		if errors.Is(err, store.ErrReused) {
			// Revoke the family and commit that, although the call fails
			// (RFC 9700); inTx commits because we say so.
			if _, err := tx.Exec(ctx, `UPDATE refresh_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
				ts(r.Now), fam.ID); err != nil {
				return false, fmt.Errorf("postgres: %s: revoking family on reuse: %w", op, err)
			}
			fam.RevokedAt = r.Now
			return true, store.ErrReused
		}
		if err != nil {
			return false, err
		}
		// The rest in one round trip; a taken next hash or jti fails its
		// insert and the rollback leaves the old token unrotated.
		b := &pgx.Batch{}
		b.Queue(`UPDATE refresh_tokens SET rotated_at = $1 WHERE hash = $2 AND rotated_at IS NULL`, ts(r.Now), r.OldHash)
		queueToken(b, next)
		queueAccess(b, access)
		what := []string{"old token", "refresh token", fmt.Sprintf("access token jti %q", access.JTI)}
		tags, err := execBatch(ctx, tx, b, func(i int, err error) error {
			return insertErr(op, what[i], err)
		})
		if err != nil {
			return false, err
		}
		if n := tags[0].RowsAffected(); n != 1 {
			return false, fmt.Errorf("postgres: %s: token changed under the row lock (%d rows updated)", op, n)
		}
		return true, nil
	})
	return fam, err
}

// RevokeFamily revokes a family, keeping an earlier revocation time.
func (s *sqlStore) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	const op = "revoke refresh family"
	// One statement, so one transaction: COALESCE keeps the first
	// revocation time, and the row count tells absent from revoked.
	tag, err := s.pool.Exec(ctx, `UPDATE refresh_families SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`,
		ts(now), familyID)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// RevokeFamiliesBySession revokes every live family of a session.
func (s *sqlStore) RevokeFamiliesBySession(ctx context.Context, sessionID string, now time.Time) (int, error) {
	const op = "revoke refresh families by session"
	// One statement is one transaction; it uses the partial index of live
	// families by session.
	tag, err := s.pool.Exec(ctx, `UPDATE refresh_families SET revoked_at = $1 WHERE session_id = $2 AND revoked_at IS NULL`,
		ts(now), sessionID)
	if err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", op, err)
	}
	return int(tag.RowsAffected()), nil
}
