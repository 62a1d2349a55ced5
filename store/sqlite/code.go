package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
)

// Authorization codes (store.CodeStore).

const codeColumns = `hash, client_id, redirect_uri, code_challenge, code_challenge_method,
	nonce, subject, scopes, audience, auth_time, session_id, created_at, expires_at,
	used_at, issued_family_id, issued_access_jti, issued_access_exp, id_token_claims, amr, dpop_jkt`

func scanCode(row scanner) (store.AuthCode, error) {
	var (
		c                                store.AuthCode
		scopes, aud, claims, amr         string
		authTime, created, expires, used sql.NullInt64
		issuedExp                        sql.NullInt64
	)
	if err := row.Scan(&c.Hash, &c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.CodeChallengeMethod,
		&c.Nonce, &c.Subject, &scopes, &aud, &authTime, &c.SessionID, &created, &expires,
		&used, &c.Issued.FamilyID, &c.Issued.AccessJTI, &issuedExp, &claims, &amr, &c.DPoPJKT); err != nil {
		return store.AuthCode{}, err
	}
	var err error
	if c.Scopes, err = decodeList(scopes); err != nil {
		return store.AuthCode{}, err
	}
	if c.Audience, err = decodeList(aud); err != nil {
		return store.AuthCode{}, err
	}
	if c.IDTokenClaims, err = decodeList(claims); err != nil {
		return store.AuthCode{}, err
	}
	if c.AMR, err = decodeList(amr); err != nil {
		return store.AuthCode{}, err
	}
	c.AuthTime = fromMillis(authTime)
	c.CreatedAt = fromMillis(created)
	c.ExpiresAt = fromMillis(expires)
	c.UsedAt = fromMillis(used)
	c.Issued.AccessExpiresAt = fromMillis(issuedExp)
	return c, nil
}

// CreateCode stores a new, unused authorization code.
func (s *sqlStore) CreateCode(ctx context.Context, c store.AuthCode) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO auth_codes (hash, client_id, redirect_uri,
		code_challenge, code_challenge_method, nonce, subject, scopes, audience, auth_time,
		session_id, created_at, expires_at, id_token_claims, amr, dpop_jkt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Hash, c.ClientID, c.RedirectURI, c.CodeChallenge, c.CodeChallengeMethod, c.Nonce,
		c.Subject, encodeList(c.Scopes), encodeList(c.Audience), toMillis(c.AuthTime),
		c.SessionID, toMillis(c.CreatedAt), toMillis(c.ExpiresAt), encodeList(c.IDTokenClaims), encodeList(c.AMR), c.DPoPJKT)
	if err != nil {
		return insertErr("create code", "code", err)
	}
	return nil
}

// GetCode returns the code whatever its state.
func (s *sqlStore) GetCode(ctx context.Context, hash string) (store.AuthCode, error) {
	c, err := scanCode(s.queryRow(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = ?`, hash))
	if err != nil {
		return store.AuthCode{}, notFound("get code", err)
	}
	return c, nil
}

// RedeemCode marks the code used and records, and creates, what it issued.
func (s *sqlStore) RedeemCode(ctx context.Context, r backend.Redemption) (store.AuthCode, error) {
	const op = "redeem code"
	var code store.AuthCode
	err := s.withTx(ctx, op, func(tx querier) error {
		// The write lock is held from BEGIN IMMEDIATE, so no concurrent
		// redemption can change the code between this read and the update.
		var err error
		code, err = scanCode(tx.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = ?`, r.Hash))
		if err != nil {
			return notFound(op, err)
		}
		if err := r.Decide(code); err != nil {
			return err
		}
		if fam := r.Issued.Family; fam != nil {
			if err := insertFamily(ctx, tx, op, *fam, *r.Issued.Refresh); err != nil {
				return err
			}
		}
		if err := insertAccess(ctx, tx, op, r.Access()); err != nil {
			return err
		}
		// used_at IS NULL again, although the write lock already excludes a
		// concurrent redemption: it keeps the update safe on its own.
		res, err := tx.ExecContext(ctx, `UPDATE auth_codes SET used_at = ?, issued_family_id = ?,
			issued_access_jti = ?, issued_access_exp = ? WHERE hash = ? AND used_at IS NULL`,
			toMillis(r.Now), r.Issued.FamilyID, r.Issued.AccessJTI, toMillis(r.Issued.AccessExpiresAt), r.Hash)
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		} else if n != 1 {
			return fmt.Errorf("sqlite: %s: code changed under the write lock (%d rows updated)", op, n)
		}
		return nil
	})
	return code, err
}
