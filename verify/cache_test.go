package verify_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

func TestCacheHit(t *testing.T) {
	e := newEnv(t, func(c *verify.Config) { c.CacheSize = 100 })
	ctx := context.Background()
	tok := e.key.Sign(e.claims())
	first, err := e.v.Verify(ctx, tok, "orders:read")
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.v.Verify(ctx, tok, "orders:read")
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Error("repeated token not answered from the cache")
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := e.v.Verify(ctx, tok, "orders:read"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("cache hit allocates %v times", allocs)
	}
	// Scopes are checked on every hit, not remembered.
	_, err = e.v.Verify(ctx, tok, "orders:write")
	wantCheck(t, err, verify.CheckScope)
	if _, err := e.v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
}

func TestCacheNeverOutlivesExp(t *testing.T) {
	e := newEnv(t, func(c *verify.Config) { c.CacheSize = 100 })
	ctx := context.Background()
	tok := e.key.Sign(e.claims())
	if _, err := e.v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	e.iss.Clock.Advance(10*time.Minute + verify.DefaultLeeway)
	_, err := e.v.Verify(ctx, tok)
	wantCheck(t, err, verify.CheckExpiry)
	if n := verify.CacheLen(e.v); n != 0 {
		t.Errorf("expired entry kept: %d", n)
	}
}

func TestCacheDoesNotHoldFailures(t *testing.T) {
	e := newEnv(t, func(c *verify.Config) { c.CacheSize = 100 })
	ctx := context.Background()
	for _, tok := range []string{
		e.key.Sign(e.claims().With("aud", "hr-api")),
		e.key.Sign(e.claims().With("exp", 1)),
		tamper(e.key.Sign(e.claims()), e.claims().With("sub", "admin")),
	} {
		for range 2 {
			if _, err := e.v.Verify(ctx, tok); err == nil {
				t.Fatal("accepted")
			}
		}
	}
	if n := verify.CacheLen(e.v); n != 0 {
		t.Errorf("cache holds %d refused tokens", n)
	}
}

func TestCacheBounded(t *testing.T) {
	e := newEnv(t, func(c *verify.Config) { c.CacheSize = 32 })
	ctx := context.Background()
	for i := range 500 {
		tok := e.key.Sign(e.claims().With("jti", fmt.Sprint(i)))
		if _, err := e.v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	// 16 shards of ceil(32/16) entries.
	if n := verify.CacheLen(e.v); n > 32 {
		t.Errorf("cache holds %d entries, want at most 32", n)
	}
}

func TestCacheDropsRetiredKey(t *testing.T) {
	e := newEnv(t, func(c *verify.Config) { c.CacheSize = 100 })
	ctx := context.Background()
	tok := e.key.Sign(e.claims())
	if _, err := e.v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// A refresh that publishes the same key again keeps the entry valid.
	if err := e.v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	e.iss.Publish(testkit.ES256Key("k2"))
	if err := e.v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := e.v.Verify(ctx, tok)
	wantCheck(t, err, verify.CheckKey)
}
