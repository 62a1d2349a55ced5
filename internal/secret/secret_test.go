package secret

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestForms(t *testing.T) {
	argon, err := HashArgon2id("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for name, stored := range map[string]string{
		"plain":    "correct horse battery",
		"argon2id": argon,
		"bcrypt":   string(bc),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Parse(stored)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second round exercises the cache of slow hashes
				if !c.Check("correct horse battery") {
					t.Fatal("right secret refused")
				}
				wrongs := []string{"", "correct horse batter", "Correct horse battery"}
				if name != "plain" {
					wrongs = append(wrongs, stored) // the hash itself is not the secret
				}
				for _, wrong := range wrongs {
					if c.Check(wrong) {
						t.Fatalf("wrong secret %q accepted", wrong)
					}
				}
			}
		})
	}
}

func TestMalformedArgon2(t *testing.T) {
	for _, s := range []string{
		"$argon2id$",
		"$argon2id$v=18$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=1,t=1,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=1,t=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=1,t=1,p=1,x=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted a malformed hash", s)
		}
	}
	if _, err := Parse("$2b$04$short"); err == nil {
		t.Error("malformed bcrypt accepted")
	}
}

func BenchmarkPlain(b *testing.B) {
	c, _ := Parse("sync-job-secret-change-me")
	b.ReportAllocs()
	for b.Loop() {
		c.Check("sync-job-secret-change-me")
	}
}

func BenchmarkArgon2Cached(b *testing.B) {
	h, _ := HashArgon2id("sync-job-secret-change-me")
	c, _ := Parse(h)
	c.Check("sync-job-secret-change-me")
	b.ReportAllocs()
	for b.Loop() {
		if !c.Check("sync-job-secret-change-me") {
			b.Fatal("refused")
		}
	}
}

type slowChecker struct {
	mu       sync.Mutex
	cur, max int
}

func (s *slowChecker) Check(string) bool {
	s.mu.Lock()
	s.cur++
	s.max = max(s.max, s.cur)
	s.mu.Unlock()
	time.Sleep(5 * time.Millisecond) // on the bubble's fake clock: see TestGateBoundsConcurrency
	s.mu.Lock()
	s.cur--
	s.mu.Unlock()
	return false
}

// TestGateBoundsConcurrency: however many checks arrive at once, no more
// than the gate admits run together (each argon2id check holds ~19 MiB).
// In a synctest bubble each check's 5ms takes no real time and the
// schedule is exact: the gate is full at once (max is 3, not merely at
// most 3), and 40 checks take ⌈40/3⌉ rounds of 5ms on the fake clock.
func TestGateBoundsConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &slowChecker{}
		c := gated{inner: inner, gate: NewGate(3)}
		start := time.Now()
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() { c.Check("x") })
		}
		wg.Wait()
		if inner.max != 3 {
			t.Fatalf("%d checks ran at once, gate allows 3", inner.max)
		}
		if got, want := time.Since(start), 14*5*time.Millisecond; got != want {
			t.Errorf("40 checks took %v on the fake clock, want %v (14 rounds of 3)", got, want)
		}
	})
}
