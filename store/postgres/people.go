package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse/store"
)

// People (store.PeopleStore) and single-use values (store.OnceStore), in
// people and once (migration 7). Every method is one statement, so one
// transaction.

const personColumns = `subject, source, username, password_hash, claims, groups_list,
	disabled, created_at, updated_at, last_sign_in`

func scanPerson(row pgx.Row) (store.Person, error) {
	var (
		p                         store.Person
		created, updated, lastSig pgtype.Timestamptz
	)
	if err := row.Scan(&p.Subject, &p.Source, &p.Username, &p.PasswordHash, &p.Claims, &p.Groups,
		&p.Disabled, &created, &updated, &lastSig); err != nil {
		return store.Person{}, err
	}
	p.CreatedAt, p.UpdatedAt, p.LastSignIn = fromTS(created), fromTS(updated), fromTS(lastSig)
	return p, nil
}

// claimsArg binds a person's claims, none as NULL.
func claimsArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreatePerson inserts a person.
func (s *sqlStore) CreatePerson(ctx context.Context, p store.Person) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO people (`+personColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		p.Subject, p.Source, p.Username, p.PasswordHash, claimsArg(p.Claims), list(p.Groups),
		p.Disabled, ts(p.CreatedAt), ts(p.UpdatedAt), ts(p.LastSignIn)); err != nil {
		return insertErr("create person", fmt.Sprintf("subject %q or local username %q", p.Subject, p.Username), err)
	}
	return nil
}

// GetPerson returns the person with this subject.
func (s *sqlStore) GetPerson(ctx context.Context, subject string) (store.Person, error) {
	p, err := scanPerson(s.pool.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE subject = $1`, subject))
	if err != nil {
		return store.Person{}, notFound("get person", err)
	}
	return p, nil
}

// LocalUser returns the local user with this username.
func (s *sqlStore) LocalUser(ctx context.Context, username string) (store.Person, error) {
	// The condition matches migration 7's partial index.
	p, err := scanPerson(s.pool.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE username = $1 AND source = ''`, username))
	if err != nil {
		return store.Person{}, notFound("local user", err)
	}
	return p, nil
}

// RecordSignIn creates or refreshes a person from an identity source.
func (s *sqlStore) RecordSignIn(ctx context.Context, p store.Person) (store.Person, error) {
	const op = "record sign-in"
	// The WHERE of the upsert leaves a row of another source alone; then
	// nothing is returned.
	got, err := scanPerson(s.pool.QueryRow(ctx, `INSERT INTO people (`+personColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (subject) DO UPDATE SET username = EXCLUDED.username, claims = EXCLUDED.claims,
			groups_list = EXCLUDED.groups_list, updated_at = EXCLUDED.updated_at,
			last_sign_in = EXCLUDED.last_sign_in
		WHERE people.source = EXCLUDED.source
		RETURNING `+personColumns,
		p.Subject, p.Source, p.Username, p.PasswordHash, claimsArg(p.Claims), list(p.Groups),
		p.Disabled, ts(p.CreatedAt), ts(p.UpdatedAt), ts(p.LastSignIn)))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Person{}, fmt.Errorf("postgres: %s: subject %q belongs to a person of another source: %w", op, p.Subject, store.ErrConflict)
	case err != nil:
		return store.Person{}, insertErr(op, fmt.Sprintf("subject %q", p.Subject), err)
	}
	return got, nil
}

// UpdatePerson replaces a person's mutable fields.
func (s *sqlStore) UpdatePerson(ctx context.Context, p store.Person) error {
	const op = "update person"
	tag, err := s.pool.Exec(ctx, `UPDATE people SET username = $1, password_hash = $2, claims = $3,
		groups_list = $4, disabled = $5, updated_at = $6 WHERE subject = $7`,
		p.Username, p.PasswordHash, claimsArg(p.Claims), list(p.Groups), p.Disabled, ts(p.UpdatedAt), p.Subject)
	if err != nil {
		return insertErr(op, fmt.Sprintf("local username %q", p.Username), err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeletePerson removes a person.
func (s *sqlStore) DeletePerson(ctx context.Context, subject string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM people WHERE subject = $1`, subject)
	if err != nil {
		return fmt.Errorf("postgres: delete person: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ListPeople returns everyone ordered by Subject (COLLATE "C": byte
// order).
func (s *sqlStore) ListPeople(ctx context.Context) ([]store.Person, error) {
	const op = "list people"
	rows, err := s.pool.Query(ctx, `SELECT `+personColumns+` FROM people ORDER BY subject`)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	defer rows.Close()
	var ps []store.Person
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", op, err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	return ps, nil
}

// UseOnce records key as used until expiresAt, unless it already is.
func (s *sqlStore) UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error {
	const op = "use once"
	// A row that has expired at now is taken over; a live one is left
	// alone (the conflicting insert waits for a concurrent one to commit,
	// then sees its row), and nothing changes.
	tag, err := s.pool.Exec(ctx, `INSERT INTO once (key, expires_at) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE once.expires_at <= $3`,
		key, ts(expiresAt), ts(now))
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: already used: %w", op, store.ErrConflict)
	}
	return nil
}
