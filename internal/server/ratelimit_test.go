package server

import (
	"testing"
	"time"
)

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := newFailureLimiter(time.Minute, 3, 100)
	// Successes never use up the bucket: each gives its token back.
	for range 1000 {
		a, ok, _ := f.begin("good", now)
		if !ok {
			t.Fatal("a caller with the right credentials was throttled")
		}
		a.succeeded()
	}
	// A reservation holds its token only while the slow check runs: with
	// a burst of 3, a fourth concurrent slow check waits its turn.
	held := make([]attempt, 3)
	for i := range held {
		held[i], _, _ = f.begin("slow", now)
	}
	if _, ok, _ := f.begin("slow", now); ok {
		t.Fatal("more slow checks in flight than the burst")
	}
	for _, a := range held {
		a.succeeded()
	}
	if _, ok, _ := f.begin("slow", now); !ok {
		t.Fatal("tokens not given back")
	}
	// Cheap failures are recorded without a reservation.
	for range 3 {
		if b, _ := f.blocked("cheap", now); b {
			t.Fatal("blocked before three failures")
		}
		f.fail("cheap", now)
	}
	if b, retry := f.blocked("cheap", now); !b || retry != 60 {
		t.Fatalf("after three failures: blocked=%v retry=%d", b, retry)
	}
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
