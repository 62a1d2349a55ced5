package server

import (
	"sync"
	"testing"
	"time"
)

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := newFailureLimiter(time.Minute, 3, 100)
	// Successes never use up the bucket, however many run at once.
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 100 {
				a, ok, _ := f.begin("good", now)
				if !ok {
					t.Error("a caller with the right credentials was throttled")
					return
				}
				a.succeeded()
			}
		})
	}
	wg.Wait()
	// Failures: three tries, then blocked until the interval passes.
	for i := range 3 {
		if _, ok, _ := f.begin("bad", now); !ok {
			t.Fatalf("try %d blocked", i)
		}
	}
	_, ok, retry := f.begin("bad", now)
	if ok || retry != 60 {
		t.Fatalf("fourth try: ok=%v retry=%d, want blocked for 60 s", ok, retry)
	}
	if _, ok, _ := f.begin("bad", now.Add(61*time.Second)); !ok {
		t.Fatal("still blocked after the interval")
	}
	// A clock read out of order does not drain or refill anything.
	if _, ok, _ := f.begin("bad", now.Add(30*time.Second)); ok {
		t.Fatal("an earlier timestamp refilled the bucket")
	}
}

func TestFailureLimiterEviction(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := newFailureLimiter(time.Hour, 1, 10)
	_, _, _ = f.begin("victim", now) // throttled: its one try is used
	for i := range 50 {
		_, _, _ = f.begin(string(rune('a'+i%26))+string(rune('A'+i/26)), now.Add(time.Duration(i+1)*time.Second))
	}
	if len(f.m) > 10 {
		t.Fatalf("map grew to %d keys", len(f.m))
	}
}
