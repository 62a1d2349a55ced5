package server

import (
	"context"
	"maps"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// DefaultUsageFlushInterval is how often RunUsage writes the counts when
// the caller gives no interval.
const DefaultUsageFlushInterval = time.Minute

// usageCounters counts issued access tokens per (client, audience value)
// in memory, for `gatehouse audit --usage`. The counter table is built once
// from the configuration and never changes afterwards, so the token path
// reads it without a lock and pays two atomic operations per aud value;
// the store sees one upsert per pair per flush, never a write per token.
//
// Every aud a token can carry is in its client's allowed set (the client
// plus its configured audience: policy.Model.Grant narrows within it and
// Restrict cuts refresh grants down to it), so the table is complete.
//
// A configuration reload swaps in a larger table (extend) that keeps every
// counter of the old one, so no count is lost across a reload.
type usageCounters struct {
	table atomic.Pointer[map[string]map[string]*usageCounter]
}

// usageCounter is one (client, audience) pair, allocated on its own. The
// padding makes each allocation larger than a cache line, so the hot
// fields of two pairs never share one and busy pairs do not slow each
// other down (false sharing).
type usageCounter struct {
	client, audience string
	n                atomic.Int64
	// last is the latest issuance time in Unix nanoseconds.
	last atomic.Int64
	_    [64]byte
}

func newUsageCounters(cfg *config.Config) *usageCounters {
	u := &usageCounters{}
	u.extend(cfg)
	return u
}

// extend adds the pairs of cfg to the table. Existing counters are kept
// (also of clients cfg no longer has, whose counts are still to flush).
// Reloads are serialised by the caller.
func (u *usageCounters) extend(cfg *config.Config) {
	next := map[string]map[string]*usageCounter{}
	if old := u.table.Load(); old != nil {
		for id, m := range *old {
			next[id] = maps.Clone(m)
		}
	}
	for _, c := range cfg.Clients {
		m := next[c.ID]
		if m == nil {
			m = map[string]*usageCounter{}
			next[c.ID] = m
		}
		for _, a := range append([]string{c.ID}, c.Audience...) {
			if m[a] == nil {
				m[a] = &usageCounter{client: c.ID, audience: a}
			}
		}
	}
	u.table.Store(&next)
}

func (u *usageCounters) byClient() map[string]map[string]*usageCounter { return *u.table.Load() }

// count records one token of clientID for every value of aud, issued at.
// A value outside the table (impossible with a validated configuration)
// is not counted rather than allocating on the token path.
func (u *usageCounters) count(clientID string, aud []string, at time.Time) {
	if u == nil {
		return
	}
	m := u.byClient()[clientID]
	if m == nil {
		return
	}
	ns := at.UnixNano()
	for _, a := range aud {
		c := m[a]
		if c == nil {
			continue
		}
		c.n.Add(1)
		for {
			old := c.last.Load()
			if ns <= old || c.last.CompareAndSwap(old, ns) {
				break
			}
		}
	}
}

// take removes and returns the counts gathered since the last take.
func (u *usageCounters) take() []store.UsageDelta {
	var out []store.UsageDelta
	for _, m := range u.byClient() {
		for _, c := range m {
			n := c.n.Swap(0)
			if n == 0 {
				continue
			}
			out = append(out, store.UsageDelta{ClientID: c.client, Audience: c.audience, Count: n,
				LastIssued: time.Unix(0, c.last.Load()).UTC()})
		}
	}
	return out
}

// giveBack returns deltas whose write failed to the counters, so that the
// next flush carries them and nothing is lost.
func (u *usageCounters) giveBack(ds []store.UsageDelta) {
	for _, d := range ds {
		if c := u.byClient()[d.ClientID][d.Audience]; c != nil {
			c.n.Add(d.Count)
		}
	}
}

// FlushUsage writes the issuance counts gathered since the last flush to
// the store in one call. When the write fails the counts are kept for the
// next flush. Safe to call concurrently with token issuance and with
// itself.
func (s *Server) FlushUsage(ctx context.Context) error {
	ds := s.usage.take()
	if len(ds) == 0 {
		return nil
	}
	if err := s.store.AddUsage(ctx, ds); err != nil {
		s.usage.giveBack(ds)
		return err
	}
	return nil
}

// RunUsage flushes the issuance counts every interval (DefaultUsageFlushInterval
// when every <= 0) until ctx ends. It does not flush when ctx ends: the
// caller calls FlushUsage once more after it has stopped serving, so the
// last tokens are counted too.
func (s *Server) RunUsage(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultUsageFlushInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.FlushUsage(ctx); err != nil {
				s.log.Error("writing token usage counts failed; they are kept for the next flush", "error", err)
			}
		}
	}
}
