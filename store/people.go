package store

import (
	"context"
	"time"
)

// Person is someone who can sign in, as the store keeps them: a local user
// managed with `gatehouse users` (Source empty, PasswordHash set), or a
// person an identity source vouched for at their last sign-in (Source is
// the source's ID; no password here). People listed in the YAML file are
// not in the store.
type Person struct {
	// Subject is the local "sub" and the key: the username of a local
	// user, "source:sub" for a person from a source
	// (connector.LocalSubject).
	Subject string
	// Source is "" for a local user, else the identity source's ID.
	Source string
	// Username is what the person signs in with or is known by. Local
	// users are found by it; it is unique among them (Source "").
	Username string
	// PasswordHash is a local user's argon2id PHC string; "" otherwise.
	PasswordHash string
	// Claims is a JSON object of the person's user claims (name, email,
	// ...); nil means none. The store keeps it as given.
	Claims []byte
	// Groups are the person's groups: set by an administrator for a local
	// user, copied from the source at each sign-in otherwise.
	Groups []string
	// Disabled people can neither sign in nor refresh.
	Disabled bool
	// CreatedAt is when the row was made; UpdatedAt when it last changed.
	CreatedAt time.Time
	UpdatedAt time.Time
	// LastSignIn is when the person last signed in (zero: never).
	LastSignIn time.Time
}

// PeopleStore keeps the people of the store (see Person).
type PeopleStore interface {
	// CreatePerson inserts p. Subject, Username and CreatedAt are
	// required; a Subject already present, or a local user (Source "")
	// whose Username another local user has, returns ErrConflict.
	CreatePerson(ctx context.Context, p Person) error
	// GetPerson returns the person with this subject, or ErrNotFound.
	GetPerson(ctx context.Context, subject string) (Person, error)
	// LocalUser returns the local user (Source "") with this username,
	// or ErrNotFound.
	LocalUser(ctx context.Context, username string) (Person, error)
	// RecordSignIn stores what a source said of p at a sign-in at now:
	// it creates the person (CreatedAt = now) or replaces Username,
	// Claims and Groups, and sets UpdatedAt and LastSignIn to now. It
	// never changes Disabled, PasswordHash or CreatedAt, and returns the
	// person as stored, so the caller sees whether they are disabled.
	// p.Source must not be "" (local users are not recorded this way);
	// p.Subject, p.Username and now are required. A Subject already
	// held by a person of another Source returns ErrConflict and changes
	// nothing: a source never takes over someone else's row.
	RecordSignIn(ctx context.Context, p Person, now time.Time) (Person, error)
	// UpdatePerson replaces the mutable fields of the person with
	// p.Subject (Username, PasswordHash, Claims, Groups, Disabled) and
	// sets UpdatedAt to p.UpdatedAt (required). ErrNotFound when absent;
	// ErrConflict when a local user's new Username is taken.
	UpdatePerson(ctx context.Context, p Person) error
	// DeletePerson removes the person; ErrNotFound when absent.
	DeletePerson(ctx context.Context, subject string) error
	// ListPeople returns everyone, ordered by Subject.
	ListPeople(ctx context.Context) ([]Person, error)
}

// OnceStore remembers single-use values (an upstream sign-in's state, a
// DPoP proof's jti) across every instance sharing the store.
type OnceStore interface {
	// UseOnce records key as used until expiresAt. If key is already
	// recorded with an expiry after now it returns ErrConflict and changes
	// nothing: the value was used before. key and expiresAt are required.
	// A mark is visible to every instance once UseOnce returns and
	// survives a crash of the process; unlike the other writes it need not
	// survive a power loss of the database host (SQLite writes it without
	// the fsync): the values it guards live minutes, and the fsync cost
	// more than the check it completes (bench/README.md, issue 14).
	UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error
}
