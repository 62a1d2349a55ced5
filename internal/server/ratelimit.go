package server

import (
	"math"
	"slices"
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
type failureLimiter struct {
	every time.Duration
	burst float64
	max   int

	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
	seen   time.Time // last attempt, for eviction
}

func newFailureLimiter(every time.Duration, burst, maxKeys int) *failureLimiter {
	return &failureLimiter{every: every, burst: float64(burst), max: maxKeys, m: make(map[string]*bucket)}
}

// refill brings b up to date at now (never backwards: concurrent requests
// may read the clock out of order).
func (f *failureLimiter) refill(b *bucket, now time.Time) {
	if now.After(b.at) {
		b.tokens = math.Min(f.burst, b.tokens+float64(now.Sub(b.at))/float64(f.every))
		b.at = now
	}
}

// attempt is one reserved try; call succeeded when the credential was
// right, to give the token back.
type attempt struct {
	f   *failureLimiter
	key string
}

func (a attempt) succeeded() {
	if a.f == nil {
		return
	}
	a.f.mu.Lock()
	if b := a.f.m[a.key]; b != nil {
		b.tokens = math.Min(a.f.burst, b.tokens+1)
	}
	a.f.mu.Unlock()
}

// begin takes a try for key. When none is left it reports false and how
// many seconds until one is.
func (f *failureLimiter) begin(key string, now time.Time) (attempt, bool, int) {
	if len(key) > 256 {
		key = key[:256] // a long name must not become a long map key
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.m[key]
	if b == nil {
		if len(f.m) >= f.max {
			f.evictLocked(now)
		}
		b = &bucket{tokens: f.burst, at: now}
		f.m[key] = b
	}
	f.refill(b, now)
	b.seen = now
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) * float64(f.every))
		return attempt{}, false, max(1, int(math.Ceil(wait.Seconds())))
	}
	b.tokens--
	return attempt{f: f, key: key}, true, 0
}

// blocked reports, without taking anything, whether key has no tries
// left and how many seconds until it has one.
func (f *failureLimiter) blocked(key string, now time.Time) (bool, int) {
	if len(key) > 256 {
		key = key[:256]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.m[key]
	if b == nil {
		return false, 0
	}
	f.refill(b, now)
	if b.tokens >= 1 {
		return false, 0
	}
	return true, max(1, int(math.Ceil((1-b.tokens)*f.every.Seconds())))
}

// fail records a failed try decided without a reservation (a cheap
// check). Concurrent cheap failures may take the bucket below zero; the
// extra debt is paid back by waiting, bounded at one burst.
func (f *failureLimiter) fail(key string, now time.Time) {
	if len(key) > 256 {
		key = key[:256]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.m[key]
	if b == nil {
		if len(f.m) >= f.max {
			f.evictLocked(now)
		}
		b = &bucket{tokens: f.burst, at: now}
		f.m[key] = b
	}
	f.refill(b, now)
	b.seen = now
	b.tokens = math.Max(-f.burst, b.tokens-1)
}

// evictLocked forgets keys whose bucket has refilled, then, if the map is
// still full, the least recently used half — never everything at once, so
// flooding it with new keys cannot reset a throttled key.
func (f *failureLimiter) evictLocked(now time.Time) {
	for k, b := range f.m {
		f.refill(b, now)
		if b.tokens >= f.burst {
			delete(f.m, k)
		}
	}
	if len(f.m) < f.max {
		return
	}
	times := make([]time.Time, 0, len(f.m))
	for _, b := range f.m {
		times = append(times, b.seen)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	cutoff := times[len(times)/2]
	for k, b := range f.m {
		if b.seen.Before(cutoff) {
			delete(f.m, k)
		}
	}
}
