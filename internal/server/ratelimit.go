package server

import (
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// failureLimiter throttles failed authentications per key. An attempt
// reserves a token before the credential is checked — so concurrent
// attempts cannot all slip through while the first ones are still being
// hashed — and a successful attempt gives it back, so a well-behaved
// caller is never slowed down. A guesser gets a burst of tries and then one
// per interval.
type failureLimiter struct {
	every time.Duration
	burst int
	max   int

	mu sync.Mutex
	m  map[string]*limiterEntry
}

type limiterEntry struct {
	l    *rate.Limiter
	seen time.Time
}

func newFailureLimiter(every time.Duration, burst, maxKeys int) *failureLimiter {
	return &failureLimiter{every: every, burst: burst, max: maxKeys, m: make(map[string]*limiterEntry)}
}

// attempt is one reserved try; call succeeded when the credential was
// right, to give the token back.
type attempt struct {
	r   *rate.Reservation
	now time.Time
}

func (a attempt) succeeded() {
	if a.r != nil {
		a.r.CancelAt(a.now)
	}
}

// begin reserves a try for key. When none is left it reports false and
// how many seconds until one is.
func (f *failureLimiter) begin(key string, now time.Time) (attempt, bool, int) {
	if len(key) > 256 {
		key = key[:256] // a long name must not become a long map key
	}
	f.mu.Lock()
	e := f.m[key]
	if e == nil {
		if len(f.m) >= f.max {
			f.evictLocked(now)
		}
		e = &limiterEntry{l: rate.NewLimiter(rate.Every(f.every), f.burst)}
		f.m[key] = e
	}
	e.seen = now
	r := e.l.ReserveN(now, 1)
	f.mu.Unlock()
	if !r.OK() {
		return attempt{}, false, int(math.Ceil(f.every.Seconds()))
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return attempt{}, false, int(math.Ceil(d.Seconds()))
	}
	return attempt{r: r, now: now}, true, 0
}

// evictLocked forgets keys whose bucket has refilled, then, if the map is
// still full, the least recently seen half — never everything at once, so
// flooding it with new keys cannot reset a throttled key.
func (f *failureLimiter) evictLocked(now time.Time) {
	for k, e := range f.m {
		if e.l.TokensAt(now) >= float64(f.burst) {
			delete(f.m, k)
		}
	}
	if len(f.m) < f.max {
		return
	}
	var cutoff time.Time
	{
		times := make([]time.Time, 0, len(f.m))
		for _, e := range f.m {
			times = append(times, e.seen)
		}
		// the median last-seen time
		cutoff = quickMedian(times)
	}
	for k, e := range f.m {
		if !e.seen.After(cutoff) {
			delete(f.m, k)
		}
	}
}

func quickMedian(ts []time.Time) time.Time {
	// Sorting 10k timestamps once per eviction is cheap enough.
	sortTimes(ts)
	return ts[len(ts)/2]
}

func sortTimes(ts []time.Time) {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
}
