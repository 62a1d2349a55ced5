package server

import (
	"fmt"
	"testing"
	"time"
)

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := newFailureLimiter(time.Minute, 3, 100, 1)
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

// TestFailureLimiterFloodKeepsThrottle: failures with made-up keys — from
// the throttled key's own address and from many others, more than the
// table holds — neither free a throttled key nor grow the table past its
// bounds. (An earlier version evicted the older half of a full table, and
// the throttled key with it.)
func TestFailureLimiterFloodKeepsThrottle(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const maxKeys, perGroup = 100, 4
	f := newFailureLimiter(time.Hour, 2, maxKeys, perGroup)
	victim := "203.0.113.9\x00order-sync-job"
	f.fail(victim, now)
	f.fail(victim, now)
	guess := func(key string) {
		now = now.Add(time.Millisecond)
		if b, _ := f.blocked(key, now); !b {
			f.fail(key, now)
		}
	}
	for i := range 10_000 {
		guess(fmt.Sprintf("203.0.113.9\x00made-up-%d", i))
		guess(fmt.Sprintf("198.51.%d.%d\x00made-up-%d", i/250%256, i%250, i%7))
		if b, _ := f.blocked(victim, now); !b {
			t.Fatalf("throttled key freed after %d made-up keys", 2*(i+1))
		}
		if total, own := f.size("203.0.113.9"); total > maxKeys || own > perGroup+1 {
			t.Fatalf("after %d made-up keys: %d buckets, %d for one address", 2*(i+1), total, own)
		}
	}
	if _, ok, _ := f.begin(victim, now); ok {
		t.Fatal("throttled key got a try")
	}
	// The bounds are what let it fill: the flood's own address is throttled
	// as a whole, and new keys share the spill bucket.
	if b, _ := f.blocked("203.0.113.9\x00yet-another", now); !b {
		t.Error("an address past its limit got a fresh bucket for a new client id")
	}
	if b, _ := f.blocked("192.0.2.1\x00c", now); !b {
		t.Error("a new key got a fresh bucket while the table is full of throttled keys")
	}
	// Once everything has refilled, every key starts afresh, the table is
	// swept and new keys get buckets of their own again.
	now = now.Add(3 * time.Hour)
	if _, ok, _ := f.begin(victim, now); !ok {
		t.Fatal("still throttled after refilling")
	}
	f.fail("192.0.2.1\x00c", now)
	if total, own := f.size("192.0.2.1"); own != 1 || total > 3 {
		t.Errorf("after refilling: %d buckets, %d for a new address; want the table swept", total, own)
	}
}

// TestFailureLimiterBareKeys: the login limiters' keys (a username, an
// address) have no name part; they keep the same guarantee.
func TestFailureLimiterBareKeys(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := newFailureLimiter(time.Minute, 5, 50, 1)
	for range 5 {
		f.fail("alice", now)
	}
	for i := range 10_000 {
		now = now.Add(time.Millisecond)
		f.fail(fmt.Sprintf("user-%d", i), now)
	}
	if b, _ := f.blocked("alice", now); !b {
		t.Fatal("a made-up username flood freed a throttled user")
	}
	if total, _ := f.size("alice"); total > 50 {
		t.Fatalf("%d buckets, want at most 50", total)
	}
}

// TestFailureLimiterGroupOverflowRefills: an address past its limit
// shares one bucket for new ids, which refills like any other; its
// known ids keep their own buckets.
func TestFailureLimiterGroupOverflowRefills(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := newFailureLimiter(time.Minute, 1, 100, 2)
	f.fail("a\x00known", now)
	f.fail("a\x00x", now)
	f.fail("a\x00y", now) // the overflow bucket's one try
	if b, _ := f.blocked("a\x00z", now); !b {
		t.Fatal("overflow bucket not shared")
	}
	if b, _ := f.blocked("b\x00z", now); b {
		t.Fatal("another address is throttled by a's overflow")
	}
	now = now.Add(time.Minute)
	if b, _ := f.blocked("a\x00z", now); b {
		t.Fatal("overflow bucket did not refill")
	}
	if _, ok, _ := f.begin("a\x00z", now); !ok {
		t.Fatal("a refilled address got no try")
	}
	if _, own := f.size("a"); own > 3 {
		t.Errorf("%d buckets for one address, want at most 3", own)
	}
}

// size reports how many buckets f holds in all and for group.
func (f *failureLimiter) size(group string) (total, inGroup int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.groups[group]; g != nil {
		inGroup = len(g.names)
		if g.overflow != nil {
			inGroup++
		}
	}
	return f.n, inGroup
}

// ClientAuthBuckets reports how many buckets s's client-authentication
// limiter holds in all and for addr, for tests of its memory bound.
func ClientAuthBuckets(s *Server, addr string) (total, forAddr int) { return s.failures.size(addr) }
