package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gatehouse/gatehouse/store"
)

// Token usage counts (store.UsageStore), in token_usage (migration 3).

// AddUsage adds the (merged) deltas in one write transaction.
func (s *sqlStore) AddUsage(ctx context.Context, deltas []store.UsageDelta) error {
	const op = "add usage"
	return s.withTx(ctx, op, func(tx querier) error {
		for _, d := range deltas {
			if _, err := tx.ExecContext(ctx, `INSERT INTO token_usage (client_id, audience, count, last_issued)
				VALUES (?, ?, ?, ?)
				ON CONFLICT (client_id, audience) DO UPDATE SET count = count + excluded.count,
					last_issued = max(last_issued, excluded.last_issued)`,
				d.ClientID, d.Audience, d.Count, toMillis(d.LastIssued)); err != nil {
				return fmt.Errorf("sqlite: %s: %w", op, err)
			}
		}
		return nil
	})
}

// Usage returns every usage row in (client, audience) byte order.
func (s *sqlStore) Usage(ctx context.Context) ([]store.UsageRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT client_id, audience, count, last_issued
		FROM token_usage ORDER BY client_id, audience`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: usage: %w", err)
	}
	defer rows.Close()
	var out []store.UsageRow
	for rows.Next() {
		var (
			u    store.UsageRow
			last sql.NullInt64
		)
		if err := rows.Scan(&u.ClientID, &u.Audience, &u.Count, &last); err != nil {
			return nil, fmt.Errorf("sqlite: usage: %w", err)
		}
		u.LastIssued = fromMillis(last)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: usage: %w", err)
	}
	return out, nil
}
