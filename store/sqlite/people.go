package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// People (store.PeopleStore) and single-use values (store.OnceStore), in
// people and once (migration 7). Every method is one statement, so one
// transaction.

const personColumns = `subject, source, username, password_hash, claims, groups_list,
	disabled, created_at, updated_at, last_sign_in`

func scanPerson(row scanner) (store.Person, error) {
	var (
		p                         store.Person
		groups                    string
		disabled                  int64
		created, updated, lastSig sql.NullInt64
	)
	if err := row.Scan(&p.Subject, &p.Source, &p.Username, &p.PasswordHash, &p.Claims, &groups,
		&disabled, &created, &updated, &lastSig); err != nil {
		return store.Person{}, err
	}
	var err error
	if p.Groups, err = decodeList(groups); err != nil {
		return store.Person{}, err
	}
	p.Disabled = disabled != 0
	p.CreatedAt, p.UpdatedAt, p.LastSignIn = fromMillis(created), fromMillis(updated), fromMillis(lastSig)
	return p, nil
}

// claimsArg binds a person's claims, none as NULL.
func claimsArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// CreatePerson inserts a person.
func (s *sqlStore) CreatePerson(ctx context.Context, p store.Person) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO people (`+personColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Subject, p.Source, p.Username, p.PasswordHash, claimsArg(p.Claims), encodeList(p.Groups),
		boolInt(p.Disabled), toMillis(p.CreatedAt), toMillis(p.UpdatedAt), toMillis(p.LastSignIn)); err != nil {
		return insertErr("create person", fmt.Sprintf("subject %q or local username %q", p.Subject, p.Username), err)
	}
	return nil
}

// GetPerson returns the person with this subject.
func (s *sqlStore) GetPerson(ctx context.Context, subject string) (store.Person, error) {
	p, err := scanPerson(s.queryRow(ctx, `SELECT `+personColumns+` FROM people WHERE subject = ?`, subject))
	if err != nil {
		return store.Person{}, notFound("get person", err)
	}
	return p, nil
}

// LocalUser returns the local user with this username.
func (s *sqlStore) LocalUser(ctx context.Context, username string) (store.Person, error) {
	// The condition matches migration 7's partial index.
	p, err := scanPerson(s.queryRow(ctx, `SELECT `+personColumns+` FROM people WHERE username = ? AND source = ''`, username))
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
	got, err := scanPerson(s.queryRow(ctx, `INSERT INTO people (`+personColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (subject) DO UPDATE SET username = excluded.username, claims = excluded.claims,
			groups_list = excluded.groups_list, updated_at = excluded.updated_at,
			last_sign_in = excluded.last_sign_in
		WHERE people.source = excluded.source
		RETURNING `+personColumns,
		p.Subject, p.Source, p.Username, p.PasswordHash, claimsArg(p.Claims), encodeList(p.Groups),
		boolInt(p.Disabled), toMillis(p.CreatedAt), toMillis(p.UpdatedAt), toMillis(p.LastSignIn)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Person{}, fmt.Errorf("sqlite: %s: subject %q belongs to a person of another source: %w", op, p.Subject, store.ErrConflict)
	case err != nil:
		return store.Person{}, insertErr(op, fmt.Sprintf("subject %q", p.Subject), err)
	}
	return got, nil
}

// UpdatePerson replaces a person's mutable fields.
func (s *sqlStore) UpdatePerson(ctx context.Context, p store.Person) error {
	const op = "update person"
	res, err := s.db.ExecContext(ctx, `UPDATE people SET username = ?, password_hash = ?, claims = ?,
		groups_list = ?, disabled = ?, updated_at = ? WHERE subject = ?`,
		p.Username, p.PasswordHash, claimsArg(p.Claims), encodeList(p.Groups), boolInt(p.Disabled),
		toMillis(p.UpdatedAt), p.Subject)
	if err != nil {
		return insertErr(op, fmt.Sprintf("local username %q", p.Username), err)
	}
	return affectedOne(op, res)
}

// DeletePerson removes a person.
func (s *sqlStore) DeletePerson(ctx context.Context, subject string) error {
	const op = "delete person"
	res, err := s.db.ExecContext(ctx, `DELETE FROM people WHERE subject = ?`, subject)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return affectedOne(op, res)
}

// affectedOne is nil when res changed a row, ErrNotFound when none.
func affectedOne(op string, res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ListPeople returns everyone ordered by Subject.
func (s *sqlStore) ListPeople(ctx context.Context) ([]store.Person, error) {
	const op = "list people"
	// TEXT compares with BINARY collation: byte order.
	rows, err := s.db.QueryContext(ctx, `SELECT `+personColumns+` FROM people ORDER BY subject`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer rows.Close()
	var ps []store.Person
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", op, err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return ps, nil
}

// useOnceQuery is UseOnce's statement, prepared once on s.marks.
const useOnceQuery = `INSERT INTO once (key, expires_at) VALUES (?, ?)
	ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE once.expires_at <= ?`

// UseOnce records key as used until expiresAt, unless it already is. A
// row that has expired at now is taken over; a live one is left alone,
// and nothing changes. Marks are written with synchronous=NORMAL (s.marks):
// a mark survives a crash of the process, and a power loss may forget the
// last ones, which guard one-time values living minutes (client
// assertions, DPoP proofs, upstream states) — the fsync of FULL cost more
// than a client assertion's whole check. Concurrent marks share commits
// (marks.go).
func (s *sqlStore) UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error {
	return s.useOnce(&mark{ctx: ctx, key: key, expires: expiresAt.UnixMilli(), now: now.UnixMilli()})
}
