package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// unrevokedTTL is how long a subject token found unrevoked is taken to be
// so without asking the store again. A revocation made through this
// instance is seen at once (the epoch below); one made through another
// instance sharing the store is seen within this time. Resource servers
// verifying the same token locally never see a revocation at all; the
// exchange sees one within a second, and introspection (which does not use
// this) at once.
const unrevokedTTL = time.Second

// unrevokedMax bounds the remembered tokens; when full the memory is
// dropped and refilled, so the bound costs store reads, never answers.
const unrevokedMax = 4096

// unrevoked remembers subject tokens of token exchanges the store found
// unrevoked, so a service exchanging one user's token for each call it
// makes on the user's behalf pays for the store read once a second, not
// once a call (the read was a fifth of an exchange's cost beyond its two
// signatures; bench/README.md).
type unrevoked struct {
	// epoch moves on every revocation made through this instance's store;
	// an entry remembered under an older epoch is not trusted.
	epoch atomic.Uint64
	mu    sync.Mutex
	m     map[string]unrevokedEntry
}

type unrevokedEntry struct {
	epoch uint64
	until time.Time
}

// changed records that something may have been revoked.
func (u *unrevoked) changed() { u.epoch.Add(1) }

// known reports whether jti was found unrevoked within the TTL and no
// revocation has been made through this instance since.
func (u *unrevoked) known(jti string, now time.Time) bool {
	epoch := u.epoch.Load()
	u.mu.Lock()
	e, ok := u.m[jti]
	u.mu.Unlock()
	return ok && e.epoch == epoch && now.Before(e.until)
}

// remember records that the store found jti unrevoked; epoch is the value
// read before the store was asked, so a revocation racing the read makes
// the entry stale rather than wrongly trusted.
func (u *unrevoked) remember(jti string, epoch uint64, now, expiry time.Time) {
	until := now.Add(unrevokedTTL)
	if expiry.Before(until) {
		until = expiry
	}
	u.mu.Lock()
	if u.m == nil || len(u.m) >= unrevokedMax {
		u.m = make(map[string]unrevokedEntry)
	}
	u.m[jti] = unrevokedEntry{epoch: epoch, until: until}
	u.mu.Unlock()
}
