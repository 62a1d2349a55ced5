package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Token usage (store.UsageStore) conformance tests.

func testUsageEmpty(t *testing.T, s store.Store) {
	rows, err := s.Usage(t.Context())
	if err != nil || rows != nil {
		t.Fatalf("Usage of an empty store = %v, %v; want nil, nil", rows, err)
	}
	if err := s.AddUsage(t.Context(), nil); err != nil {
		t.Fatalf("AddUsage(nil) = %v, want nil", err)
	}
}

func testUsageAdd(t *testing.T, s store.Store) {
	ctx := t.Context()
	later := t0.Add(time.Hour)
	if err := s.AddUsage(ctx, []store.UsageDelta{
		{ClientID: "job", Audience: "order-api", Count: 3, LastIssued: t0},
		{ClientID: "job", Audience: "job", Count: 1, LastIssued: t0},
		// The same pair twice in one call adds up and keeps the later time.
		{ClientID: "job", Audience: "order-api", Count: 2, LastIssued: later},
		// Case matters: a different pair.
		{ClientID: "Job", Audience: "order-api", Count: 7, LastIssued: t0},
	}); err != nil {
		t.Fatalf("AddUsage: %v", err)
	}
	// A second flush (another instance, or the next minute) adds to the
	// counts; an older LastIssued does not move the time back.
	if err := s.AddUsage(ctx, []store.UsageDelta{
		{ClientID: "job", Audience: "order-api", Count: 10, LastIssued: t0.Add(time.Minute)},
		{ClientID: "job", Audience: "job", Count: 4, LastIssued: later},
	}); err != nil {
		t.Fatalf("AddUsage again: %v", err)
	}
	want := []store.UsageRow{
		{ClientID: "Job", Audience: "order-api", Count: 7, LastIssued: ms(t0).UTC()},
		{ClientID: "job", Audience: "job", Count: 5, LastIssued: ms(later).UTC()},
		{ClientID: "job", Audience: "order-api", Count: 15, LastIssued: ms(later).UTC()},
	}
	assertUsage(t, s, want)
}

func testUsageInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	good := store.UsageDelta{ClientID: "job", Audience: "api", Count: 1, LastIssued: t0}
	for _, tc := range []struct {
		name string
		bad  store.UsageDelta
	}{
		{"empty client", store.UsageDelta{Audience: "api", Count: 1, LastIssued: t0}},
		{"empty audience", store.UsageDelta{ClientID: "job", Count: 1, LastIssued: t0}},
		{"zero count", store.UsageDelta{ClientID: "job", Audience: "api", LastIssued: t0}},
		{"negative count", store.UsageDelta{ClientID: "job", Audience: "api", Count: -5, LastIssued: t0}},
		{"zero time", store.UsageDelta{ClientID: "job", Audience: "api", Count: 1}},
	} {
		// The good delta comes first: a refused call changes nothing at all.
		if err := s.AddUsage(ctx, []store.UsageDelta{good, tc.bad}); err == nil || isSentinel(err) {
			t.Errorf("AddUsage with %s = %v, want a plain error", tc.name, err)
		}
	}
	assertUsage(t, s, nil)
}

func testUsageConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, rounds = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				errs <- s.AddUsage(ctx, []store.UsageDelta{
					{ClientID: "job", Audience: "api", Count: 1, LastIssued: t0.Add(time.Duration(w*rounds+r) * time.Second)},
					{ClientID: fmt.Sprintf("w%d", w), Audience: "api", Count: 2, LastIssued: t0},
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent AddUsage: %v", err)
		}
	}
	want := []store.UsageRow{{ClientID: "job", Audience: "api", Count: workers * rounds,
		LastIssued: ms(t0.Add(time.Duration(workers*rounds-1) * time.Second)).UTC()}}
	for w := range workers {
		want = append(want, store.UsageRow{ClientID: fmt.Sprintf("w%d", w), Audience: "api", Count: 2 * rounds, LastIssued: ms(t0).UTC()})
	}
	assertUsage(t, s, want)
}

func assertUsage(t *testing.T, s store.Store, want []store.UsageRow) {
	t.Helper()
	got, err := s.Usage(t.Context())
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	eq := func(a, b store.UsageRow) bool {
		return a.ClientID == b.ClientID && a.Audience == b.Audience && a.Count == b.Count &&
			a.LastIssued.Equal(b.LastIssued) && a.LastIssued.Location() == time.UTC
	}
	if !slices.EqualFunc(got, want, eq) {
		t.Errorf("Usage =\n%v\nwant (times in UTC)\n%v", got, want)
	}
}
