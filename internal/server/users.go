package server

import (
	"runtime/debug"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// user is a person who can sign in, with the password check prepared once.
type user struct {
	cfg   *config.User
	check secret.Checker
	// set is the stored hash's parameter set, under which the cost of
	// its checks is recorded (secret.Floor).
	set string
}

// loadUsers prepares every user's password check. A plain development
// password is hashed with argon2id here, so even in development the process
// checks passwords the way production does (same cost, same timing). The
// returned Floor has measured one check of each parameter set in use, so
// from the first request a refusal of an unknown username takes as long as
// one of a known user with the slowest hash.
func loadUsers(cfg *config.Config, gate secret.Gate) (map[string]*user, *secret.Floor, error) {
	users := make(map[string]*user, len(cfg.Users))
	floor := secret.NewFloor()
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
		}
		chk, err := secret.ParseUncachedGated(stored, gate)
		if err != nil {
			return nil, nil, err
		}
		users[u.Username] = &user{cfg: u, check: chk, set: secret.ParamSet(stored)}
	}
	seeded := map[string]bool{}
	for _, u := range users {
		if !seeded[u.set] {
			seeded[u.set] = true
			hashed = hashed || u.set != "plain"
			started := time.Now()
			u.check.Check("\x00 not a password")
			floor.Observe(u.set, time.Since(started))
		}
	}
	if hashed {
		// Each argon2id hash above held ~19 MiB; give it back to the
		// system now rather than carry it as resident memory for good.
		debug.FreeOSMemory()
	}
	return users, floor, nil
}

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

// userDirectory is the configured users as the grant engine sees them.
type userDirectory map[string]*user

// Exists reports whether subject is a configured user.
func (d userDirectory) Exists(subject string) bool { return d[subject] != nil }

// Claims returns the user's claims the scopes release.
func (d userDirectory) Claims(subject string, scopes []string) map[string]any {
	if u := d[subject]; u != nil {
		return u.claimsFor(scopes)
	}
	return nil
}
