package keys

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/store"
)

// These tests cover the RS256 keys the ring keeps beside the primary
// algorithm, for ID tokens (OIDC Core §15.1).

// openLegacy writes the ring the way a Gatehouse that kept only the
// primary algorithm did: the same repair, with no RS256 alongside.
func openLegacy(t *testing.T, st store.KeyStore, opts Options) {
	t.Helper()
	seal, err := newSealer(opts.Secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &Ring{st: st, opts: opts, seal: seal, log: opts.Logger, algs: []string{opts.Alg}}
	if err := r.update(t.Context(), "open", true, func(s *state, now time.Time) (*change, error) { return r.repair(s, now, true) }); err != nil {
		t.Fatalf("legacy open: %v", err)
	}
}

// TestOpenRepairsSingleAlgRing: a ring written before RS256 was kept gets
// an RS256 active and next key on Open, in one swap, and its ES256 keys
// stay exactly as they were.
func TestOpenRepairsSingleAlgRing(t *testing.T) {
	clock := newClock()
	st := openStore(t, tempDB(t))
	openLegacy(t, st, testOptions(clock, ES256))
	before := storedRing(t, st)
	if len(before.Keys) != 2 || len(byStateAlg(before, RS256)) != 0 {
		t.Fatalf("legacy ring = %v, want two ES256 keys", byState(before))
	}

	clock.Advance(time.Minute)
	r := mustOpen(t, st, testOptions(clock, ES256))
	after := storedRing(t, st)
	if after.Version != before.Version+1 {
		t.Errorf("store version after the repair = %d, want %d (one swap)", after.Version, before.Version+1)
	}
	for _, old := range before.Keys {
		i := slices.IndexFunc(after.Keys, func(k store.Key) bool { return k.ID == old.ID })
		if i < 0 {
			t.Errorf("ES256 key %s (%s) is gone after the repair", old.ID, old.State)
			continue
		}
		k := after.Keys[i]
		if k.State != old.State || !k.ActivatedAt.Equal(old.ActivatedAt) || !bytes.Equal(k.Private, old.Private) {
			t.Errorf("ES256 key %s changed: %s/%v, was %s/%v", k.ID, k.State, k.ActivatedAt, old.State, old.ActivatedAt)
		}
	}
	rs := byStateAlg(after, RS256)
	if len(rs[store.KeyActive]) != 1 || len(rs[store.KeyNext]) != 1 || len(after.Keys) != 4 {
		t.Fatalf("RS256 keys after the repair = %v (ring of %d), want one active and one next", rs, len(after.Keys))
	}
	for _, k := range after.Keys {
		if k.Alg == RS256 && k.State == store.KeyActive && !k.ActivatedAt.Equal(clock.Now()) {
			t.Errorf("RS256 active key ActivatedAt = %v, want the repair time %v", k.ActivatedAt, clock.Now())
		}
	}
	if r.Signer().KID != byStateAlg(before, ES256)[store.KeyActive][0] {
		t.Error("the repair changed the primary signer")
	}
	if s, ok := r.SignerFor(RS256); !ok || s.KID != rs[store.KeyActive][0] {
		t.Errorf("SignerFor(RS256) = %v, %v; want %s", s, ok, rs[store.KeyActive][0])
	}
	if n := len(jwksKids(t, r)); n != 4 {
		t.Errorf("JWKS has %d keys after the repair, want 4", n)
	}

	// A second Open finds nothing to repair.
	mustOpen(t, st, testOptions(clock, ES256))
	if v := storedRing(t, st).Version; v != after.Version {
		t.Errorf("store version after a second Open = %d, want %d", v, after.Version)
	}
}

// TestRotateEveryAlgorithm: one Rotate (one swap) rotates the RS256 keys
// together with the primary ones.
func TestRotateEveryAlgorithm(t *testing.T) {
	clock := newClock()
	st := openStore(t, tempDB(t))
	opts := testOptions(clock, ES256)
	r := mustOpen(t, st, opts)
	before := storedRing(t, st)

	clock.Advance(time.Hour)
	rotatedAt := clock.Now()
	if err := r.Rotate(t.Context()); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	after := storedRing(t, st)
	if after.Version != before.Version+1 {
		t.Errorf("store version after Rotate = %d, want %d (one swap for both algorithms)", after.Version, before.Version+1)
	}
	for _, alg := range []string{ES256, RS256} {
		was, is := byStateAlg(before, alg), byStateAlg(after, alg)
		if !slices.Equal(is[store.KeyActive], was[store.KeyNext]) {
			t.Errorf("%s active after Rotate = %v, want the old next key %v", alg, is[store.KeyActive], was[store.KeyNext])
		}
		if !slices.Equal(is[store.KeyRetired], was[store.KeyActive]) {
			t.Errorf("%s retired after Rotate = %v, want the old active key %v", alg, is[store.KeyRetired], was[store.KeyActive])
		}
		if len(is[store.KeyNext]) != 1 || slices.Contains(was[store.KeyNext], is[store.KeyNext][0]) {
			t.Errorf("%s next after Rotate = %v, want one new key", alg, is[store.KeyNext])
		}
		if s, ok := r.SignerFor(alg); !ok || !slices.Equal([]string{s.KID}, was[store.KeyNext]) {
			t.Errorf("SignerFor(%s) after Rotate = %v, want the old next key %v", alg, s, was[store.KeyNext])
		}
		if got := jwksKidsAlg(t, r, alg); len(got) != 3 {
			t.Errorf("%s keys in JWKS after Rotate = %v, want active, next and retired", alg, got)
		}
	}
	for _, k := range after.Keys {
		if k.State == store.KeyRetired && (!k.RetiredAt.Equal(rotatedAt) || !k.PublishUntil.Equal(rotatedAt.Add(opts.RetireAfter))) {
			t.Errorf("retired %s key %s: RetiredAt %v PublishUntil %v", k.Alg, k.ID, k.RetiredAt, k.PublishUntil)
		}
	}
	if r.Signer().Alg != ES256 {
		t.Errorf("Signer() after Rotate has alg %s, want the primary ES256", r.Signer().Alg)
	}
}

// TestJWKSPublishesEveryAlgorithm: JWKS carries the primary keys and a
// 2048-bit RS256 key marked alg RS256, which verifies what SignerFor(RS256)
// signs; the RS256 private keys are encrypted at rest like the others.
func TestJWKSPublishesEveryAlgorithm(t *testing.T) {
	for _, primary := range []string{ES256, EdDSA} {
		t.Run(primary, func(t *testing.T) {
			st := openStore(t, tempDB(t))
			r := mustOpen(t, st, testOptions(newClock(), primary))
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(r.JWKS(), &set); err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, k := range set.Keys {
				count[k.Algorithm]++
				if k.Algorithm != RS256 {
					continue
				}
				pub, ok := k.Key.(*rsa.PublicKey)
				if !ok || pub.N.BitLen() != 2048 || k.Use != "sig" || !k.IsPublic() {
					t.Errorf("RS256 JWK %s: key %T, use %q, public %v; want a 2048-bit RSA public signing key", k.KeyID, k.Key, k.Use, k.IsPublic())
				}
			}
			if count[primary] != 2 || count[RS256] != 2 || len(set.Keys) != 4 {
				t.Errorf("JWKS algorithms = %v, want 2 %s and 2 RS256 keys", count, primary)
			}

			s, ok := r.SignerFor(RS256)
			if !ok || s.Alg != RS256 {
				t.Fatalf("SignerFor(RS256) = %v, %v", s, ok)
			}
			if pub, alg, ok := r.PublicKey(s.KID); !ok || alg != RS256 || pub == nil {
				t.Errorf("PublicKey(RS256 kid) = %v, %q, %v", pub, alg, ok)
			}
			tok := compactJWS(t, s, `{"sub":"alice"}`)
			jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
			if err != nil {
				t.Fatal(err)
			}
			if keys := set.Key(s.KID); len(keys) != 1 {
				t.Errorf("JWKS has %d keys with the RS256 signer's kid", len(keys))
			} else if _, err := jws.Verify(keys[0]); err != nil {
				t.Errorf("an RS256 signature does not verify with the published key: %v", err)
			}

			if p, ok := r.SignerFor(primary); !ok || p != r.Signer() {
				t.Errorf("SignerFor(%s) = %v, want Signer()", primary, p)
			}
			other := EdDSA
			if primary == EdDSA {
				other = ES256
			}
			if _, ok := r.SignerFor(other); ok {
				t.Errorf("SignerFor(%s) found a key in a %s ring", other, primary)
			}

			for _, k := range storedRing(t, st).Keys {
				if k.Alg != RS256 {
					continue
				}
				if k.Private[0] != envAESGCMv1 {
					t.Errorf("RS256 key %s envelope version = %d, want %d", k.ID, k.Private[0], envAESGCMv1)
				}
				if _, err := x509.ParsePKCS8PrivateKey(k.Private[1:]); err == nil {
					t.Errorf("RS256 key %s is readable PKCS#8 without the secret", k.ID)
				}
			}
		})
	}
}

// TestRunCompletesRing: an older Gatehouse that keeps only the primary
// algorithm rewrites the ring during an upgrade and retires the RS256
// keys; the next poll of a current instance adds an RS256 pair again
// without touching the primary keys or the retired RS256 key.
func TestRunCompletesRing(t *testing.T) {
	ctx := t.Context()
	path := tempDB(t)
	clock := newClock()
	st := openStore(t, path)
	a := mustOpen(t, st, testOptions(clock, ES256))
	oldRS, _ := a.SignerFor(RS256)
	primary := a.Signer().KID

	openLegacy(t, openStore(t, path), testOptions(clock, ES256))
	if rs := byStateAlg(storedRing(t, st), RS256); len(rs[store.KeyActive]) != 0 || len(rs[store.KeyNext]) != 0 {
		t.Fatalf("legacy open left RS256 keys %v", rs)
	}

	a.tick(ctx)
	ring := storedRing(t, st)
	rs := byStateAlg(ring, RS256)
	if len(rs[store.KeyActive]) != 1 || len(rs[store.KeyNext]) != 1 || !slices.Equal(rs[store.KeyRetired], []string{oldRS.KID}) {
		t.Fatalf("RS256 keys after a poll = %v, want a new active and next key and the old one retired", rs)
	}
	if s, ok := a.SignerFor(RS256); !ok || s.KID != rs[store.KeyActive][0] {
		t.Errorf("SignerFor(RS256) after a poll = %v, %v; want %s", s, ok, rs[store.KeyActive][0])
	}
	if a.Signer().KID != primary || a.Version() != ring.Version {
		t.Errorf("after a poll: Signer %s (want %s), version %d (want %d)", a.Signer().KID, primary, a.Version(), ring.Version)
	}

	// Complete again: the next poll writes nothing.
	a.tick(ctx)
	if v := storedRing(t, st).Version; v != ring.Version {
		t.Errorf("store version after a second poll = %d, want %d", v, ring.Version)
	}
}
