package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Key ring (store.KeyStore) conformance tests.

func testKeyRingEmpty(t *testing.T, s store.Store) {
	ctx := t.Context()
	ring, err := s.KeyRing(ctx)
	if err != nil {
		t.Fatalf("KeyRing on an empty store: %v", err)
	}
	if ring.Version != 0 || len(ring.Keys) != 0 {
		t.Errorf("KeyRing on an empty store = version %d with %d keys, want version 0 with none", ring.Version, len(ring.Keys))
	}
	v, err := s.KeyRingVersion(ctx)
	if err != nil {
		t.Fatalf("KeyRingVersion on an empty store: %v", err)
	}
	if v != 0 {
		t.Errorf("KeyRingVersion on an empty store = %d, want 0", v)
	}
}

// sampleKeys is a ring with every state and every field set, in a zone
// other than UTC and with sub-millisecond parts, so a backend that drops
// the zone conversion or mangles bytes is caught.
func sampleKeys() []store.Key {
	zone := time.FixedZone("UTC+5:30", 5*3600+30*60)
	base := time.Date(2025, 3, 14, 15, 9, 26, 535_897_932, zone)
	return []store.Key{
		{
			ID: "kid-active", Alg: "ES256", State: store.KeyActive,
			Private:     []byte{0x01, 0x00, 0xff, 0x7f, 0x80, 0x00, 0x00, 0x42},
			Public:      []byte(`{"kty":"EC","crv":"P-256","kid":"kid-active"}`),
			CreatedAt:   base,
			ActivatedAt: base.Add(time.Hour),
		},
		{
			ID: "kid-next", Alg: "EdDSA", State: store.KeyNext,
			Private:   bytes.Repeat([]byte{0x00, 0xa5}, 600), // larger than a page of small rows
			Public:    []byte(`{"kty":"OKP","crv":"Ed25519","kid":"kid-next"}`),
			CreatedAt: base.Add(2 * time.Hour),
			// ActivatedAt, RetiredAt, PublishUntil stay zero.
		},
		{
			ID: "kid-retired", Alg: "RS256", State: store.KeyRetired,
			Private:      []byte("\x00"),
			Public:       []byte(`{"kty":"RSA","kid":"kid-retired"}`),
			CreatedAt:    base.Add(-48 * time.Hour),
			ActivatedAt:  base.Add(-47 * time.Hour),
			RetiredAt:    base.Add(time.Hour),
			PublishUntil: base.Add(25*time.Hour + 999*time.Microsecond),
		},
	}
}

func testKeyRingRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleKeys()
	v, err := s.SwapKeyRing(ctx, 0, want)
	if err != nil {
		t.Fatalf("SwapKeyRing(0): %v", err)
	}
	if v != 1 {
		t.Errorf("SwapKeyRing(0) = version %d, want 1", v)
	}
	ring, err := s.KeyRing(ctx)
	if err != nil {
		t.Fatalf("KeyRing: %v", err)
	}
	if ring.Version != 1 {
		t.Errorf("KeyRing().Version = %d, want 1", ring.Version)
	}
	assertKeys(t, ring.Keys, want)
}

func testKeyRingReplace(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.SwapKeyRing(ctx, 0, sampleKeys()); err != nil {
		t.Fatalf("SwapKeyRing(0): %v", err)
	}
	// The second ring keeps one kid with changed fields and drops the rest:
	// a swap replaces the ring as a whole.
	now := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	second := []store.Key{
		{ID: "kid-new", Alg: "ES256", State: store.KeyNext, Private: []byte{9}, Public: []byte("{}"), CreatedAt: now},
		{ID: "kid-active", Alg: "ES256", State: store.KeyRetired, Private: []byte{1}, Public: []byte("{}"),
			CreatedAt: now, ActivatedAt: now, RetiredAt: now, PublishUntil: now.Add(time.Hour)},
	}
	v, err := s.SwapKeyRing(ctx, 1, second)
	if err != nil {
		t.Fatalf("SwapKeyRing(1): %v", err)
	}
	if v != 2 {
		t.Errorf("SwapKeyRing(1) = version %d, want 2", v)
	}
	ring, err := s.KeyRing(ctx)
	if err != nil {
		t.Fatalf("KeyRing: %v", err)
	}
	if ring.Version != 2 {
		t.Errorf("KeyRing().Version = %d, want 2", ring.Version)
	}
	assertKeys(t, ring.Keys, second)
}

// testKeyRingActivePerAlg: internal/keys keeps an active and a next key
// per algorithm (the primary one and RS256 for ID tokens), so a ring may
// hold several keys in one state; the schema must not assume one.
func testKeyRingActivePerAlg(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	want := []store.Key{
		{ID: "es-active", Alg: "ES256", State: store.KeyActive, Private: []byte{1}, Public: []byte("{}"), CreatedAt: now, ActivatedAt: now},
		{ID: "es-next", Alg: "ES256", State: store.KeyNext, Private: []byte{2}, Public: []byte("{}"), CreatedAt: now},
		{ID: "rs-active", Alg: "RS256", State: store.KeyActive, Private: []byte{3}, Public: []byte("{}"), CreatedAt: now, ActivatedAt: now},
		{ID: "rs-next", Alg: "RS256", State: store.KeyNext, Private: []byte{4}, Public: []byte("{}"), CreatedAt: now},
		{ID: "es-retired", Alg: "ES256", State: store.KeyRetired, Private: []byte{5}, Public: []byte("{}"),
			CreatedAt: now, ActivatedAt: now, RetiredAt: now, PublishUntil: now.Add(time.Hour)},
		{ID: "rs-retired", Alg: "RS256", State: store.KeyRetired, Private: []byte{6}, Public: []byte("{}"),
			CreatedAt: now, ActivatedAt: now, RetiredAt: now, PublishUntil: now.Add(time.Hour)},
	}
	if _, err := s.SwapKeyRing(ctx, 0, want); err != nil {
		t.Fatalf("SwapKeyRing with an active key per algorithm: %v", err)
	}
	ring, err := s.KeyRing(ctx)
	if err != nil {
		t.Fatalf("KeyRing: %v", err)
	}
	assertKeys(t, ring.Keys, want)
}

func testKeyRingEmptySwap(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.SwapKeyRing(ctx, 0, sampleKeys()); err != nil {
		t.Fatalf("SwapKeyRing(0): %v", err)
	}
	v, err := s.SwapKeyRing(ctx, 1, nil)
	if err != nil {
		t.Fatalf("SwapKeyRing(1, nil): %v", err)
	}
	if v != 2 {
		t.Errorf("SwapKeyRing(1, nil) = version %d, want 2", v)
	}
	ring, err := s.KeyRing(ctx)
	if err != nil {
		t.Fatalf("KeyRing: %v", err)
	}
	if ring.Version != 2 || len(ring.Keys) != 0 {
		t.Errorf("KeyRing after an empty swap = version %d with %d keys, want version 2 with none", ring.Version, len(ring.Keys))
	}
}

func testKeyRingConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleKeys()
	if _, err := s.SwapKeyRing(ctx, 0, want); err != nil {
		t.Fatalf("SwapKeyRing(0): %v", err)
	}
	other := []store.Key{{ID: "intruder", Alg: "ES256", State: store.KeyActive, Private: []byte{1}, Public: []byte("{}")}}
	for _, expected := range []int64{0, 2, 7, -1} {
		v, err := s.SwapKeyRing(ctx, expected, other)
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("SwapKeyRing(%d) at version 1 = (%d, %v), want ErrConflict", expected, v, err)
		}
	}
	ring, err := s.KeyRing(ctx)
	if err != nil {
		t.Fatalf("KeyRing: %v", err)
	}
	if ring.Version != 1 {
		t.Errorf("KeyRing().Version after conflicts = %d, want 1 (a conflict must change nothing)", ring.Version)
	}
	assertKeys(t, ring.Keys, want)
}

func testKeyRingDuplicateID(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleKeys()
	if _, err := s.SwapKeyRing(ctx, 0, want); err != nil {
		t.Fatalf("SwapKeyRing(0): %v", err)
	}
	dup := []store.Key{
		{ID: "same", Alg: "ES256", State: store.KeyActive, Private: []byte{1}, Public: []byte("{}")},
		{ID: "same", Alg: "ES256", State: store.KeyNext, Private: []byte{2}, Public: []byte("{}")},
	}
	if _, err := s.SwapKeyRing(ctx, 1, dup); err == nil {
		t.Fatal("SwapKeyRing with two keys of one ID succeeded, want an error")
	} else if errors.Is(err, store.ErrConflict) {
		t.Errorf("SwapKeyRing with duplicate IDs = %v, want an error other than ErrConflict", err)
	}
	// The failed swap must have changed nothing: not the version, not the
	// keys (a half-applied delete+insert would show here).
	ring, err := s.KeyRing(ctx)
	if err != nil {
		t.Fatalf("KeyRing: %v", err)
	}
	if ring.Version != 1 {
		t.Errorf("KeyRing().Version after a failed swap = %d, want 1", ring.Version)
	}
	assertKeys(t, ring.Keys, want)
}

func testKeyRingConcurrentSwap(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.SwapKeyRing(ctx, 0, sampleKeys()); err != nil {
		t.Fatalf("SwapKeyRing(0): %v", err)
	}
	const n = 8
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
		vers  = make([]int64, n)
	)
	for i := range n {
		wg.Go(func() {
			keys := []store.Key{{ID: fmt.Sprintf("writer-%d", i), Alg: "ES256", State: store.KeyActive,
				Private: []byte{byte(i)}, Public: []byte("{}")}}
			<-start
			vers[i], errs[i] = s.SwapKeyRing(ctx, 1, keys)
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("writers %d and %d both won a swap from version 1", winner, i)
			}
			winner = i
			if vers[i] != 2 {
				t.Errorf("winning SwapKeyRing returned version %d, want 2", vers[i])
			}
		case errors.Is(err, store.ErrConflict):
		default:
			t.Errorf("writer %d: SwapKeyRing = %v, want nil or ErrConflict (a busy database must wait, not fail)", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won the swap from version 1")
	}
	ring, err := s.KeyRing(ctx)
	if err != nil {
		t.Fatalf("KeyRing: %v", err)
	}
	if ring.Version != 2 {
		t.Errorf("KeyRing().Version = %d, want 2", ring.Version)
	}
	if len(ring.Keys) != 1 || ring.Keys[0].ID != fmt.Sprintf("writer-%d", winner) {
		t.Errorf("KeyRing().Keys = %v, want only the winner's key writer-%d", keyIDs(ring.Keys), winner)
	}
}

func testKeyRingVersion(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys := sampleKeys()
	for want := int64(1); want <= 3; want++ {
		if _, err := s.SwapKeyRing(ctx, want-1, keys[:want]); err != nil {
			t.Fatalf("SwapKeyRing(%d): %v", want-1, err)
		}
		v, err := s.KeyRingVersion(ctx)
		if err != nil {
			t.Fatalf("KeyRingVersion: %v", err)
		}
		ring, err := s.KeyRing(ctx)
		if err != nil {
			t.Fatalf("KeyRing: %v", err)
		}
		if v != want || ring.Version != want {
			t.Errorf("after %d swaps KeyRingVersion = %d and KeyRing().Version = %d, want both %d", want, v, ring.Version, want)
		}
	}
}

// assertKeys compares every field. Times must come back in UTC and equal
// to what was written at millisecond precision (a backend may keep more);
// zero times must stay zero; byte slices must be byte-for-byte identical;
// order must be kept.
func assertKeys(t *testing.T, got, want []store.Key) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d keys %v, want %d keys %v", len(got), keyIDs(got), len(want), keyIDs(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID {
			t.Errorf("key %d: ID = %q, want %q (order must be kept)", i, g.ID, w.ID)
			continue
		}
		if g.Alg != w.Alg {
			t.Errorf("key %s: Alg = %q, want %q", w.ID, g.Alg, w.Alg)
		}
		if g.State != w.State {
			t.Errorf("key %s: State = %q, want %q", w.ID, g.State, w.State)
		}
		if !bytes.Equal(g.Private, w.Private) {
			t.Errorf("key %s: Private = %x, want %x", w.ID, g.Private, w.Private)
		}
		if !bytes.Equal(g.Public, w.Public) {
			t.Errorf("key %s: Public = %q, want %q", w.ID, g.Public, w.Public)
		}
		assertTime(t, w.ID+" CreatedAt", g.CreatedAt, w.CreatedAt)
		assertTime(t, w.ID+" ActivatedAt", g.ActivatedAt, w.ActivatedAt)
		assertTime(t, w.ID+" RetiredAt", g.RetiredAt, w.RetiredAt)
		assertTime(t, w.ID+" PublishUntil", g.PublishUntil, w.PublishUntil)
	}
}

func assertTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero time", what, got)
		}
		return
	}
	if got.Location() != time.UTC {
		t.Errorf("%s = %v in %v, want UTC", what, got, got.Location())
	}
	// Millisecond precision at least: the stored value may be truncated
	// (or rounded) to the millisecond, never further.
	if d := got.Sub(want); d <= -time.Millisecond || d >= time.Millisecond {
		t.Errorf("%s = %v, want %v (off by %v, more than the 1ms the contract allows)", what, got, want.UTC(), d)
	}
}

func keyIDs(ks []store.Key) []string {
	ids := make([]string, len(ks))
	for i, k := range ks {
		ids[i] = k.ID
	}
	return ids
}
