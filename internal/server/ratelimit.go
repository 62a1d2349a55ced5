package server

import (
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// failureLimiter throttles failed authentications per key with a token
// bucket. An attempt takes a token before the credential is checked — so
// concurrent attempts cannot all slip through while the first ones are
// still being hashed — and a successful attempt puts it back, so a caller
// with the right credentials is never slowed down however many requests it
// has in flight. A guesser gets a burst of tries and then one per interval.
//
// The bucket is kept by hand rather than with x/time/rate: a refund there
// (Reservation.Cancel) is only partial once later reservations exist, and
// under 64 concurrent good requests the partial refunds drained the bucket
// and turned a legitimate client away.
//
// Memory is bounded without ever forgetting a throttled key. A key is
// "group\x00name" (client authentication: address and client id) or a bare
// group (the login limiters: an address, or a username). The rules:
//
//   - Only full buckets are dropped. A missing key starts with a full
//     bucket, so dropping one changes no decision. There is no
//     least-recently-used eviction, and so no last-seen time to keep: an
//     earlier version evicted the older half when the table filled, and
//     about 10,000 failures with made-up client ids gave a throttled key a
//     fresh burst.
//   - A group holds at most perGroup names. Beyond that, further unknown
//     names of the group share one overflow bucket: an address that makes
//     up client ids throttles itself as a whole rather than growing the
//     table. Names it already had keep their own buckets.
//   - The table holds at most maxKeys buckets. When every one of them is
//     still draining (a flood from more addresses than the table holds),
//     new keys share one spill bucket: fail closed — a new caller may be
//     throttled along with the flood — rather than free a throttled key.
//   - Once a key has been accounted to a shared bucket, new keys keep going
//     there until it has refilled. A shared bucket is never fuller than any
//     of its members' own buckets would be, so a key that moves to its own
//     (full) bucket then has had no more tries than its own rate allows.
type failureLimiter struct {
	every    time.Duration
	burst    float64
	maxKeys  int // buckets in the table, overflow buckets included
	perGroup int // named buckets per group before its overflow bucket is used

	mu     sync.Mutex
	groups map[string]*limitGroup
	n      int     // buckets in groups
	spill  *bucket // shared by new keys while the table is full of draining buckets
	// sweepAt is when the next full-table sweep may run: until then too
	// few buckets can have refilled to be worth a scan of the table.
	sweepAt time.Time
}

type limitGroup struct {
	names    map[string]*bucket
	overflow *bucket // nil unless names reached perGroup
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// newFailureLimiter allows burst tries per key, then one per every. It
// holds at most maxKeys buckets, and at most perGroup of them for one
// group (the part of a key before "\x00").
func newFailureLimiter(every time.Duration, burst, maxKeys, perGroup int) *failureLimiter {
	return &failureLimiter{every: every, burst: float64(burst), maxKeys: maxKeys, perGroup: max(1, perGroup),
		groups: make(map[string]*limitGroup)}
}

// refill brings b up to date at now (never backwards: concurrent requests
// may read the clock out of order) and reports whether it is full.
func (f *failureLimiter) refill(b *bucket, now time.Time) bool {
	if now.After(b.at) {
		b.tokens = math.Min(f.burst, b.tokens+float64(now.Sub(b.at))/float64(f.every))
		b.at = now
	}
	return b.tokens >= f.burst
}

// fullAt is when b will have refilled, if nothing takes from it.
func (f *failureLimiter) fullAt(b *bucket) time.Time {
	return b.at.Add(time.Duration((f.burst - b.tokens) * float64(f.every)))
}

// attempt is one reserved try; call succeeded when the credential was
// right, to give the token back.
type attempt struct {
	f *failureLimiter
	b *bucket
}

func (a attempt) succeeded() {
	if a.f == nil {
		return
	}
	a.f.mu.Lock()
	// The bucket may have been dropped meanwhile (only when it was full):
	// the refund then changes nothing, as it should.
	a.b.tokens = math.Min(a.f.burst, a.b.tokens+1)
	a.f.mu.Unlock()
}

// begin takes a try for key. When none is left it reports false and how
// many seconds until one is.
func (f *failureLimiter) begin(key string, now time.Time) (attempt, bool, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bucketFor(key, now, true)
	f.refill(b, now)
	if b.tokens < 1 {
		return attempt{}, false, f.retry(b)
	}
	b.tokens--
	return attempt{f: f, b: b}, true, 0
}

// blocked reports, without taking anything, whether key has no tries
// left and how many seconds until it has one.
func (f *failureLimiter) blocked(key string, now time.Time) (bool, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bucketFor(key, now, false)
	if b == nil {
		return false, 0
	}
	f.refill(b, now)
	if b.tokens >= 1 {
		return false, 0
	}
	return true, f.retry(b)
}

// fail records a failed try decided without a reservation (a cheap
// check). Concurrent cheap failures may take the bucket below zero; the
// extra debt is paid back by waiting, bounded at one burst.
func (f *failureLimiter) fail(key string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bucketFor(key, now, true)
	f.refill(b, now)
	b.tokens = math.Max(-f.burst, b.tokens-1)
}

// retry is how many whole seconds until b has a try.
func (f *failureLimiter) retry(b *bucket) int {
	return max(1, int(math.Ceil((1-b.tokens)*f.every.Seconds())))
}

// bucketFor returns the bucket that accounts key's tries (see the rules on
// failureLimiter). Without create it returns nil where a new bucket would
// be made: the key would start full.
func (f *failureLimiter) bucketFor(key string, now time.Time, create bool) *bucket {
	if len(key) > 256 {
		key = key[:256] // a long name must not become a long map key
	}
	grp, name, _ := strings.Cut(key, "\x00")
	g := f.groups[grp]
	if g != nil {
		if b := g.names[name]; b != nil {
			return b
		}
		if g.overflow != nil {
			if !f.refill(g.overflow, now) {
				return g.overflow
			}
			g.overflow = nil
			f.n--
		}
	}
	if f.spill != nil {
		if !f.refill(f.spill, now) {
			return f.spill
		}
		f.spill = nil
	}
	if !create {
		return nil
	}
	if g != nil && len(g.names) >= f.perGroup {
		f.sweepGroup(g, now)
	}
	if f.n >= f.maxKeys && !now.Before(f.sweepAt) {
		f.sweep(now)
	}
	b := &bucket{tokens: f.burst, at: now}
	if f.n >= f.maxKeys {
		f.spill = b
		return b
	}
	if g = f.groups[grp]; g == nil { // the sweep may have dropped it
		g = &limitGroup{names: make(map[string]*bucket, 1)}
		f.groups[grp] = g
	}
	f.n++
	if len(g.names) >= f.perGroup {
		g.overflow = b
	} else {
		g.names[name] = b
	}
	return b
}

// sweepGroup drops g's full buckets; g has at most perGroup of them, so
// this is cheap enough to do whenever g is at its limit.
func (f *failureLimiter) sweepGroup(g *limitGroup, now time.Time) {
	for name, b := range g.names {
		if f.refill(b, now) {
			delete(g.names, name)
			f.n--
		}
	}
}

// sweep drops every full bucket and every group left empty. If the table
// is still full it sets sweepAt to when a sixteenth of it will have
// refilled: a flood of new keys then pays for one scan per that many
// keys freed, not one per request.
func (f *failureLimiter) sweep(now time.Time) {
	var draining []time.Time
	for grp, g := range f.groups {
		f.sweepGroup(g, now)
		for _, b := range g.names {
			draining = append(draining, f.fullAt(b))
		}
		if g.overflow != nil {
			if f.refill(g.overflow, now) {
				g.overflow = nil
				f.n--
			} else {
				draining = append(draining, f.fullAt(g.overflow))
			}
		}
		if len(g.names) == 0 && g.overflow == nil {
			delete(f.groups, grp)
		}
	}
	f.sweepAt = time.Time{}
	if f.n < f.maxKeys || len(draining) == 0 {
		return
	}
	slices.SortFunc(draining, time.Time.Compare)
	f.sweepAt = draining[min(len(draining), max(1, f.maxKeys/16))-1]
}
