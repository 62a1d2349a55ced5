package backend

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// People (store.PeopleStore) and single-use values (store.OnceStore).

// CreatePerson inserts a person.
func (c *Checked) CreatePerson(ctx context.Context, p store.Person) error {
	r := c.required("create person")
	r.nonEmpty("Subject", p.Subject)
	r.nonEmpty("Username", p.Username)
	r.nonZero("CreatedAt", p.CreatedAt)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.CreatePerson(ctx, shapePerson(p))
}

// GetPerson returns the person with this subject.
func (c *Checked) GetPerson(ctx context.Context, subject string) (store.Person, error) {
	return shaped(shapePerson)(c.sql.GetPerson(ctx, subject))
}

// LocalUser returns the local user with this username.
func (c *Checked) LocalUser(ctx context.Context, username string) (store.Person, error) {
	return shaped(shapePerson)(c.sql.LocalUser(ctx, username))
}

// RecordSignIn creates or refreshes a person from an identity source.
func (c *Checked) RecordSignIn(ctx context.Context, p store.Person, now time.Time) (store.Person, error) {
	r := c.required("record sign-in")
	r.nonEmpty("Subject", p.Subject)
	r.nonEmpty("Source", p.Source)
	r.nonEmpty("Username", p.Username)
	r.nonZero("now", now)
	if err := r.err(); err != nil {
		return store.Person{}, err
	}
	now = stored(now)
	// What the contract says a new row holds; on an existing row the SQL
	// keeps PasswordHash, Disabled and CreatedAt.
	p.PasswordHash, p.Disabled = "", false
	p.CreatedAt, p.UpdatedAt, p.LastSignIn = now, now, now
	return shaped(shapePerson)(c.sql.RecordSignIn(ctx, shapePerson(p)))
}

// UpdatePerson replaces a person's mutable fields.
func (c *Checked) UpdatePerson(ctx context.Context, p store.Person) error {
	r := c.required("update person")
	r.nonEmpty("Subject", p.Subject)
	r.nonEmpty("Username", p.Username)
	r.nonZero("UpdatedAt", p.UpdatedAt)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.UpdatePerson(ctx, shapePerson(p))
}

// DeletePerson removes a person.
func (c *Checked) DeletePerson(ctx context.Context, subject string) error {
	r := c.required("delete person")
	r.nonEmpty("subject", subject)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.DeletePerson(ctx, subject)
}

// ListPeople returns everyone ordered by Subject, nil when there is no one.
func (c *Checked) ListPeople(ctx context.Context) ([]store.Person, error) {
	ps, err := c.sql.ListPeople(ctx)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	for i := range ps {
		ps[i] = shapePerson(ps[i])
	}
	return ps, nil
}

// UseOnce records key as used until expiresAt, unless it already is.
func (c *Checked) UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error {
	r := c.required("use once")
	r.nonEmpty("key", key)
	r.nonZero("expiresAt", expiresAt)
	r.nonZero("now", now)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.UseOnce(ctx, key, stored(expiresAt), stored(now))
}
