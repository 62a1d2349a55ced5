package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

const testSecret = "correct horse battery staple, 32+ chars"

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openStore opens the real SQLite store on a file; every call with the
// same path is like another process sharing the database.
func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func tempDB(t *testing.T) string {
	return filepath.Join(t.TempDir(), "gatehouse.db")
}

func quietLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

func testOptions(clock *fakeClock, alg string) Options {
	return Options{
		Alg:         alg,
		Secret:      testSecret,
		RetireAfter: 2 * time.Hour,
		Clock:       clock.Now,
		Logger:      quietLogger(),
	}
}

func mustOpen(t *testing.T, st store.KeyStore, opts Options) *Ring {
	t.Helper()
	r, err := Open(t.Context(), st, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

func storedRing(t *testing.T, st store.KeyStore) store.KeyRing {
	t.Helper()
	ring, err := st.KeyRing(t.Context())
	if err != nil {
		t.Fatalf("KeyRing: %v", err)
	}
	return ring
}

// byState maps state → kids in the stored ring.
func byState(ring store.KeyRing) map[store.KeyState][]string {
	m := map[store.KeyState][]string{}
	for _, k := range ring.Keys {
		m[k.State] = append(m[k.State], k.ID)
	}
	return m
}

// byStateAlg is byState for the keys of one algorithm.
func byStateAlg(ring store.KeyRing, alg string) map[store.KeyState][]string {
	m := map[store.KeyState][]string{}
	for _, k := range ring.Keys {
		if k.Alg == alg {
			m[k.State] = append(m[k.State], k.ID)
		}
	}
	return m
}

// ringAlgs is what the ring keeps besides primary: RS256 too, for ID
// tokens (OIDC Core §15.1).
func ringAlgs(primary string) []string {
	if primary == RS256 {
		return []string{RS256}
	}
	return []string{primary, RS256}
}

// jwksKids parses the JWKS and checks every key carries kid, alg and use.
func jwksKids(t *testing.T, r *Ring) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.JWKS(), &set); err != nil {
		t.Fatalf("JWKS is not a JWK set: %v\n%s", err, r.JWKS())
	}
	var kids []string
	for _, k := range set.Keys {
		if k.KeyID == "" || k.Algorithm == "" || k.Use != "sig" {
			t.Errorf("JWKS key %+v lacks kid, alg or use=sig", k)
		}
		if !k.IsPublic() {
			t.Errorf("JWKS key %s is not a public key", k.KeyID)
		}
		kids = append(kids, k.KeyID)
	}
	slices.Sort(kids)
	return kids
}

// jwksKidsAlg is jwksKids for the keys whose JWK alg is alg.
func jwksKidsAlg(t *testing.T, r *Ring, alg string) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.JWKS(), &set); err != nil {
		t.Fatalf("JWKS is not a JWK set: %v\n%s", err, r.JWKS())
	}
	var kids []string
	for _, k := range set.Keys {
		if k.Algorithm == alg {
			kids = append(kids, k.KeyID)
		}
	}
	slices.Sort(kids)
	return kids
}

func containsAll(s, sub []string) bool {
	for _, v := range sub {
		if !slices.Contains(s, v) {
			return false
		}
	}
	return true
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestOpenCreatesActiveAndNext opens an empty store: every algorithm of
// the ring (the primary one and RS256) gets an active and a next key, in
// one swap.
func TestOpenCreatesActiveAndNext(t *testing.T) {
	for _, alg := range []string{ES256, EdDSA, RS256} {
		t.Run(alg, func(t *testing.T) {
			st := openStore(t, tempDB(t))
			r := mustOpen(t, st, testOptions(newClock(), alg))

			ring := storedRing(t, st)
			if ring.Version != 1 {
				t.Errorf("store version after the first Open = %d, want 1", ring.Version)
			}
			algs := ringAlgs(alg)
			if !slices.Equal(r.Algs(), algs) {
				t.Errorf("Algs() = %v, want %v", r.Algs(), algs)
			}
			if len(ring.Keys) != 2*len(algs) {
				t.Errorf("stored ring has %d keys, want an active and a next key for each of %v", len(ring.Keys), algs)
			}
			var all []string
			for _, a := range algs {
				states := byStateAlg(ring, a)
				if len(states[store.KeyActive]) != 1 || len(states[store.KeyNext]) != 1 {
					t.Fatalf("stored %s keys = %v, want one active and one next key", a, states)
				}
				active, next := states[store.KeyActive][0], states[store.KeyNext][0]
				if got, ok := r.SignerFor(a); !ok || got.KID != active || got.Alg != a {
					t.Errorf("SignerFor(%s) = %v, %v; want %s", a, got, ok, active)
				}
				all = append(all, active, next)
			}
			active := byStateAlg(ring, alg)[store.KeyActive][0]
			if got := r.Signer(); got.KID != active || got.Alg != alg {
				t.Errorf("Signer() = %s/%s, want the primary %s/%s", got.KID, got.Alg, active, alg)
			}
			if got, want := jwksKids(t, r), sorted(all...); !slices.Equal(got, want) {
				t.Errorf("JWKS kids = %v, want every active and next key %v", got, want)
			}
			// A second Open finds a complete ring and writes nothing.
			mustOpen(t, st, testOptions(newClock(), alg))
			if v := storedRing(t, st).Version; v != 1 {
				t.Errorf("store version after a second Open = %d, want 1 (nothing to repair)", v)
			}
		})
	}
}

// verifySig checks a signature with the standard library's verifiers,
// decoding ES256 as the JWS R||S form.
func verifySig(t *testing.T, pub any, alg string, input, sig []byte) {
	t.Helper()
	digest := sha256.Sum256(input)
	switch alg {
	case ES256:
		if len(sig) != 64 {
			t.Fatalf("ES256 signature is %d bytes, want 64 (R||S)", len(sig))
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub.(*ecdsa.PublicKey), digest[:], r, s) {
			t.Error("ES256 signature does not verify")
		}
	case EdDSA:
		if !ed25519.Verify(pub.(ed25519.PublicKey), input, sig) {
			t.Error("EdDSA signature does not verify")
		}
	case RS256:
		if err := rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
			t.Errorf("RS256 signature does not verify: %v", err)
		}
	}
}

// compactJWS signs a token the way internal/issue will.
func compactJWS(t *testing.T, s *Signer, payload string) string {
	t.Helper()
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + s.Alg + `","kid":"` + s.KID + `","typ":"JWT"}`))
	input := header + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sig, err := s.Sign([]byte(input))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestSignVerifies(t *testing.T) {
	for _, alg := range []string{ES256, EdDSA, RS256} {
		t.Run(alg, func(t *testing.T) {
			r := mustOpen(t, openStore(t, tempDB(t)), testOptions(newClock(), alg))
			s := r.Signer()
			pub, gotAlg, ok := r.PublicKey(s.KID)
			if !ok || gotAlg != alg {
				t.Fatalf("PublicKey(%s) = %v, %q, %v", s.KID, pub, gotAlg, ok)
			}
			for _, input := range []string{"", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9", strings.Repeat("x", 5000)} {
				sig, err := s.Sign([]byte(input))
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				verifySig(t, pub, alg, []byte(input), sig)
			}

			// A whole compact JWS verifies with go-jose and the JWK from JWKS.
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(r.JWKS(), &set); err != nil {
				t.Fatal(err)
			}
			jwk := set.Key(s.KID)
			if len(jwk) != 1 {
				t.Fatalf("JWKS has %d keys with kid %s, want 1", len(jwk), s.KID)
			}
			tok := compactJWS(t, s, `{"sub":"alice"}`)
			jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatalf("ParseSigned: %v", err)
			}
			payload, err := jws.Verify(jwk[0])
			if err != nil || string(payload) != `{"sub":"alice"}` {
				t.Errorf("go-jose Verify = %q, %v", payload, err)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	ctx := t.Context()
	clock := newClock()
	st := openStore(t, tempDB(t))
	opts := testOptions(clock, ES256)
	r := mustOpen(t, st, opts)
	states := byStateAlg(storedRing(t, st), ES256)
	oldActive, oldNext := states[store.KeyActive][0], states[store.KeyNext][0]
	rsKids := jwksKidsAlg(t, r, RS256) // rotated too; TestRotateEveryAlgorithm has the details

	clock.Advance(time.Hour)
	rotatedAt := clock.Now()
	if err := r.Rotate(ctx); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	ring := storedRing(t, st)
	if ring.Version != 2 {
		t.Errorf("store version after Rotate = %d, want 2", ring.Version)
	}
	states = byStateAlg(ring, ES256)
	if got := states[store.KeyActive]; !slices.Equal(got, []string{oldNext}) {
		t.Errorf("active after Rotate = %v, want the old next key %s", got, oldNext)
	}
	if got := states[store.KeyRetired]; !slices.Equal(got, []string{oldActive}) {
		t.Errorf("retired after Rotate = %v, want the old active key %s", got, oldActive)
	}
	if len(states[store.KeyNext]) != 1 || states[store.KeyNext][0] == oldNext {
		t.Fatalf("next after Rotate = %v, want one new key", states[store.KeyNext])
	}
	newNext := states[store.KeyNext][0]
	for _, k := range ring.Keys {
		switch k.ID {
		case oldActive:
			if !k.RetiredAt.Equal(rotatedAt) || !k.PublishUntil.Equal(rotatedAt.Add(opts.RetireAfter)) {
				t.Errorf("retired key: RetiredAt %v PublishUntil %v, want %v and %v", k.RetiredAt, k.PublishUntil, rotatedAt, rotatedAt.Add(opts.RetireAfter))
			}
		case oldNext:
			if !k.ActivatedAt.Equal(rotatedAt) {
				t.Errorf("new active key ActivatedAt = %v, want %v", k.ActivatedAt, rotatedAt)
			}
		}
	}
	if r.Signer().KID != oldNext {
		t.Errorf("Signer() after Rotate = %s, want %s", r.Signer().KID, oldNext)
	}
	if got, want := jwksKidsAlg(t, r, ES256), sorted(oldActive, oldNext, newNext); !slices.Equal(got, want) {
		t.Errorf("ES256 JWKS after Rotate = %v, want %v (retired key still published)", got, want)
	}
	if got := jwksKidsAlg(t, r, RS256); len(got) != 3 || !containsAll(got, rsKids) {
		t.Errorf("RS256 JWKS after Rotate = %v, want the old %v and a new next key", got, rsKids)
	}

	// Just before PublishUntil the retired key stays.
	clock.Advance(opts.RetireAfter - time.Millisecond)
	if err := r.Prune(ctx); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if _, _, ok := r.PublicKey(oldActive); !ok {
		t.Error("retired key left PublicKey before PublishUntil")
	}
	if v := storedRing(t, st).Version; v != 2 {
		t.Errorf("Prune with nothing expired wrote the ring (version %d, want 2)", v)
	}

	// At PublishUntil it goes, from memory and from the store.
	clock.Advance(time.Millisecond)
	if err := r.Prune(ctx); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if got, want := jwksKidsAlg(t, r, ES256), sorted(oldNext, newNext); !slices.Equal(got, want) {
		t.Errorf("ES256 JWKS after PublishUntil = %v, want %v", got, want)
	}
	if n := len(jwksKidsAlg(t, r, RS256)); n != 2 {
		t.Errorf("JWKS has %d RS256 keys after PublishUntil, want 2 (the retired one dropped)", n)
	}
	if _, _, ok := r.PublicKey(oldActive); ok {
		t.Error("PublicKey still finds the retired key after PublishUntil")
	}
	if ids := byState(storedRing(t, st))[store.KeyRetired]; len(ids) != 0 {
		t.Errorf("store still holds retired keys %v after PublishUntil", ids)
	}
}

func TestReopenSameSecret(t *testing.T) {
	ctx := t.Context()
	path := tempDB(t)
	clock := newClock()
	st1, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r1 := mustOpen(t, st1, testOptions(clock, ES256))
	jwks1 := r1.JWKS()
	s1 := r1.Signer()
	input := []byte("header.payload")
	sig, err := s1.Sign(input)
	if err != nil {
		t.Fatal(err)
	}
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}

	r2 := mustOpen(t, openStore(t, path), testOptions(clock, ES256))
	if r2.Signer().KID != s1.KID {
		t.Errorf("active kid after reopen = %s, want %s", r2.Signer().KID, s1.KID)
	}
	if !bytes.Equal(r2.JWKS(), jwks1) {
		t.Errorf("JWKS after reopen differs:\n%s\nwant\n%s", r2.JWKS(), jwks1)
	}
	pub, alg, ok := r2.PublicKey(s1.KID)
	if !ok {
		t.Fatal("reopened ring lacks the old active key")
	}
	verifySig(t, pub, alg, input, sig)
}

func TestSecretErrors(t *testing.T) {
	ctx := t.Context()
	clock := newClock()
	st := openStore(t, tempDB(t))
	mustOpen(t, st, testOptions(clock, ES256))

	wrong := testOptions(clock, ES256)
	wrong.Secret = strings.Repeat("w", 40)
	if _, err := Open(ctx, st, wrong); !errors.Is(err, ErrSecretWrong) || !strings.Contains(err.Error(), "GATEHOUSE_SECRET is wrong") {
		t.Errorf("Open with a wrong secret = %v, want ErrSecretWrong", err)
	}
	missing := testOptions(clock, ES256)
	missing.Secret = ""
	if _, err := Open(ctx, st, missing); !errors.Is(err, ErrSecretMissing) || !strings.Contains(err.Error(), "GATEHOUSE_SECRET is not set") {
		t.Errorf("Open without a secret = %v, want ErrSecretMissing", err)
	}
	short := testOptions(clock, ES256)
	short.Secret = strings.Repeat("s", MinSecretLength-1)
	if _, err := Open(ctx, st, short); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("Open with a %d-character secret = %v, want a too-short error", MinSecretLength-1, err)
	}
	bad := testOptions(clock, "HS256")
	if _, err := Open(ctx, st, bad); err == nil || !strings.Contains(err.Error(), "HS256") {
		t.Errorf("Open with alg HS256 = %v, want an unsupported-algorithm error", err)
	}
	// Nothing above may have changed the stored ring.
	if v := storedRing(t, st).Version; v != 1 {
		t.Errorf("store version = %d after failed Opens, want 1", v)
	}
}

// TestTamperedKeyRefused moves one key's encrypted private key under
// another kid: the AEAD's associated data must catch it.
func TestTamperedKeyRefused(t *testing.T) {
	ctx := t.Context()
	clock := newClock()
	st := openStore(t, tempDB(t))
	mustOpen(t, st, testOptions(clock, ES256))
	ring := storedRing(t, st)
	ring.Keys[0].Private, ring.Keys[1].Private = ring.Keys[1].Private, ring.Keys[0].Private
	if _, err := st.SwapKeyRing(ctx, ring.Version, ring.Keys); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, st, testOptions(clock, ES256)); !errors.Is(err, ErrSecretWrong) {
		t.Errorf("Open of a ring with swapped private keys = %v, want ErrSecretWrong", err)
	}
}

func TestDevelopmentMode(t *testing.T) {
	clock := newClock()
	st := openStore(t, tempDB(t))
	var logs bytes.Buffer
	opts := testOptions(clock, ES256)
	opts.Secret = ""
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	r := mustOpen(t, st, opts)

	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "DEVELOPMENT MODE") {
		t.Errorf("dev-mode Open logged %q, want a DEVELOPMENT MODE warning", logs.String())
	}
	ring := storedRing(t, st)
	for _, k := range ring.Keys {
		if k.Private[0] != envPlain {
			t.Fatalf("key %s envelope version = %d, want %d (plaintext)", k.ID, k.Private[0], envPlain)
		}
		if _, err := x509.ParsePKCS8PrivateKey(k.Private[1:]); err != nil {
			t.Errorf("key %s plaintext envelope does not hold PKCS#8: %v", k.ID, err)
		}
	}
	if _, err := r.Signer().Sign([]byte("x")); err != nil {
		t.Errorf("Sign in dev mode: %v", err)
	}

	// Setting a secret later: the plaintext keys are not trusted; Open
	// replaces them with encrypted ones.
	logs.Reset()
	prod := testOptions(clock, ES256)
	prod.Logger = opts.Logger
	r2 := mustOpen(t, st, prod)
	if strings.Contains(logs.String(), "DEVELOPMENT MODE") {
		t.Error("Open with a secret logged the development-mode warning")
	}
	ring2 := storedRing(t, st)
	for _, k := range ring2.Keys {
		if k.Private[0] != envAESGCMv1 {
			t.Errorf("key %s envelope version = %d after setting a secret, want %d", k.ID, k.Private[0], envAESGCMv1)
		}
		for _, old := range ring.Keys {
			if k.ID == old.ID {
				t.Errorf("plaintext key %s survived setting a secret", k.ID)
			}
		}
	}
	if _, _, ok := r2.PublicKey(ring.Keys[0].ID); ok {
		t.Error("JWKS still publishes a plaintext dev-mode key")
	}
}

func TestEncryptedEnvelope(t *testing.T) {
	st := openStore(t, tempDB(t))
	mustOpen(t, st, testOptions(newClock(), EdDSA))
	for _, k := range storedRing(t, st).Keys {
		if k.Private[0] != envAESGCMv1 {
			t.Errorf("key %s envelope version = %d, want %d", k.ID, k.Private[0], envAESGCMv1)
		}
		if _, err := x509.ParsePKCS8PrivateKey(k.Private[1:]); err == nil {
			t.Errorf("key %s is readable PKCS#8 without the secret", k.ID)
		}
	}
}

// TestConcurrentRotate runs two instances (two store handles on one file,
// as two processes would) rotating at the same moment.
func TestConcurrentRotate(t *testing.T) {
	ctx := t.Context()
	path := tempDB(t)
	clock := newClock()
	stA, stB := openStore(t, path), openStore(t, path)
	a := mustOpen(t, stA, testOptions(clock, ES256))
	b := mustOpen(t, stB, testOptions(clock, ES256))
	before := storedRing(t, stA).Version
	if a.Signer().KID != b.Signer().KID {
		t.Fatal("the two instances start with different active keys")
	}

	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, 2)
	for i, r := range []*Ring{a, b} {
		wg.Go(func() {
			<-start
			errs[i] = r.Rotate(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: Rotate: %v", i, err)
		}
	}
	if v := storedRing(t, stA).Version; v != before+1 {
		t.Errorf("store version after two concurrent Rotates = %d, want %d (exactly one rotation)", v, before+1)
	}
	for _, r := range []*Ring{a, b} {
		if err := r.Reload(ctx); err != nil {
			t.Fatalf("Reload: %v", err)
		}
	}
	if a.Signer().KID != b.Signer().KID || !bytes.Equal(a.JWKS(), b.JWKS()) || a.Version() != b.Version() {
		t.Errorf("instances disagree after Reload: %s v%d vs %s v%d", a.Signer().KID, a.Version(), b.Signer().KID, b.Version())
	}
	if n := len(jwksKids(t, a)); n != 6 {
		t.Errorf("JWKS has %d keys after one rotation, want 6 (ES256 and RS256: active, next, retired)", n)
	}
}

func TestAlgorithmChange(t *testing.T) {
	clock := newClock()
	var logs bytes.Buffer
	st := openStore(t, tempDB(t))
	es := mustOpen(t, st, testOptions(clock, ES256))
	oldActive := es.Signer().KID
	rsBefore := jwksKidsAlg(t, es, RS256)

	clock.Advance(time.Minute)
	opts := testOptions(clock, EdDSA)
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	ed := mustOpen(t, st, opts)

	if got := ed.Signer(); got.Alg != EdDSA || got.KID == oldActive {
		t.Errorf("Signer() after the alg change = %s/%s, want a new EdDSA key", got.KID, got.Alg)
	}
	if !strings.Contains(logs.String(), "algorithm changed") {
		t.Errorf("alg change not logged; logs: %s", logs.String())
	}
	ring := storedRing(t, st)
	states := byState(ring)
	if !slices.Equal(states[store.KeyRetired], []string{oldActive}) {
		t.Errorf("retired = %v, want the old ES256 key %s", states[store.KeyRetired], oldActive)
	}
	for _, k := range ring.Keys {
		if k.State != store.KeyRetired && k.Alg != EdDSA && k.Alg != RS256 {
			t.Errorf("%s key %s has alg %s, want EdDSA or RS256", k.State, k.ID, k.Alg)
		}
	}
	// The RS256 pair is kept by both configurations, so it is untouched.
	if got := jwksKidsAlg(t, ed, RS256); !slices.Equal(got, rsBefore) {
		t.Errorf("RS256 keys after the alg change = %v, want the same %v", got, rsBefore)
	}
	// Tokens signed before the change still verify until PublishUntil.
	if _, alg, ok := ed.PublicKey(oldActive); !ok || alg != ES256 {
		t.Errorf("PublicKey(old ES256 key) = %q, %v; want ES256, true", alg, ok)
	}
	if n := len(jwksKids(t, ed)); n != 5 {
		t.Errorf("JWKS has %d keys, want 5 (EdDSA and RS256 active and next, ES256 retired)", n)
	}
}

// TestRunFollowsOtherInstances checks that Run polls the version and
// adopts a rotation made elsewhere. It runs in a synctest bubble: the poll
// ticker runs on the bubble's fake clock, so the test takes no real time
// waiting for ticks (SQLite is in-process file I/O, which a bubble allows).
func TestRunFollowsOtherInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		path := tempDB(t)
		clock := newClock()
		optsA := testOptions(clock, ES256)
		optsA.PollInterval = 5 * time.Millisecond
		a := mustOpen(t, openStore(t, path), optsA)
		b := mustOpen(t, openStore(t, path), testOptions(clock, ES256))

		done := make(chan struct{})
		go func() { defer close(done); a.Run(ctx) }()
		if err := b.Rotate(ctx); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		want := b.Signer().KID
		waitFor(t, optsA.PollInterval, func() bool { return a.Signer().KID == want }, "instance A to adopt B's rotation")
		cancel()
		<-done
	})
}

// TestRunRotatesWhenDue checks scheduled rotation, and that two instances
// running it at once rotate once. In a synctest bubble "some ticks pass
// and nothing happens" is exact: sleeping on the fake clock fires a known
// number of ticks, and synctest.Wait returns once both instances have
// finished their rounds, so the negative checks cannot pass by being early.
func TestRunRotatesWhenDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		path := tempDB(t)
		clock := newClock()
		opts := testOptions(clock, ES256)
		opts.RotationPeriod = 24 * time.Hour
		opts.PollInterval = 5 * time.Millisecond
		st := openStore(t, path)
		a := mustOpen(t, st, opts)
		b := mustOpen(t, openStore(t, path), opts)
		first := a.Signer().KID
		v0 := a.Version()

		var wg sync.WaitGroup
		wg.Go(func() { a.Run(ctx) })
		wg.Go(func() { b.Run(ctx) })
		time.Sleep(6 * opts.PollInterval) // six ticks each before the period ends: no rotation
		synctest.Wait()
		if a.Signer().KID != first || storedRing(t, st).Version != v0 {
			t.Fatal("rotated before RotationPeriod")
		}
		clock.Advance(24 * time.Hour)
		waitFor(t, opts.PollInterval, func() bool { return a.Signer().KID != first && b.Signer().KID == a.Signer().KID }, "both instances to rotate")
		time.Sleep(6 * opts.PollInterval) // more ticks: the clock stands still, so no second rotation
		synctest.Wait()
		cancel()
		wg.Wait()
		if v := storedRing(t, st).Version; v != v0+1 {
			t.Errorf("store version = %d after scheduled rotation, want %d (exactly one)", v, v0+1)
		}
	})
}

// waitFor lets a synctest bubble's fake clock run one poll interval at a
// time, each time until every goroutine has finished its round, until cond
// holds; a bounded number of rounds, so a broken Run fails rather than
// hangs.
func waitFor(t *testing.T, poll time.Duration, cond func() bool, what string) {
	t.Helper()
	for range 100 {
		if cond() {
			return
		}
		time.Sleep(poll)
		synctest.Wait()
	}
	t.Fatalf("%s: not within 100 polls", what)
}

func TestASN1ToRaw(t *testing.T) {
	b := func(n int, v byte) []byte { return bytes.Repeat([]byte{v}, n) }
	der := func(r, s []byte) []byte {
		body := append(append([]byte{0x02, byte(len(r))}, r...), append([]byte{0x02, byte(len(s))}, s...)...)
		return append([]byte{0x30, byte(len(body))}, body...)
	}
	tests := []struct {
		name string
		in   []byte
		want []byte // nil: error
	}{
		{"full width", der(b(32, 0x11), b(32, 0x22)), append(b(32, 0x11), b(32, 0x22)...)},
		{"sign padding", der(append([]byte{0}, b(32, 0x81)...), append([]byte{0}, b(32, 0x92)...)), append(b(32, 0x81), b(32, 0x92)...)},
		{"short r", der(b(30, 0x33), b(32, 0x44)), append(append(b(2, 0), b(30, 0x33)...), b(32, 0x44)...)},
		{"short s", der(b(32, 0x55), []byte{0x01}), append(append(b(32, 0x55), b(31, 0)...), 0x01)},
		{"r too long", der(b(33, 0x11), b(32, 0x22)), nil},
		{"trailing bytes", append(der(b(32, 1), b(32, 2)), 0), nil},
		{"not a sequence", append([]byte{0x31}, der(b(32, 1), b(32, 2))[1:]...), nil},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := asn1ToRaw(tc.in)
			if tc.want == nil {
				if err == nil {
					t.Errorf("asn1ToRaw = %x, want an error", got)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("asn1ToRaw = %x, %v; want %x", got, err, tc.want)
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	input := []byte("eyJhbGciOiJFUzI1NiIsImtpZCI6IngiLCJ0eXAiOiJhdCtqd3QifQ.eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUuY29tIiwic3ViIjoiYWxpY2UiLCJhdWQiOlsib3JkZXJzIl0sImV4cCI6MTcwMDAwMDAwMH0")
	for _, alg := range []string{ES256, EdDSA, RS256} {
		b.Run(alg, func(b *testing.B) {
			s, err := generate(alg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
