package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
)

// Authorization codes (store.CodeStore).

const codeColumns = `hash, client_id, redirect_uri, code_challenge, code_challenge_method,
	nonce, subject, scopes, audience, auth_time, session_id, created_at, expires_at,
	used_at, issued_family_id, issued_access_jti, issued_access_exp, id_token_claims`

func scanCode(row scanner) (store.AuthCode, error) {
	var (
		c                                store.AuthCode
		scopes, aud, claims              string
		authTime, created, expires, used sql.NullInt64
		issuedExp                        sql.NullInt64
	)
	if err := row.Scan(&c.Hash, &c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.CodeChallengeMethod,
		&c.Nonce, &c.Subject, &scopes, &aud, &authTime, &c.SessionID, &created, &expires,
		&used, &c.Issued.FamilyID, &c.Issued.AccessJTI, &issuedExp, &claims); err != nil {
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
	c.AuthTime = fromMillis(authTime)
	c.CreatedAt = fromMillis(created)
	c.ExpiresAt = fromMillis(expires)
	c.UsedAt = fromMillis(used)
	c.Issued.AccessExpiresAt = fromMillis(issuedExp)
	return c, nil
}

// CreateCode stores a new, unused authorization code.
func (s *Store) CreateCode(ctx context.Context, c store.AuthCode) error {
	r := required{Backend: backendName, Op: "create code"}
	r.Str("Hash", c.Hash)
	r.Time("ExpiresAt", c.ExpiresAt)
	r.Check(c.UsedAt.IsZero(), "UsedAt is set on a new code")
	r.Check(c.Issued.FamilyID == "" && c.Issued.AccessJTI == "" && c.Issued.AccessExpiresAt.IsZero() &&
		c.Issued.Family == nil && c.Issued.Refresh == nil, "Issued is set on a new code")
	if err := r.Err(); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO auth_codes (hash, client_id, redirect_uri,
		code_challenge, code_challenge_method, nonce, subject, scopes, audience, auth_time,
		session_id, created_at, expires_at, id_token_claims) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Hash, c.ClientID, c.RedirectURI, c.CodeChallenge, c.CodeChallengeMethod, c.Nonce,
		c.Subject, encodeList(c.Scopes), encodeList(c.Audience), toMillis(c.AuthTime),
		c.SessionID, toMillis(c.CreatedAt), toMillis(c.ExpiresAt), encodeList(c.IDTokenClaims))
	if err != nil {
		return insertErr("create code", "code", err)
	}
	return nil
}

// GetCode returns the code whatever its state.
func (s *Store) GetCode(ctx context.Context, hash string) (store.AuthCode, error) {
	c, err := scanCode(s.queryRow(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return store.AuthCode{}, store.ErrNotFound
	}
	if err != nil {
		return store.AuthCode{}, fmt.Errorf("sqlite: get code: %w", err)
	}
	return c, nil
}

// RedeemCode marks the code used and records, and creates, what it issued.
func (s *Store) RedeemCode(ctx context.Context, hash string, issued store.Issued, now time.Time) (store.AuthCode, error) {
	const op = "redeem code"
	r := required{Backend: backendName, Op: op}
	r.Str("hash", hash)
	r.Time("now", now)
	r.Str("Issued.AccessJTI", issued.AccessJTI)
	r.Time("Issued.AccessExpiresAt", issued.AccessExpiresAt)
	var (
		fam   store.RefreshFamily
		first store.RefreshToken
	)
	switch {
	case issued.Family != nil && issued.Refresh != nil:
		fam, first = *issued.Family, *issued.Refresh
		backend.CheckFamily(&r, fam, &first)
		backend.FillFamilyID(&r, "Issued.FamilyID", &issued.FamilyID, fam.ID)
	case issued.Family != nil || issued.Refresh != nil:
		r.Check(false, "Issued.Family and Issued.Refresh must be set together")
	default:
		r.Check(issued.FamilyID == "", "Issued.FamilyID is set but Issued.Family is nil")
	}
	if err := r.Err(); err != nil {
		return store.AuthCode{}, err
	}

	var (
		code store.AuthCode
		used bool // a replay: return the stored code with ErrCodeUsed
	)
	err := s.withTx(ctx, op, func(tx querier) error {
		var err error
		code, err = scanCode(tx.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = ?`, hash))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return fmt.Errorf("sqlite: %s: %w", op, err)
		case !code.UsedAt.IsZero():
			// Checked before expiry: a replay must be reported (so what it
			// issued can be revoked) however late it comes.
			used = true
			return store.ErrCodeUsed
		case !now.Before(code.ExpiresAt):
			return store.ErrExpired
		}
		if issued.Family != nil {
			if err := insertFamily(ctx, tx, op, fam, first); err != nil {
				return err
			}
		}
		if err := insertAccess(ctx, tx, op, store.AccessRecord{
			JTI: issued.AccessJTI, FamilyID: issued.FamilyID, ExpiresAt: issued.AccessExpiresAt,
		}); err != nil {
			return err
		}
		// used_at IS NULL again, although the write lock already excludes a
		// concurrent redemption: it keeps the update safe on its own.
		res, err := tx.ExecContext(ctx, `UPDATE auth_codes SET used_at = ?, issued_family_id = ?,
			issued_access_jti = ?, issued_access_exp = ? WHERE hash = ? AND used_at IS NULL`,
			toMillis(now), issued.FamilyID, issued.AccessJTI, toMillis(issued.AccessExpiresAt), hash)
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
	if used {
		return code, err
	}
	if err != nil {
		return store.AuthCode{}, err
	}
	code.UsedAt = stored(now)
	code.Issued = store.Issued{
		FamilyID:        issued.FamilyID,
		AccessJTI:       issued.AccessJTI,
		AccessExpiresAt: stored(issued.AccessExpiresAt),
	}
	return code, nil
}
