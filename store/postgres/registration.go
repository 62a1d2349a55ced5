package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse/store"
)

// Registered clients (store.ClientRegistrationStore), in
// registered_clients (migration 8). Every method is one statement.

const registeredColumns = `id, name, redirect_uris, grant_types, auth_method, jwks, jwks_uri,
	created_at, last_used_at, expires_at`

func scanRegistered(row pgx.Row) (store.RegisteredClient, error) {
	var (
		c                      store.RegisteredClient
		created, used, expires pgtype.Timestamptz
	)
	if err := row.Scan(&c.ID, &c.Name, &c.RedirectURIs, &c.GrantTypes, &c.AuthMethod, &c.JWKS, &c.JWKSURI, &created, &used, &expires); err != nil {
		return store.RegisteredClient{}, err
	}
	c.CreatedAt, c.LastUsedAt, c.ExpiresAt = fromTS(created), fromTS(used), fromTS(expires)
	return c, nil
}

// CreateRegisteredClient stores a registered client.
func (s *sqlStore) CreateRegisteredClient(ctx context.Context, c store.RegisteredClient) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO registered_clients (`+registeredColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.ID, c.Name, list(c.RedirectURIs), list(c.GrantTypes), c.AuthMethod, claimsArg(c.JWKS), c.JWKSURI,
		ts(c.CreatedAt), ts(c.LastUsedAt), ts(c.ExpiresAt)); err != nil {
		return insertErr("create registered client", fmt.Sprintf("id %q", c.ID), err)
	}
	return nil
}

// GetRegisteredClient returns a registered client.
func (s *sqlStore) GetRegisteredClient(ctx context.Context, id string) (store.RegisteredClient, error) {
	c, err := scanRegistered(s.pool.QueryRow(ctx, `SELECT `+registeredColumns+` FROM registered_clients WHERE id = $1`, id))
	if err != nil {
		return store.RegisteredClient{}, notFound("get registered client", err)
	}
	return c, nil
}

// TouchRegisteredClient records a use.
func (s *sqlStore) TouchRegisteredClient(ctx context.Context, id string, usedAt, expiresAt time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE registered_clients SET last_used_at = $1, expires_at = $2 WHERE id = $3`,
		ts(usedAt), ts(expiresAt), id)
	if err != nil {
		return fmt.Errorf("postgres: touch registered client: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ListRegisteredClients returns every registered client ordered by ID.
func (s *sqlStore) ListRegisteredClients(ctx context.Context) ([]store.RegisteredClient, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+registeredColumns+` FROM registered_clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list registered clients: %w", err)
	}
	defer rows.Close()
	var out []store.RegisteredClient
	for rows.Next() {
		c, err := scanRegistered(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list registered clients: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list registered clients: %w", err)
	}
	return out, nil
}
