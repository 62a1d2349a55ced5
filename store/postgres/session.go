package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse/store"
)

// Browser sessions (store.SessionStore) and consents (store.ConsentStore).
// Every method is one statement, so one transaction.

// CreateSession stores a new session.
func (s *sqlStore) CreateSession(ctx context.Context, sess store.Session) error {
	const op = "create session"
	if _, err := s.pool.Exec(ctx, `INSERT INTO sessions (id, subject, auth_time, created_at, expires_at, amr)
		VALUES ($1, $2, $3, $4, $5, $6)`, sess.ID, sess.Subject, ts(sess.AuthTime), ts(sess.CreatedAt),
		ts(sess.ExpiresAt), list(sess.AMR)); err != nil {
		return insertErr(op, "session", err)
	}
	return nil
}

// GetSession returns a session whatever its expiry.
func (s *sqlStore) GetSession(ctx context.Context, id string) (store.Session, error) {
	return s.getSession(ctx, "get session", `WHERE id = $1`, id)
}

// SessionBySID returns the session whose ID starts with sid.
func (s *sqlStore) SessionBySID(ctx context.Context, sid string) (store.Session, error) {
	// The expression matches migration 5's index.
	return s.getSession(ctx, "session by sid", `WHERE substr(id, 1, 32) = $1`, sid)
}

func (s *sqlStore) getSession(ctx context.Context, op, where, arg string) (store.Session, error) {
	var (
		sess                   store.Session
		auth, created, expires pgtype.Timestamptz
	)
	err := s.pool.QueryRow(ctx, `SELECT id, subject, auth_time, created_at, expires_at, amr
		FROM sessions `+where, arg).Scan(&sess.ID, &sess.Subject, &auth, &created, &expires, &sess.AMR)
	if err != nil {
		return store.Session{}, notFound(op, err)
	}
	sess.AuthTime, sess.CreatedAt, sess.ExpiresAt = fromTS(auth), fromTS(created), fromTS(expires)
	return sess, nil
}

// DeleteSession removes a session; absent is not an error.
func (s *sqlStore) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return nil
}

// PutConsent stores or replaces a consent.
func (s *sqlStore) PutConsent(ctx context.Context, c store.Consent) error {
	const op = "put consent"
	// ON CONFLICT makes the replace atomic against a concurrent first put.
	if _, err := s.pool.Exec(ctx, `INSERT INTO consents (subject, client_id, scopes, audience, granted_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (subject, client_id) DO UPDATE SET scopes = EXCLUDED.scopes,
			audience = EXCLUDED.audience, granted_at = EXCLUDED.granted_at`,
		c.Subject, c.ClientID, list(c.Scopes), list(c.Audience), ts(c.GrantedAt)); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return nil
}

// GetConsent returns a consent.
func (s *sqlStore) GetConsent(ctx context.Context, subject, clientID string) (store.Consent, error) {
	var (
		c       store.Consent
		granted pgtype.Timestamptz
	)
	err := s.pool.QueryRow(ctx, `SELECT subject, client_id, scopes, audience, granted_at
		FROM consents WHERE subject = $1 AND client_id = $2`, subject, clientID).
		Scan(&c.Subject, &c.ClientID, &c.Scopes, &c.Audience, &granted)
	if err != nil {
		return store.Consent{}, notFound("get consent", err)
	}
	c.GrantedAt = fromTS(granted)
	return c, nil
}

// DeleteConsent removes a consent; absent is not an error.
func (s *sqlStore) DeleteConsent(ctx context.Context, subject, clientID string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM consents WHERE subject = $1 AND client_id = $2`, subject, clientID); err != nil {
		return fmt.Errorf("postgres: delete consent: %w", err)
	}
	return nil
}
