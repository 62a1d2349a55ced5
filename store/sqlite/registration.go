package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Registered clients (store.ClientRegistrationStore), in
// registered_clients (migration 8). Every method is one statement.

const registeredColumns = `id, name, redirect_uris, grant_types, auth_method, jwks, jwks_uri,
	created_at, last_used_at, expires_at`

func scanRegistered(row scanner) (store.RegisteredClient, error) {
	var (
		c                      store.RegisteredClient
		uris, grants           string
		created, used, expires sql.NullInt64
	)
	if err := row.Scan(&c.ID, &c.Name, &uris, &grants, &c.AuthMethod, &c.JWKS, &c.JWKSURI, &created, &used, &expires); err != nil {
		return store.RegisteredClient{}, err
	}
	var err error
	if c.RedirectURIs, err = decodeList(uris); err != nil {
		return store.RegisteredClient{}, err
	}
	if c.GrantTypes, err = decodeList(grants); err != nil {
		return store.RegisteredClient{}, err
	}
	c.CreatedAt, c.LastUsedAt, c.ExpiresAt = fromMillis(created), fromMillis(used), fromMillis(expires)
	return c, nil
}

// CreateRegisteredClient stores a registered client.
func (s *sqlStore) CreateRegisteredClient(ctx context.Context, c store.RegisteredClient) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO registered_clients (`+registeredColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, encodeList(c.RedirectURIs), encodeList(c.GrantTypes), c.AuthMethod, claimsArg(c.JWKS), c.JWKSURI,
		toMillis(c.CreatedAt), toMillis(c.LastUsedAt), toMillis(c.ExpiresAt)); err != nil {
		return insertErr("create registered client", fmt.Sprintf("id %q", c.ID), err)
	}
	return nil
}

// GetRegisteredClient returns a registered client.
func (s *sqlStore) GetRegisteredClient(ctx context.Context, id string) (store.RegisteredClient, error) {
	c, err := scanRegistered(s.queryRow(ctx, `SELECT `+registeredColumns+` FROM registered_clients WHERE id = ?`, id))
	if err != nil {
		return store.RegisteredClient{}, notFound("get registered client", err)
	}
	return c, nil
}

// TouchRegisteredClient records a use.
func (s *sqlStore) TouchRegisteredClient(ctx context.Context, id string, usedAt, expiresAt time.Time) error {
	const op = "touch registered client"
	res, err := s.db.ExecContext(ctx, `UPDATE registered_clients SET last_used_at = ?, expires_at = ? WHERE id = ?`,
		usedAt.UnixMilli(), expiresAt.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return affectedOne(op, res)
}

// ListRegisteredClients returns every registered client ordered by ID.
func (s *sqlStore) ListRegisteredClients(ctx context.Context) ([]store.RegisteredClient, error) {
	const op = "list registered clients"
	rows, err := s.db.QueryContext(ctx, `SELECT `+registeredColumns+` FROM registered_clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer rows.Close()
	var out []store.RegisteredClient
	for rows.Next() {
		c, err := scanRegistered(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", op, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return out, nil
}
