package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
)

// Authorization codes (store.CodeStore).

const codeColumns = `hash, client_id, redirect_uri, code_challenge, code_challenge_method,
	nonce, subject, scopes, audience, auth_time, session_id, created_at, expires_at,
	used_at, issued_family_id, issued_access_jti, issued_access_exp, id_token_claims, amr, dpop_jkt`

func scanCode(row pgx.Row) (store.AuthCode, error) {
	var (
		c                                store.AuthCode
		authTime, created, expires, used pgtype.Timestamptz
		issuedExp                        pgtype.Timestamptz
	)
	if err := row.Scan(&c.Hash, &c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.CodeChallengeMethod,
		&c.Nonce, &c.Subject, &c.Scopes, &c.Audience, &authTime, &c.SessionID, &created, &expires,
		&used, &c.Issued.FamilyID, &c.Issued.AccessJTI, &issuedExp, &c.IDTokenClaims, &c.AMR, &c.DPoPJKT); err != nil {
		return store.AuthCode{}, err
	}
	c.AuthTime = fromTS(authTime)
	c.CreatedAt = fromTS(created)
	c.ExpiresAt = fromTS(expires)
	c.UsedAt = fromTS(used)
	c.Issued.AccessExpiresAt = fromTS(issuedExp)
	return c, nil
}

// CreateCode stores a new, unused authorization code.
func (s *sqlStore) CreateCode(ctx context.Context, c store.AuthCode) error {
	// One statement is one transaction.
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_codes (hash, client_id, redirect_uri,
		code_challenge, code_challenge_method, nonce, subject, scopes, audience, auth_time,
		session_id, created_at, expires_at, id_token_claims, amr, dpop_jkt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.Hash, c.ClientID, c.RedirectURI, c.CodeChallenge, c.CodeChallengeMethod, c.Nonce,
		c.Subject, list(c.Scopes), list(c.Audience), ts(c.AuthTime),
		c.SessionID, ts(c.CreatedAt), ts(c.ExpiresAt), list(c.IDTokenClaims), list(c.AMR), c.DPoPJKT)
	if err != nil {
		return insertErr("create code", "code", err)
	}
	return nil
}

// GetCode returns the code whatever its state.
func (s *sqlStore) GetCode(ctx context.Context, hash string) (store.AuthCode, error) {
	c, err := scanCode(s.pool.QueryRow(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1`, hash))
	if err != nil {
		return store.AuthCode{}, notFound("get code", err)
	}
	return c, nil
}

// RedeemCode marks the code used and records, and creates, what it issued.
func (s *sqlStore) RedeemCode(ctx context.Context, r backend.Redemption) (store.AuthCode, error) {
	const op = "redeem code"
	var code store.AuthCode
	err := s.inTx(ctx, op, func(tx pgx.Tx) (bool, error) {
		// FOR NO KEY UPDATE holds the code's row until the transaction
		// ends: a concurrent redemption, on this instance or another,
		// waits here and then reads the committed winner, used_at set.
		var err error
		code, err = scanCode(tx.QueryRow(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1 FOR NO KEY UPDATE`, r.Hash))
		if err != nil {
			return false, notFound(op, err)
		}
		if err := r.Decide(code); err != nil {
			return false, err
		}
		// Everything else in one round trip. A taken family ID, refresh
		// hash or jti fails its insert, and the rollback leaves the code
		// unused.
		b := &pgx.Batch{}
		var what []string
		if fam := r.Issued.Family; fam != nil {
			queueFamily(b, *fam, *r.Issued.Refresh)
			what = append(what, fmt.Sprintf("refresh family %q", fam.ID), "refresh token")
		}
		queueAccess(b, r.Access())
		what = append(what, fmt.Sprintf("access token jti %q", r.Issued.AccessJTI))
		// used_at IS NULL again, although the row lock already excludes a
		// concurrent redemption: it keeps the update safe on its own.
		b.Queue(`UPDATE auth_codes SET used_at = $1, issued_family_id = $2,
			issued_access_jti = $3, issued_access_exp = $4 WHERE hash = $5 AND used_at IS NULL`,
			ts(r.Now), r.Issued.FamilyID, r.Issued.AccessJTI, ts(r.Issued.AccessExpiresAt), r.Hash)
		what = append(what, "code")
		tags, err := execBatch(ctx, tx, b, func(i int, err error) error {
			return insertErr(op, what[i], err)
		})
		if err != nil {
			return false, err
		}
		if n := tags[len(tags)-1].RowsAffected(); n != 1 {
			return false, fmt.Errorf("postgres: %s: code changed under the row lock (%d rows updated)", op, n)
		}
		return true, nil
	})
	return code, err
}
