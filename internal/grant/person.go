package grant

import (
	"context"
	"errors"
	"slices"

	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
)

// Scope-to-claim mapping of OIDC Core §5.4.
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
}

// ScopeClaims returns the user claims scope releases (OIDC Core §5.4).
func ScopeClaims(scope string) []string { return slices.Clone(scopeClaims[scope]) }

// ReleasedClaims returns the claims of all that the scopes release (OIDC
// Core §5.4). The groups claim is not among them: GroupsClaim decides it.
func ReleasedClaims(all map[string]any, scopes []string) map[string]any {
	out := map[string]any{}
	for _, s := range scopes {
		for _, name := range scopeClaims[s] {
			if v, ok := all[name]; ok {
				out[name] = v
			}
		}
	}
	return out
}

// GroupsClaim returns the groups claim a token of c carries for a person
// in groups: those the client's groups_claim lists ("*": all), in the
// person's order; nil when the client has none configured or none match.
func GroupsClaim(c *Client, groups []string) []string {
	if len(c.GroupsClaim) == 0 {
		return nil
	}
	if slices.Contains(c.GroupsClaim, "*") {
		return slices.Clone(groups)
	}
	var out []string
	for _, g := range groups {
		if slices.Contains(c.GroupsClaim, g) {
			out = append(out, g)
		}
	}
	return out
}

// person looks the subject up, mapping the answer to the token endpoint's:
// a removed or disabled person's grant is invalid; an unknown answer is a
// server error (fail closed).
func (e *Engine) person(ctx context.Context, subject string, fresh bool) (Person, *oauth.Error) {
	p, err := e.users.Person(ctx, subject, fresh)
	switch {
	case errors.Is(err, ErrNoPerson):
		return Person{}, oauth.InvalidGrant("the person of this grant no longer exists or is disabled; sign in again")
	case err != nil:
		oe := oauth.ServerError(err)
		oe.Description = "the person's directory could not be reached; try again later"
		return Person{}, oe
	}
	return p, nil
}

// forPerson applies the only_groups rules to a grant for p (policy.ForPerson).
func (e *Engine) forPerson(clientID string, g policy.Grant, p Person, req policy.Request) (policy.Grant, *oauth.Error) {
	if !e.model.GatesPeople() {
		return g, nil
	}
	named := req.Resources
	if req.Audience != "" {
		named = append(slices.Clip(named), oauth.SplitScope(req.Audience)...)
	}
	return e.model.ForPerson(clientID, g, p.Groups, named)
}

// AuthorizeFor cuts the authorization request's grant down to what the
// signed-in person may reach (only_groups rules), before consent is asked
// and the code issued: a resource the request named that the person may
// not reach is invalid_target; any other such audience member is dropped.
func (e *Engine) AuthorizeFor(ctx context.Context, a *Authorization, subject string) *oauth.Error {
	if !e.model.GatesPeople() {
		return nil
	}
	p, err := e.users.Person(ctx, subject, false)
	switch {
	case errors.Is(err, ErrNoPerson):
		return oauth.AccessDenied("this account is disabled")
	case err != nil:
		return oauth.ServerError(err)
	}
	g, oe := e.model.ForPerson(a.Client.ID, a.Grant, p.Groups, a.Named)
	if oe != nil {
		return oe
	}
	a.Grant = g
	return nil
}
