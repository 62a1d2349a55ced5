package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse/store"
)

// Token usage counts (store.UsageStore), in token_usage (migration 3).

// AddUsage adds the deltas with one statement, which is one transaction.
// They arrive merged, one per pair, which matters here: ON CONFLICT
// cannot update a row twice in one statement.
func (s *sqlStore) AddUsage(ctx context.Context, ds []store.UsageDelta) error {
	const op = "add usage"
	clients := make([]string, len(ds))
	auds := make([]string, len(ds))
	counts := make([]int64, len(ds))
	lasts := make([]time.Time, len(ds))
	for i, d := range ds {
		clients[i], auds[i], counts[i], lasts[i] = d.ClientID, d.Audience, d.Count, d.LastIssued
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO token_usage (client_id, audience, count, last_issued)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[])
		ON CONFLICT (client_id, audience) DO UPDATE SET count = token_usage.count + EXCLUDED.count,
			last_issued = GREATEST(token_usage.last_issued, EXCLUDED.last_issued)`,
		clients, auds, counts, lasts); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return nil
}

// Usage returns every usage row in (client, audience) byte order (the
// columns are COLLATE "C").
func (s *sqlStore) Usage(ctx context.Context) ([]store.UsageRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT client_id, audience, count, last_issued
		FROM token_usage ORDER BY client_id, audience`)
	if err != nil {
		return nil, fmt.Errorf("postgres: usage: %w", err)
	}
	defer rows.Close()
	var out []store.UsageRow
	for rows.Next() {
		var (
			u    store.UsageRow
			last pgtype.Timestamptz
		)
		if err := rows.Scan(&u.ClientID, &u.Audience, &u.Count, &last); err != nil {
			return nil, fmt.Errorf("postgres: usage: %w", err)
		}
		u.LastIssued = fromTS(last)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: usage: %w", err)
	}
	return out, nil
}
