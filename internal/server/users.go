package server

import (
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/secret"
	"runtime/debug"
)

// user is a person who can sign in, with the password check prepared once.
type user struct {
	cfg   *config.User
	check secret.Checker
}

// loadUsers prepares every user's password check. A plain development
// password is hashed with argon2id here, so even in development the process
// checks passwords the way production does (same cost, same timing).
func loadUsers(cfg *config.Config, gate secret.Gate) (map[string]*user, secret.Checker, error) {
	users := make(map[string]*user, len(cfg.Users))
	hashed := false
	for i := range cfg.Users {
		u := &cfg.Users[i]
		stored := u.PasswordHash
		if stored == "" {
			h, err := secret.HashArgon2id(u.Password)
			if err != nil {
				return nil, nil, err
			}
			stored = h
			hashed = true
		}
		chk, err := secret.ParseUncachedGated(stored, gate)
		if err != nil {
			return nil, nil, err
		}
		users[u.Username] = &user{cfg: u, check: chk}
	}
	if hashed {
		// Each argon2id hash above held ~19 MiB; give it back to the
		// system now rather than carry it as resident memory for good.
		debug.FreeOSMemory()
	}
	// Unknown usernames are checked against this hash so that they cost the
	// same as a wrong password and do not reveal which users exist. It is a
	// constant (same parameters as HashArgon2id) so that start-up does not
	// pay, and keep resident, an argon2id computation for it.
	dummy, err := secret.ParseUncachedGated(dummyUserHash, gate)
	return users, dummy, err
}

const dummyUserHash = "$argon2id$v=19$m=19456,t=2,p=1$JmNKqhh3vh1N+FHyQkKQyQ$4KWH2iy+cPg8oKD3H0PY/qpKTiqTm1iJwwoB8ITo3xw"

// Scope-to-claim mapping of OIDC Core §5.4.
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
}

// claimsFor returns the user's claims released by scopes. preferred_username
// defaults to the username under the profile scope.
func (u *user) claimsFor(scopes []string) map[string]any {
	out := map[string]any{}
	for _, s := range scopes {
		for _, name := range scopeClaims[s] {
			if v, ok := u.cfg.Claims[name]; ok {
				out[name] = v
			}
		}
		if s == "profile" {
			if _, ok := out["preferred_username"]; !ok {
				out["preferred_username"] = u.cfg.Username
			}
		}
	}
	return out
}
