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
