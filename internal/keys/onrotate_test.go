package keys

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestOnRotate: the hook hears each algorithm's rotation once, with the
// key retired and the one now active, and nothing when the ring only
// adopts a rotation another instance made.
func TestOnRotate(t *testing.T) {
	ctx := t.Context()
	clock := newClock()
	path := tempDB(t)
	var heard []string
	opts := testOptions(clock, ES256)
	opts.OnRotate = func(alg, retired, active string) { heard = append(heard, fmt.Sprint(alg, " ", retired, "->", active)) }
	a := mustOpen(t, openStore(t, path), opts)
	var otherHeard int
	bOpts := testOptions(clock, ES256)
	bOpts.OnRotate = func(string, string, string) { otherHeard++ }
	b := mustOpen(t, openStore(t, path), bOpts)

	before := map[string]string{}
	for _, alg := range a.Algs() {
		s, _ := a.SignerFor(alg)
		before[alg] = s.KID
	}
	clock.Advance(time.Hour)
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, alg := range a.Algs() {
		s, _ := a.SignerFor(alg)
		want = append(want, fmt.Sprint(alg, " ", before[alg], "->", s.KID))
	}
	if !slices.Equal(heard, want) {
		t.Fatalf("heard %v, want %v", heard, want)
	}
	// b still signs with the retired key: its Rotate adopts a's ring.
	if err := b.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if otherHeard != 0 || len(heard) != len(want) {
		t.Fatalf("an adopted rotation was reported: %d, %v", otherHeard, heard)
	}
}
