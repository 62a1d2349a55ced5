package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gatehouse/gatehouse/store"
)

// Browser sessions (store.SessionStore) and consents (store.ConsentStore).

// CreateSession stores a new session.
func (s *sqlStore) CreateSession(ctx context.Context, sess store.Session) error {
	const op = "create session"
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id, subject, auth_time, created_at, expires_at, amr)
		VALUES (?, ?, ?, ?, ?, ?)`, sess.ID, sess.Subject, toMillis(sess.AuthTime), toMillis(sess.CreatedAt),
		toMillis(sess.ExpiresAt), encodeList(sess.AMR)); err != nil {
		return insertErr(op, "session", err)
	}
	return nil
}

// GetSession returns a session whatever its expiry.
func (s *sqlStore) GetSession(ctx context.Context, id string) (store.Session, error) {
	return s.getSession(ctx, "get session", `WHERE id = ?`, id)
}

// SessionBySID returns the session whose ID starts with sid.
func (s *sqlStore) SessionBySID(ctx context.Context, sid string) (store.Session, error) {
	// The expression matches migration 5's index.
	return s.getSession(ctx, "session by sid", `WHERE substr(id, 1, 32) = ?`, sid)
}

func (s *sqlStore) getSession(ctx context.Context, op, where, arg string) (store.Session, error) {
	var (
		sess                   store.Session
		auth, created, expires sql.NullInt64
		amr                    string
	)
	err := s.queryRow(ctx, `SELECT id, subject, auth_time, created_at, expires_at, amr
		FROM sessions `+where, arg).Scan(&sess.ID, &sess.Subject, &auth, &created, &expires, &amr)
	if err != nil {
		return store.Session{}, notFound(op, err)
	}
	if sess.AMR, err = decodeList(amr); err != nil {
		return store.Session{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	sess.AuthTime, sess.CreatedAt, sess.ExpiresAt = fromMillis(auth), fromMillis(created), fromMillis(expires)
	return sess, nil
}

// DeleteSession removes a session; absent is not an error.
func (s *sqlStore) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
	}
	return nil
}

// PutConsent stores or replaces a consent.
func (s *sqlStore) PutConsent(ctx context.Context, c store.Consent) error {
	const op = "put consent"
	if _, err := s.db.ExecContext(ctx, `INSERT INTO consents (subject, client_id, scopes, audience, granted_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (subject, client_id) DO UPDATE SET scopes = excluded.scopes,
			audience = excluded.audience, granted_at = excluded.granted_at`,
		c.Subject, c.ClientID, encodeList(c.Scopes), encodeList(c.Audience), toMillis(c.GrantedAt)); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return nil
}

// GetConsent returns a consent.
func (s *sqlStore) GetConsent(ctx context.Context, subject, clientID string) (store.Consent, error) {
	var (
		c           store.Consent
		scopes, aud string
		granted     sql.NullInt64
	)
	err := s.queryRow(ctx, `SELECT subject, client_id, scopes, audience, granted_at
		FROM consents WHERE subject = ? AND client_id = ?`, subject, clientID).
		Scan(&c.Subject, &c.ClientID, &scopes, &aud, &granted)
	if err != nil {
		return store.Consent{}, notFound("get consent", err)
	}
	if c.Scopes, err = decodeList(scopes); err != nil {
		return store.Consent{}, fmt.Errorf("sqlite: get consent: %w", err)
	}
	if c.Audience, err = decodeList(aud); err != nil {
		return store.Consent{}, fmt.Errorf("sqlite: get consent: %w", err)
	}
	c.GrantedAt = fromMillis(granted)
	return c, nil
}

// DeleteConsent removes a consent; absent is not an error.
func (s *sqlStore) DeleteConsent(ctx context.Context, subject, clientID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM consents WHERE subject = ? AND client_id = ?`, subject, clientID); err != nil {
		return fmt.Errorf("sqlite: delete consent: %w", err)
	}
	return nil
}
