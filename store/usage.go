package store

import (
	"context"
	"time"
)

// UsageDelta is what one instance counted for a (client, audience) pair
// since its last flush: Count more access tokens of ClientID whose aud
// named Audience, the latest issued at LastIssued.
type UsageDelta struct {
	ClientID string
	Audience string
	// Count is at least 1.
	Count int64
	// LastIssued is required.
	LastIssued time.Time
}

// UsageRow is the running total of a (client, audience) pair.
type UsageRow struct {
	ClientID string
	Audience string
	// Count is every token counted for the pair, by every instance, since
	// the first.
	Count int64
	// LastIssued is the latest LastIssued any delta carried.
	LastIssued time.Time
}

// UsageStore keeps per (client, audience) issuance counts, for the audit of
// audiences that are granted but never requested. Servers aggregate in
// memory and flush periodically; the store never sees a write per token.
type UsageStore interface {
	// AddUsage adds every delta in one transaction: count += Count and
	// last_issued = the later of the stored and the given time, creating
	// the row when absent. Several deltas of one pair in a call add up.
	// A delta with an empty ClientID or Audience, a Count below 1 or a
	// zero LastIssued is refused with an error before anything changes.
	// An empty slice succeeds and changes nothing.
	AddUsage(ctx context.Context, deltas []UsageDelta) error
	// Usage returns every row, ordered by ClientID, then Audience
	// (byte-wise), and nil when there is none.
	Usage(ctx context.Context) ([]UsageRow, error)
}
