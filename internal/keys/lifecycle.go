package keys

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// This file holds the key lifecycle: the decisions update writes to the
// store. Each takes one read of the ring and returns the ring to swap in
// (or nil for no change); none touches the store itself.

// pair is one algorithm's active and next key while a decision is made.
type pair struct {
	active, next *store.Key
}

// pairs returns an empty pair for each of the ring's algorithms.
func (r *Ring) pairs() map[string]*pair {
	m := make(map[string]*pair, len(r.algs))
	for _, alg := range r.algs {
		m[alg] = &pair{}
	}
	return m
}

// ordered lists the pairs' keys, the primary algorithm's first, each
// algorithm's active key before its next key. fill has run, so none is
// missing.
func (r *Ring) ordered(pairs map[string]*pair) []store.Key {
	out := make([]store.Key, 0, 2*len(r.algs))
	for _, alg := range r.algs {
		out = append(out, *pairs[alg].active, *pairs[alg].next)
	}
	return out
}

// repair decides what Open (strict) and Run (not strict) write so that
// each of the ring's algorithms has an active and a next key. Both modes
// add what is missing (fill). Strict mode also cleans up: it retires
// active keys of algorithms the ring no longer signs with and extra active
// keys, drops their next keys, drops keys stored in the clear when a
// secret is set, and drops expired retired keys.
//
// Run is not strict because two instances configured with different
// signing algorithms (while a change of signing_alg rolls out) would
// otherwise retire each other's keys on every poll; adding keys converges,
// taking them away is left to Open, once per start.
func (r *Ring) repair(s *state, now time.Time, strict bool) (*change, error) {
	pairs := r.pairs()
	var (
		// kept are retired keys and, when not strict, keys of algorithms
		// the ring does not sign with.
		kept    []store.Key
		changed bool
	)
	for _, k := range s.keys {
		if strict && s.entries[k.ID].plaintext && r.seal.encrypted() {
			r.log.Warn("keys: dropping a key stored unencrypted (development mode) now that GATEHOUSE_SECRET is set; tokens it signed no longer verify", "kid", k.ID, "state", k.State)
			changed = true
			continue
		}
		p := pairs[k.Alg] // nil: an algorithm the ring does not sign with
		switch k.State {
		case store.KeyActive:
			if p != nil && p.active == nil {
				p.active = &k
				continue
			}
			if !strict {
				if p != nil {
					// Two active keys of one algorithm: install refuses
					// such a ring; only Open may retire one.
					return nil, nil
				}
				kept = append(kept, k)
				continue
			}
			if p == nil {
				r.log.Warn("keys: retiring the active key: the configured signing algorithm changed", "kid", k.ID, "from", k.Alg, "to", r.opts.Alg)
			} else {
				r.log.Warn("keys: retiring an active key: another key of its algorithm is active", "kid", k.ID, "alg", k.Alg)
			}
			kept = append(kept, r.retire(k, now))
			changed = true
		case store.KeyNext:
			if p != nil && p.next == nil {
				p.next = &k
				continue
			}
			if !strict {
				kept = append(kept, k)
				continue
			}
			// It never signed, so it can go at once.
			changed = true
		default:
			if strict && expired(k, now) {
				changed = true
				continue
			}
			kept = append(kept, k)
		}
	}
	added, filled, err := r.fill(pairs, now)
	if err != nil {
		return nil, err
	}
	if !changed && !filled {
		return nil, nil
	}
	return &change{keys: concat(r.ordered(pairs), kept), added: added}, nil
}

// rotate is Rotate's decision on a ring whose primary active key is the
// one to retire: every algorithm rotates at once, so one rotation (one
// swap, one `gatehouse keys rotate`) covers the whole ring.
func (r *Ring) rotate(s *state, now time.Time) (*change, error) {
	pairs := r.pairs()
	var retired []store.Key
	for _, k := range s.keys {
		switch k.State {
		case store.KeyActive:
			retired = append(retired, r.retire(k, now))
		case store.KeyNext:
			if p := pairs[k.Alg]; p != nil && p.active == nil {
				k.State, k.ActivatedAt = store.KeyActive, now
				p.active = &k
			}
			// A next key of an algorithm the ring does not sign with (or
			// a second one) never signed: drop it.
		default:
			if !expired(k, now) {
				retired = append(retired, k)
			}
		}
	}
	// fill adds each new next key and, where there was no next key to
	// promote, a new active key: that one signs before verifiers have
	// seen it, and they fetch JWKS again on the unknown kid.
	added, _, err := r.fill(pairs, now)
	if err != nil {
		return nil, err
	}
	for _, alg := range r.algs {
		r.log.Info("keys: rotated the signing key", "alg", alg, "retired", s.activeKID(alg), "active", pairs[alg].active.ID, "next", pairs[alg].next.ID)
	}
	return &change{keys: concat(r.ordered(pairs), retired), added: added}, nil
}

// fill gives every pair an active and a next key: a missing active key is
// the pair's next key promoted (it is already published) or else a new
// key; a missing next key is a new key. It reports whether it changed
// anything and returns the parsed keys it created.
func (r *Ring) fill(pairs map[string]*pair, now time.Time) (added []*entry, changed bool, err error) {
	for _, alg := range r.algs {
		p := pairs[alg]
		if p.active == nil {
			if p.next != nil {
				k := *p.next
				k.State, k.ActivatedAt = store.KeyActive, now
				p.active, p.next = &k, nil
			} else {
				k, e, err := r.newKey(alg, store.KeyActive, now)
				if err != nil {
					return nil, false, err
				}
				p.active, added = &k, append(added, e)
			}
			r.log.Info("keys: new active signing key", "kid", p.active.ID, "alg", alg)
			changed = true
		}
		if p.next == nil {
			k, e, err := r.newKey(alg, store.KeyNext, now)
			if err != nil {
				return nil, false, err
			}
			p.next, added = &k, append(added, e)
			changed = true
		}
	}
	return added, changed, nil
}

// retire moves an active key to retired, published for RetireAfter more.
func (r *Ring) retire(k store.Key, now time.Time) store.Key {
	k.State, k.RetiredAt, k.PublishUntil = store.KeyRetired, now, now.Add(r.opts.RetireAfter)
	return k
}

// newKey generates and seals a key of alg.
func (r *Ring) newKey(alg string, st store.KeyState, now time.Time) (store.Key, *entry, error) {
	signer, err := generate(alg)
	if err != nil {
		return store.Key{}, nil, err
	}
	der, err := signer.privateDER()
	if err != nil {
		return store.Key{}, nil, err
	}
	private, err := r.seal.seal(signer.KID, signer.Alg, der)
	if err != nil {
		return store.Key{}, nil, err
	}
	public, err := json.Marshal(signer.jwk())
	if err != nil {
		return store.Key{}, nil, fmt.Errorf("keys: encoding public key: %w", err)
	}
	k := store.Key{ID: signer.KID, Alg: signer.Alg, State: st, Private: private, Public: public, CreatedAt: now}
	if st == store.KeyActive {
		k.ActivatedAt = now
	}
	return k, &entry{private: private, signer: signer, plaintext: !r.seal.encrypted()}, nil
}

func concat(parts ...[]store.Key) []store.Key {
	var out []store.Key
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
