package server

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
)

// BenchmarkUsageCount is the counting alone, for one token with a
// two-value aud, from every P at once (the contended case).
func BenchmarkUsageCount(b *testing.B) {
	u := newUsageCounters(&config.Config{Clients: []config.Client{{ID: "job", Audience: []string{"api"}}}})
	aud := []string{"job", "api"}
	now := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u.count("job", aud, now)
		}
	})
}

// TestUsageCountersTake: take returns and resets the counts, keeps the
// latest time, and ignores values outside the table.
func TestUsageCountersTake(t *testing.T) {
	u := newUsageCounters(&config.Config{Clients: []config.Client{{ID: "job", Audience: []string{"api", "job"}}}})
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u.count("job", []string{"job", "api"}, t0.Add(time.Minute))
	u.count("job", []string{"api"}, t0) // older: LastIssued stays
	u.count("job", []string{"elsewhere"}, t0)
	u.count("nobody", []string{"api"}, t0)
	got := map[string]int64{}
	for _, d := range u.take() {
		got[d.ClientID+" "+d.Audience] = d.Count
		if !d.LastIssued.Equal(t0.Add(time.Minute)) {
			t.Errorf("%s %s: LastIssued %v, want %v", d.ClientID, d.Audience, d.LastIssued, t0.Add(time.Minute))
		}
	}
	if len(got) != 2 || got["job job"] != 1 || got["job api"] != 2 {
		t.Errorf("take = %v, want job job:1, job api:2", got)
	}
	if again := u.take(); len(again) != 0 {
		t.Errorf("second take = %v, want nothing", again)
	}
}
