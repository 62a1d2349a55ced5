package server

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/connector"
	"github.com/gatehouse/gatehouse/internal/grant"
	"github.com/gatehouse/gatehouse/store"
)

// people are everyone who can sign in, wherever they are kept: users of the
// YAML file (found first), local users of the store (`gatehouse users`),
// and people an identity source vouched for, recorded in the store at each
// sign-in under their source-prefixed subject. It is the grant engine's
// view of people (grant.Users).
type people struct {
	yaml    map[string]*user
	store   store.PeopleStore
	sources *sources
	now     func() time.Time
}

// Person implements grant.Users. A person of a directory is looked up
// there again when fresh (a refresh: groups change); one of an upstream
// provider keeps what the provider said at the last sign-in, since
// Gatehouse cannot ask it without the person.
func (p *people) Person(ctx context.Context, subject string, fresh bool) (grant.Person, error) {
	if u := p.yaml[subject]; u != nil {
		return u.person(), nil
	}
	row, err := p.store.GetPerson(ctx, subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return grant.Person{}, grant.ErrNoPerson
	case err != nil:
		return grant.Person{}, err
	case row.Disabled:
		return grant.Person{}, grant.ErrNoPerson
	}
	if row.Source == "" {
		return personOf(row, false), nil
	}
	src := p.sources.byID[row.Source]
	if src == nil {
		return grant.Person{}, grant.ErrNoPerson // its source was removed from the configuration
	}
	if fresh && src.directory != nil {
		id, err := src.directory.Lookup(ctx, row.Username)
		switch {
		case errors.Is(err, connector.ErrNotFound):
			return grant.Person{}, grant.ErrNoPerson
		case err != nil:
			return grant.Person{}, err
		}
		if row, err = p.record(ctx, src, id, false); err != nil {
			return grant.Person{}, err
		}
	}
	return personOf(row, src.upstream != nil), nil
}

// exists reports whether a session's subject may still be signed in.
func (p *people) exists(ctx context.Context, subject string) bool {
	_, err := p.Person(ctx, subject, false)
	return err == nil
}

// record stores what a source said of a person and returns the row, which
// says whether the person is disabled. signIn also notes the time of the
// sign-in; a refresh's lookup only updates groups and claims.
func (p *people) record(ctx context.Context, src *source, id connector.Identity, signIn bool) (store.Person, error) {
	claims := map[string]any{}
	if id.Name != "" {
		claims["name"] = id.Name
	}
	if id.Email != "" {
		claims["email"] = id.Email
		claims["email_verified"] = id.EmailVerified
	}
	raw, err := json.Marshal(claims)
	if err != nil {
		return store.Person{}, err
	}
	username := id.Username
	if username == "" {
		username = id.Subject
	}
	groups := slices.Clone(id.Groups)
	slices.Sort(groups)
	row := store.Person{Subject: connector.LocalSubject(src.cfg.ID, id.Subject), Source: src.cfg.ID,
		Username: username, Claims: raw, Groups: slices.Compact(groups)}
	if !signIn {
		old, err := p.store.GetPerson(ctx, row.Subject)
		if err != nil {
			return store.Person{}, err
		}
		old.Username, old.Claims, old.Groups, old.UpdatedAt = row.Username, row.Claims, row.Groups, p.now()
		return old, p.store.UpdatePerson(ctx, old)
	}
	return p.store.RecordSignIn(ctx, row, p.now())
}

// personOf is a store row as the grant engine sees it.
func personOf(row store.Person, federated bool) grant.Person {
	claims := map[string]any{}
	if len(row.Claims) > 0 {
		_ = json.Unmarshal(row.Claims, &claims) // written by record or `gatehouse users`: an object
	}
	if _, ok := claims["preferred_username"]; !ok {
		claims["preferred_username"] = row.Username
	}
	return grant.Person{Subject: row.Subject, Groups: row.Groups, Claims: claims, Source: row.Source, Federated: federated}
}

// person is a YAML user as the grant engine sees them.
func (u *user) person() grant.Person {
	claims := make(map[string]any, len(u.cfg.Claims)+1)
	for k, v := range u.cfg.Claims {
		claims[k] = v
	}
	if _, ok := claims["preferred_username"]; !ok {
		claims["preferred_username"] = u.cfg.Username
	}
	return grant.Person{Subject: u.cfg.Username, Groups: u.cfg.Groups, Claims: claims}
}
