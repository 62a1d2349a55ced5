package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Failed sign-in counts (store.LoginThrottleStore) conformance tests.

// assertFailures checks LoginFailures(key, since).
func assertFailures(t *testing.T, s store.Store, key string, since time.Time, want int) {
	t.Helper()
	n, err := s.LoginFailures(t.Context(), key, since)
	if err != nil || n != want {
		t.Errorf("LoginFailures(%q, %v) = %d, %v; want %d, nil", key, since, n, err, want)
	}
}

func noteFailure(t *testing.T, s store.Store, key string, at time.Time) {
	t.Helper()
	if err := s.NoteLoginFailure(t.Context(), key, at); err != nil {
		t.Fatalf("NoteLoginFailure(%q, %v): %v", key, at, err)
	}
}

// testLoginFailuresCount checks the count and its since-window, boundary
// included, and that keys are compared exactly.
func testLoginFailuresCount(t *testing.T, s store.Store) {
	assertFailures(t, s, "k1", t0, 0)
	noteFailure(t, s, "k1", t0)
	noteFailure(t, s, "k1", t0.Add(time.Minute))
	// Two failures at one instant are two failures.
	noteFailure(t, s, "k1", t0.Add(2*time.Minute))
	noteFailure(t, s, "k1", t0.Add(2*time.Minute))
	// Other keys, one differing only in case, count separately.
	noteFailure(t, s, "K1", t0)
	noteFailure(t, s, "k2", t0.Add(time.Minute))

	assertFailures(t, s, "k1", t0.Add(-time.Hour), 4)
	// since is inclusive, at millisecond precision: t0 carries
	// sub-millisecond digits that the stored time does not.
	assertFailures(t, s, "k1", t0, 4)
	assertFailures(t, s, "k1", t0.Add(time.Minute), 3)
	assertFailures(t, s, "k1", ms(t0.Add(time.Minute)).Add(time.Millisecond), 2)
	assertFailures(t, s, "k1", t0.Add(2*time.Minute), 2)
	assertFailures(t, s, "k1", ms(t0.Add(2*time.Minute)).Add(time.Millisecond), 0)
	// The same instant in another zone is the same instant.
	assertFailures(t, s, "k1", t0.Add(time.Minute).UTC(), 3)
	assertFailures(t, s, "K1", t0, 1)
	assertFailures(t, s, "k2", t0, 1)
	assertFailures(t, s, "k3", t0, 0)
}

func testLoginFailuresClear(t *testing.T, s store.Store) {
	ctx := t.Context()
	noteFailure(t, s, "k1", t0)
	noteFailure(t, s, "k1", t0.Add(time.Second))
	noteFailure(t, s, "k2", t0)
	if err := s.ClearLoginFailures(ctx, "k1"); err != nil {
		t.Fatalf("ClearLoginFailures(k1): %v", err)
	}
	assertFailures(t, s, "k1", t0.Add(-time.Hour), 0)
	assertFailures(t, s, "k2", t0.Add(-time.Hour), 1)
	// Clearing a key with no failures is not an error.
	for _, k := range []string{"k1", "never-noted"} {
		if err := s.ClearLoginFailures(ctx, k); err != nil {
			t.Errorf("ClearLoginFailures(%q) with none noted = %v, want nil", k, err)
		}
	}
	// Counting starts again from zero.
	noteFailure(t, s, "k1", t0.Add(time.Minute))
	assertFailures(t, s, "k1", t0.Add(-time.Hour), 1)
}

func testLoginFailuresInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	for name, err := range map[string]error{
		"NoteLoginFailure with an empty key":   s.NoteLoginFailure(ctx, "", t0),
		"NoteLoginFailure with a zero time":    s.NoteLoginFailure(ctx, "k", time.Time{}),
		"ClearLoginFailures with an empty key": s.ClearLoginFailures(ctx, ""),
	} {
		if err == nil || isSentinel(err) {
			t.Errorf("%s = %v, want a plain error", name, err)
		}
	}
	for _, tc := range []struct {
		key   string
		since time.Time
	}{{"", t0}, {"k", time.Time{}}} {
		if n, err := s.LoginFailures(ctx, tc.key, tc.since); err == nil || isSentinel(err) || n != 0 {
			t.Errorf("LoginFailures(%q, %v) = %d, %v; want 0 and a plain error", tc.key, tc.since, n, err)
		}
	}
	// The refused note changed nothing.
	assertFailures(t, s, "k", t0.Add(-time.Hour), 0)
}

// testLoginFailuresConcurrent notes failures from many goroutines at once,
// as many instances would: none is lost.
func testLoginFailuresConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, rounds = 16, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*2)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				// Every worker notes the shared key at the same few
				// instants, and its own key once per round.
				errs <- s.NoteLoginFailure(ctx, "shared", t0.Add(time.Duration(r)*time.Second))
				errs <- s.NoteLoginFailure(ctx, fmt.Sprintf("w%d", w), t0)
				if _, err := s.LoginFailures(ctx, "shared", t0); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent NoteLoginFailure: %v", err)
		}
	}
	assertFailures(t, s, "shared", t0, workers*rounds)
	assertFailures(t, s, "shared", t0.Add(time.Second), workers*(rounds-1))
	for w := range workers {
		assertFailures(t, s, fmt.Sprintf("w%d", w), t0, rounds)
	}
}

// testLoginFailuresDeleteExpired checks that DeleteExpired drops failures
// noted at or before now - LoginFailureRetention, and only those.
func testLoginFailuresDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := ms(t0)
	now := base.Add(store.LoginFailureRetention)
	noteFailure(t, s, "k", base.Add(-time.Hour))       // long gone
	noteFailure(t, s, "k", base)                       // exactly at the bound: gone
	noteFailure(t, s, "k", base.Add(time.Millisecond)) // just inside: kept
	noteFailure(t, s, "k", now)                        // recent: kept
	noteFailure(t, s, "other", base.Add(-time.Minute)) // gone
	n, err := s.DeleteExpired(ctx, now)
	if err != nil || n != 3 {
		t.Errorf("DeleteExpired = %d, %v; want 3, nil", n, err)
	}
	assertFailures(t, s, "k", base.Add(-24*time.Hour), 2)
	assertFailures(t, s, "other", base.Add(-24*time.Hour), 0)
	if n, err := s.DeleteExpired(ctx, now); err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}
