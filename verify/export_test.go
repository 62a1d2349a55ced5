package verify

// CacheLen reports how many tokens v's cache holds, for tests.
func CacheLen(v *Verifier) int {
	n := 0
	for i := range v.cache.shards {
		sh := &v.cache.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// JWKSFetches reports how many JWKS fetches v started after New.
func JWKSFetches(v *Verifier) int64 { return v.keys.fetches.Load() }

// Hint is the fix Explain would suggest for e.
func Hint(v *Verifier, e *Error) string { return v.hint(e, nil) }
