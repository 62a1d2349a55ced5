package verify

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// ErrReplayCacheFull is the error of a MemoryReplayCache that holds its
// maximum of unexpired entries: it refuses to record more rather than
// forget a live one, which would let that proof be replayed.
var ErrReplayCacheFull = errors.New("verify: replay cache full")

// DefaultReplayCacheSize is the size NewMemoryReplayCache uses for max <= 0:
// at the default 60 s window, a sustained 1600 proofs a second.
const DefaultReplayCacheSize = 100_000

// MemoryReplayCache is a ReplayCache in this process's memory, for an API
// served by one instance (instances behind a load balancer need a shared
// cache, or a proof refused by one would be accepted by the next). It is
// safe for concurrent use.
//
// It is bounded: it holds at most max entries, each dropped once its
// expiry passes. When it is full of entries that have not expired it
// fails closed: UseOnce returns ErrReplayCacheFull and the proof is
// refused, never recorded by forgetting another. Only proofs with a valid
// signature reach the cache, so filling it takes keys and signatures, and
// each entry lives at most the proof window; size it above the peak rate
// of proofs times the window.
type MemoryReplayCache struct {
	clock func() time.Time
	mu    sync.Mutex
	max   int
	seen  map[string]int64 // key -> expiry, UnixNano
	// exp is a min-heap of expiries, so the expired entries are found
	// without scanning the map.
	exp []replayEntry
}

type replayEntry struct {
	at  int64
	key string
}

// NewMemoryReplayCache returns an empty cache of at most max entries
// (DefaultReplayCacheSize when max <= 0).
func NewMemoryReplayCache(max int) *MemoryReplayCache {
	return NewMemoryReplayCacheClock(max, time.Now)
}

// NewMemoryReplayCacheClock is NewMemoryReplayCache with a clock, which
// must be the ProofChecker's (ProofConfig.Clock): expiries are that
// clock's times.
func NewMemoryReplayCacheClock(max int, clock func() time.Time) *MemoryReplayCache {
	if max <= 0 {
		max = DefaultReplayCacheSize
	}
	return &MemoryReplayCache{clock: clock, max: max, seen: make(map[string]int64)}
}

// UseOnce records key until expiresAt, and reports whether it was new. A
// key whose previous expiry has passed counts as new. The context is not
// used: nothing here blocks.
func (c *MemoryReplayCache) UseOnce(_ context.Context, key string, expiresAt time.Time) (bool, error) {
	now := c.clock().UnixNano()
	at := expiresAt.UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	if old, ok := c.seen[key]; ok && old > now {
		return false, nil
	}
	if len(c.seen) >= c.max {
		return false, ErrReplayCacheFull
	}
	if at <= now {
		// Already expired: nothing to remember, as the proof's own time
		// check refuses it from now on.
		return true, nil
	}
	// The key is usually a slice of a proof; keep only its own bytes.
	key = strings.Clone(key)
	c.seen[key] = at
	c.push(replayEntry{at: at, key: key})
	return true, nil
}

// Len reports how many entries the cache holds, expired ones not yet
// dropped included.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// expire drops the entries whose expiry is not after now.
func (c *MemoryReplayCache) expire(now int64) {
	for len(c.exp) > 0 && c.exp[0].at <= now {
		e := c.pop()
		// The key may have been recorded again after an expiry not yet
		// dropped; only its own heap entry removes it.
		if c.seen[e.key] == e.at {
			delete(c.seen, e.key)
		}
	}
}

func (c *MemoryReplayCache) push(e replayEntry) {
	h := append(c.exp, e)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].at <= h[i].at {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	c.exp = h
}

func (c *MemoryReplayCache) pop() replayEntry {
	h := c.exp
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = replayEntry{}
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].at < h[l].at {
			m = r
		}
		if h[i].at <= h[m].at {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	c.exp = h
	return top
}
