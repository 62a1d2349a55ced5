package server

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// failureLimiter throttles failed authentications per key (the remote
// address). Only failures spend tokens, so a well-behaved client is never
// slowed down, while a guesser gets a burst of tries and then one try per
// interval. Keys are the caller's address rather than the client id so an
// attacker cannot lock a legitimate client out.
type failureLimiter struct {
	every time.Duration
	burst int
	max   int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newFailureLimiter(every time.Duration, burst, maxKeys int) *failureLimiter {
	return &failureLimiter{every: every, burst: burst, max: maxKeys, m: make(map[string]*rate.Limiter)}
}

// blocked reports whether key has exhausted its failures and, if so, how
// many seconds until it may try again.
func (f *failureLimiter) blocked(key string, now time.Time) (bool, int) {
	f.mu.Lock()
	l := f.m[key]
	f.mu.Unlock()
	if l == nil {
		return false, 0
	}
	tokens := l.TokensAt(now)
	if tokens >= 1 {
		return false, 0
	}
	wait := time.Duration((1 - tokens) * float64(f.every))
	return true, int(math.Ceil(wait.Seconds()))
}

// fail records one failed attempt by key.
func (f *failureLimiter) fail(key string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.m[key]
	if l == nil {
		if len(f.m) >= f.max {
			f.pruneLocked(now)
		}
		l = rate.NewLimiter(rate.Every(f.every), f.burst)
		f.m[key] = l
	}
	l.AllowN(now, 1)
}

// pruneLocked forgets keys whose bucket has refilled; if every key is still
// throttled the map is reset rather than grown without bound.
func (f *failureLimiter) pruneLocked(now time.Time) {
	for k, l := range f.m {
		if l.TokensAt(now) >= float64(f.burst) {
			delete(f.m, k)
		}
	}
	if len(f.m) >= f.max {
		clear(f.m)
	}
}
