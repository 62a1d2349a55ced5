// Package keys is Gatehouse's signing key ring: it generates, publishes,
// rotates and retires signing keys, and encrypts them at rest.
//
// The ring lives in the store (store.KeyStore) and holds, for each
// algorithm it signs with, one active key (the one that signs) and a next
// key (already published in JWKS, so verifiers have it cached before it
// signs), plus retired keys (still published until every token they signed
// has expired). The algorithms are the configured one (Options.Alg, which
// signs access tokens) and RS256, which OpenID Connect Core §15.1 requires
// every OP to be able to sign ID tokens with. Each instance
// keeps the ring parsed in memory behind an atomic pointer: signing never
// touches the store, decrypts or parses, and never takes a lock. Every
// change to the ring is a compare-and-swap on the store's ring version, so
// when several instances rotate at once exactly one succeeds and the
// others adopt its result.
//
// Private keys are stored as PKCS#8 DER in a versioned envelope: AES-256-GCM
// under a key derived with HKDF-SHA256 from GATEHOUSE_SECRET, or, in
// development mode (no secret), in the clear. A secret set later does not
// trust keys stored in the clear: Open drops them and creates new ones.
package keys

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/store"
)

// Defaults for zero Options fields.
const (
	// DefaultPollInterval makes every instance see a change made
	// elsewhere well within a minute, at one cheap query per interval.
	DefaultPollInterval = 15 * time.Second
	// DefaultRetireAfter is generous on purpose: publishing a retired key
	// too long costs nothing, dropping it too early breaks live tokens.
	DefaultRetireAfter = 24 * time.Hour
)

// maxAttempts bounds compare-and-swap retries; losing this many races in a
// row means something rewrites the ring in a loop.
const maxAttempts = 8

// Options configure a Ring.
type Options struct {
	// Alg is the primary signing algorithm, the one Signer signs with:
	// ES256 (default), EdDSA or RS256 (2048-bit RSA). The ring also keeps
	// RS256 keys when Alg is not RS256, for ID tokens (see SignerFor).
	Alg string
	// Secret is GATEHOUSE_SECRET, at least MinSecretLength characters.
	// Empty means development mode: private keys are stored unencrypted
	// and Open logs a loud warning.
	Secret string
	// RotationPeriod is how long a key stays active before Run rotates it;
	// zero or negative disables automatic rotation.
	RotationPeriod time.Duration
	// RetireAfter is how long a retired key stays published: at least the
	// longest lifetime of a token it signed plus clock leeway. Zero or
	// negative means DefaultRetireAfter.
	RetireAfter time.Duration
	// PollInterval is how often Run checks the store for changes made by
	// other instances; zero or negative means DefaultPollInterval.
	PollInterval time.Duration
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives rotations, warnings and Run's errors; nil means
	// slog.Default(), so the development-mode warning is never lost.
	Logger *slog.Logger
	// OnRotate, when set, is called once per algorithm after a rotation
	// this ring made has been written to the store (not for a rotation it
	// adopted from another instance), with the key retired and the one now
	// active: the audit trail's key.rotation event.
	OnRotate func(alg, retiredKID, activeKID string)
}

// Ring is one instance's view of the key ring. All methods are safe for
// concurrent use.
type Ring struct {
	st   store.KeyStore
	opts Options
	seal sealer
	log  *slog.Logger

	// mu serialises reads-then-writes of the store and snapshot installs,
	// so a slow Reload cannot replace a newer snapshot with an older one.
	// Readers (Signer, JWKS, PublicKey) never take it.
	mu  sync.Mutex
	cur atomic.Pointer[snapshot]

	// algs are the algorithms the ring keeps an active and a next key
	// for: opts.Alg first, then RS256 unless that is opts.Alg.
	algs []string
}

// snapshot is one parsed, immutable version of the ring.
type snapshot struct {
	version int64
	keys    []store.Key       // as stored, for the next swap
	entries map[string]*entry // every key in keys, by kid
	// active is the primary algorithm's active key, kept apart from
	// signers so that Signer, on the hot path of access tokens, is one
	// pointer load.
	active  *Signer
	signers map[string]*Signer // alg → active key, for every active key
	// activatedAt is when the longest-active key of the ring's algorithms
	// started signing; rotation (of every algorithm at once) is due at
	// activatedAt+RotationPeriod.
	activatedAt time.Time
	// complete is false when one of the ring's algorithms lacks an active
	// or a next key, which Run then adds.
	complete  bool
	published map[string]*Signer // kid → key, for keys in JWKS
	jwks      []byte
}

// entry is one parsed stored key. private is the envelope it was parsed
// from, so a later read can reuse the parse when the row is unchanged.
type entry struct {
	private   []byte
	signer    *Signer
	plaintext bool
}

// Open loads the key ring from st and repairs it so that it has an active
// and a next key of each of its algorithms (opts.Alg and RS256): it
// creates them in an empty store or where they are missing (a ring
// written before RS256 was kept alongside gets its RS256 pair), and when
// an active key has an algorithm the ring no longer signs with (the
// configuration changed) it retires that key and switches to a new one at
// once. Keys stored in the clear are dropped when a secret is set. Changes
// are written with compare-and-swap; when another instance wins, Open
// re-reads.
//
// Open fails with ErrSecretMissing or ErrSecretWrong when the stored keys
// do not decrypt with opts.Secret.
func Open(ctx context.Context, st store.KeyStore, opts Options) (*Ring, error) {
	if opts.Alg == "" {
		opts.Alg = ES256
	}
	switch opts.Alg {
	case ES256, EdDSA, RS256:
	default:
		return nil, fmt.Errorf("keys: unsupported signing algorithm %q (want %s, %s or %s)", opts.Alg, ES256, EdDSA, RS256)
	}
	if opts.RetireAfter <= 0 {
		opts.RetireAfter = DefaultRetireAfter
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	seal, err := newSealer(opts.Secret)
	if err != nil {
		return nil, err
	}
	r := &Ring{st: st, opts: opts, seal: seal, log: opts.Logger, algs: []string{opts.Alg}}
	if opts.Alg != RS256 {
		r.algs = append(r.algs, RS256)
	}
	if !seal.encrypted() {
		r.log.Warn("DEVELOPMENT MODE: GATEHOUSE_SECRET is not set, so signing keys are stored UNENCRYPTED in the database; anyone who can read it can forge tokens. Set GATEHOUSE_SECRET (at least 32 random characters) before production use.")
	}
	if err := r.update(ctx, "open", true, func(s *state, now time.Time) (*change, error) { return r.repair(s, now, true) }); err != nil {
		return nil, err
	}
	return r, nil
}

// Signer returns the active key of the primary algorithm (Options.Alg),
// the one access tokens are signed with. It never blocks and never fails:
// Open does not return a Ring without one.
func (r *Ring) Signer() *Signer {
	return r.cur.Load().active
}

// SignerFor returns the active key of alg, one of Algs, for ID tokens a
// client wants signed with an algorithm other than the primary one. Like
// Signer it never blocks and takes no lock. ok is false when alg is not
// one of Algs, or, briefly, when an older Gatehouse rewrote the ring
// without it and Run has not completed the ring yet.
func (r *Ring) SignerFor(alg string) (s *Signer, ok bool) {
	s, ok = r.cur.Load().signers[alg]
	return s, ok
}

// Algs returns the algorithms the ring keeps an active and a next key
// for, the primary one first. Callers must not modify the slice.
func (r *Ring) Algs() []string {
	return r.algs
}

// JWKS returns the JSON Web Key Set (RFC 7517 §5) of every published key
// of every algorithm: next, active, and retired keys whose PublishUntil
// has not passed. Each JWK carries kid, alg and use "sig". The bytes are
// built once per ring change and shared: callers must not modify them.
func (r *Ring) JWKS() []byte {
	return r.cur.Load().jwks
}

// PublicKey returns a published key's public key and algorithm, whatever
// its algorithm: callers that accept only some algorithms (access tokens
// are only ever signed with the primary one) check alg themselves.
func (r *Ring) PublicKey(kid string) (pub crypto.PublicKey, alg string, ok bool) {
	s, ok := r.cur.Load().published[kid]
	if !ok {
		return nil, "", false
	}
	return s.Public(), s.Alg, true
}

// Version returns the store version of the ring this instance holds.
func (r *Ring) Version() int64 {
	return r.cur.Load().version
}

// Reload re-reads the ring from the store. On error the ring in memory is
// kept unchanged.
func (r *Ring) Reload(ctx context.Context) error {
	return r.update(ctx, "reload", false, func(*state, time.Time) (*change, error) { return nil, nil })
}

// Rotate rotates every algorithm's keys at once: for each, the next key
// becomes active, the active key is retired (published for RetireAfter
// more) and a new next key is created; retired keys past PublishUntil are
// dropped. If another instance has already rotated the primary key this
// instance signs with away, Rotate only reloads, so instances racing to
// rotate produce a single rotation.
func (r *Ring) Rotate(ctx context.Context) error {
	target := r.Signer().KID
	// rotated is what the last decision retired, by algorithm: a lost
	// compare-and-swap decides again, and only the written one counts.
	var rotated map[string]string
	err := r.update(ctx, "rotate", false, func(s *state, now time.Time) (*change, error) {
		rotated = nil
		if s.activeKID(r.opts.Alg) != target {
			return nil, nil // rotated elsewhere: adopt that ring
		}
		rotated = make(map[string]string, len(r.algs))
		for _, alg := range r.algs {
			rotated[alg] = s.activeKID(alg)
		}
		return r.rotate(s, now)
	})
	if err != nil || rotated == nil || r.opts.OnRotate == nil {
		return err
	}
	for _, alg := range r.algs {
		if sg, ok := r.SignerFor(alg); ok {
			r.opts.OnRotate(alg, rotated[alg], sg.KID)
		}
	}
	return nil
}

// Prune drops retired keys whose PublishUntil has passed from the store
// (and so from every instance's JWKS).
func (r *Ring) Prune(ctx context.Context) error {
	return r.update(ctx, "prune", false, func(s *state, now time.Time) (*change, error) {
		var out []store.Key
		for _, k := range s.keys {
			if !expired(k, now) {
				out = append(out, k)
			}
		}
		if len(out) == len(s.keys) {
			return nil, nil
		}
		return &change{keys: out}, nil
	})
}

// Run keeps the ring current until ctx is done: every PollInterval it
// reloads when the store's ring version moved, adds the active or next
// key an algorithm lacks (an older Gatehouse that keeps only the primary
// algorithm may have rewritten the ring during an upgrade), rotates when
// the oldest active key has been active for RotationPeriod, and prunes
// expired retired keys. Errors are logged and retried at the next tick.
func (r *Ring) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.tick(ctx)
		}
	}
}

// tick is one round of Run.
func (r *Ring) tick(ctx context.Context) {
	v, err := r.st.KeyRingVersion(ctx)
	if err != nil {
		r.log.Error("keys: polling the key ring version", "err", err)
		return
	}
	if v != r.cur.Load().version {
		if err := r.Reload(ctx); err != nil {
			r.log.Error("keys: reloading the key ring", "err", err)
			return
		}
	}
	if !r.cur.Load().complete {
		err := r.update(ctx, "complete", false, func(s *state, now time.Time) (*change, error) { return r.repair(s, now, false) })
		if err != nil {
			r.log.Error("keys: adding missing keys", "err", err)
		}
	}
	snap, now := r.cur.Load(), r.opts.Clock()
	if r.opts.RotationPeriod > 0 && !snap.activatedAt.Add(r.opts.RotationPeriod).After(now) {
		if err := r.Rotate(ctx); err != nil {
			r.log.Error("keys: scheduled rotation", "err", err)
		}
		snap = r.cur.Load()
	}
	for _, k := range snap.keys {
		if expired(k, now) {
			if err := r.Prune(ctx); err != nil {
				r.log.Error("keys: pruning expired keys", "err", err)
			}
			break
		}
	}
}

// state is one read of the store, parsed.
type state struct {
	version int64
	keys    []store.Key
	entries map[string]*entry
}

// activeKID is the kid of alg's active key, or "".
func (s *state) activeKID(alg string) string {
	for _, k := range s.keys {
		if k.State == store.KeyActive && k.Alg == alg {
			return k.ID
		}
	}
	return ""
}

// change is a new ring to swap in; added holds the parsed keys created
// for it.
type change struct {
	keys  []store.Key
	added []*entry
}

// update reads the ring, asks decide what to change, and writes the change
// with compare-and-swap, re-reading and deciding again when another
// instance changed the ring meanwhile. A nil change installs what was
// read. allowPlaintext lets Open see keys stored in the clear despite a
// secret (so repair can drop them); everywhere else they are an error.
func (r *Ring) update(ctx context.Context, op string, allowPlaintext bool, decide func(*state, time.Time) (*change, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range maxAttempts {
		s, err := r.read(ctx, allowPlaintext)
		if err != nil {
			return err
		}
		now := r.now()
		c, err := decide(s, now)
		if err != nil {
			return err
		}
		if c == nil {
			return r.install(s.version, s.keys, s.entries, now)
		}
		v, err := r.st.SwapKeyRing(ctx, s.version, c.keys)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("keys: %s: writing the key ring: %w", op, err)
		}
		entries := make(map[string]*entry, len(s.entries)+len(c.added))
		for kid, e := range s.entries {
			entries[kid] = e
		}
		for _, e := range c.added {
			entries[e.signer.KID] = e
		}
		return r.install(v, c.keys, entries, now)
	}
	return fmt.Errorf("keys: %s: lost %d compare-and-swap races in a row: %w", op, maxAttempts, store.ErrConflict)
}

// read loads and parses the stored ring, reusing parsed keys of the
// current snapshot whose stored bytes are unchanged.
func (r *Ring) read(ctx context.Context, allowPlaintext bool) (*state, error) {
	ring, err := r.st.KeyRing(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: reading the key ring: %w", err)
	}
	var known map[string]*entry
	if cur := r.cur.Load(); cur != nil {
		known = cur.entries
	}
	s := &state{version: ring.Version, keys: ring.Keys, entries: make(map[string]*entry, len(ring.Keys))}
	for _, k := range ring.Keys {
		e, ok := known[k.ID]
		if !ok || string(e.private) != string(k.Private) || e.signer.Alg != k.Alg {
			if e, err = r.parse(k); err != nil {
				return nil, err
			}
		}
		if e.plaintext && r.seal.encrypted() && !allowPlaintext {
			return nil, fmt.Errorf("keys: key %s is stored unencrypted (written in development mode) but GATEHOUSE_SECRET is set; refusing to use it, since anyone with database access could have planted it (restarting gatehouse replaces such keys)", k.ID)
		}
		s.entries[k.ID] = e
	}
	return s, nil
}

// parse decrypts and parses one stored key.
func (r *Ring) parse(k store.Key) (*entry, error) {
	der, plaintext, err := r.seal.open(k.ID, k.Alg, k.Private)
	if err != nil {
		return nil, err
	}
	signer, err := parseSigner(k.ID, k.Alg, der)
	if err != nil {
		return nil, err
	}
	return &entry{private: k.Private, signer: signer, plaintext: plaintext}, nil
}

// install builds the snapshot for a ring and makes it current, unless the
// current one is newer.
func (r *Ring) install(version int64, keys []store.Key, entries map[string]*entry, now time.Time) error {
	if cur := r.cur.Load(); cur != nil && cur.version > version {
		return nil
	}
	snap := &snapshot{version: version, keys: keys, entries: make(map[string]*entry, len(keys)),
		signers: make(map[string]*Signer, len(r.algs)), published: make(map[string]*Signer, len(keys))}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	hasNext := make(map[string]bool, len(r.algs))
	activeOf := make(map[string]string, len(r.algs)) // alg → kid, of every algorithm
	for _, k := range keys {
		e, ok := entries[k.ID]
		if !ok {
			return fmt.Errorf("keys: internal error: key %s was not parsed", k.ID)
		}
		snap.entries[k.ID] = e // only keys still in the ring, so dropped ones are freed
		switch k.State {
		case store.KeyActive:
			if other, dup := activeOf[k.Alg]; dup {
				return fmt.Errorf("keys: the key ring (version %d) has more than one active %s key (%s, %s)", version, k.Alg, other, k.ID)
			}
			activeOf[k.Alg] = k.ID
			// An active key of an algorithm this instance does not keep
			// (another instance's, while a change of signing_alg rolls
			// out) is published but never signs here.
			if !slices.Contains(r.algs, k.Alg) {
				break
			}
			snap.signers[k.Alg] = e.signer
			if snap.activatedAt.IsZero() || k.ActivatedAt.Before(snap.activatedAt) {
				snap.activatedAt = k.ActivatedAt
			}
		case store.KeyNext:
			hasNext[k.Alg] = true
		}
		if expired(k, now) {
			continue
		}
		snap.published[k.ID] = e.signer
		set.Keys = append(set.Keys, e.signer.jwk())
	}
	// Without a primary key nothing can sign access tokens: refuse the
	// ring (Reload keeps the current one). A missing key of another
	// algorithm only makes the ring incomplete, for Run to fix.
	if snap.active = snap.signers[r.opts.Alg]; snap.active == nil {
		return fmt.Errorf("keys: the key ring (version %d) has no active %s key", version, r.opts.Alg)
	}
	snap.complete = true
	for _, alg := range r.algs {
		if snap.signers[alg] == nil || !hasNext[alg] {
			snap.complete = false
		}
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("keys: building JWKS: %w", err)
	}
	snap.jwks = jwks
	r.cur.Store(snap)
	return nil
}

// now is the clock truncated to what the store keeps (milliseconds, UTC),
// so the snapshot written equals the ring every other instance reads.
func (r *Ring) now() time.Time {
	return r.opts.Clock().UTC().Truncate(time.Millisecond)
}

// expired reports whether a retired key has passed its PublishUntil.
func expired(k store.Key, now time.Time) bool {
	return k.State == store.KeyRetired && !k.PublishUntil.After(now)
}
