package verify

import (
	"strings"
	"sync"
	"time"
)

// tokenCache remembers tokens that passed every check but the scope check.
// It is keyed by the whole token string: a hit means byte-for-byte the same
// signed token, so no check but time, key retirement and scopes can come
// out differently. Only verified tokens are inserted, so an attacker cannot
// fill it without valid tokens; it is sharded to keep lock contention low
// and bounded per shard.
type tokenCache struct {
	shards   [cacheShards]cacheShard
	perShard int
}

const cacheShards = 16

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]*cacheEntry
	// pad keeps shards on separate cache lines.
	_ [40]byte
}

type cacheEntry struct {
	claims *Claims
	key    *key
	// The token is valid in [notBefore, notAfter), leeway included.
	notBefore, notAfter time.Time
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{perShard: (size + cacheShards - 1) / cacheShards}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cacheEntry)
	}
	return c
}

// shard picks a shard from the token's last bytes, which are signature
// bytes and so evenly spread.
func (c *tokenCache) shard(token string) *cacheShard {
	var h uint32 = 2166136261
	for i := max(0, len(token)-8); i < len(token); i++ {
		h = (h ^ uint32(token[i])) * 16777619
	}
	return &c.shards[h%cacheShards]
}

func (c *tokenCache) get(token string, now time.Time) (*Claims, bool) {
	sh := c.shard(token)
	sh.mu.RLock()
	e := sh.m[token]
	sh.mu.RUnlock()
	if e == nil {
		return nil, false
	}
	if e.key.retired.Load() || now.Before(e.notBefore) || !now.Before(e.notAfter) {
		// Expired, not yet valid, or its key is gone: forget it and let the
		// full checks produce the right error.
		sh.mu.Lock()
		if sh.m[token] == e {
			delete(sh.m, token)
		}
		sh.mu.Unlock()
		return nil, false
	}
	return e.claims, true
}

func (c *tokenCache) put(token string, claims *Claims, k *key, notBefore, notAfter, now time.Time) {
	sh := c.shard(token)
	// The token may be a slice of a larger string (a whole header); keep
	// only its own bytes alive.
	token = strings.Clone(token)
	e := &cacheEntry{claims: claims, key: k, notBefore: notBefore, notAfter: notAfter}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[token]; !ok && len(sh.m) >= c.perShard {
		// Sample a few entries from a random starting point (map iteration
		// order is randomised): drop the dead ones among them, or else the
		// first one, so an insertion costs O(1) however large the cache.
		var victim string
		n := 0
		for t, old := range sh.m {
			if n == 0 {
				victim = t
			}
			if old.key.retired.Load() || !now.Before(old.notAfter) {
				delete(sh.m, t)
				victim = ""
			}
			if n++; n == 8 {
				break
			}
		}
		if victim != "" && len(sh.m) >= c.perShard {
			delete(sh.m, victim)
		}
	}
	sh.m[token] = e
}
