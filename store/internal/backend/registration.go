package backend

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Registered clients (store.ClientRegistrationStore).

func shapeRegisteredClient(c store.RegisteredClient) store.RegisteredClient {
	c.RedirectURIs, c.GrantTypes = list(c.RedirectURIs), list(c.GrantTypes)
	if len(c.JWKS) == 0 {
		c.JWKS = nil
	}
	c.CreatedAt, c.LastUsedAt, c.ExpiresAt = stored(c.CreatedAt), stored(c.LastUsedAt), stored(c.ExpiresAt)
	return c
}

// CreateRegisteredClient stores a registered client.
func (c *Checked) CreateRegisteredClient(ctx context.Context, rc store.RegisteredClient) error {
	r := c.required("create registered client")
	r.nonEmpty("ID", rc.ID)
	r.nonZero("CreatedAt", rc.CreatedAt)
	r.nonZero("ExpiresAt", rc.ExpiresAt)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.CreateRegisteredClient(ctx, shapeRegisteredClient(rc))
}

// GetRegisteredClient returns a registered client unless it has expired.
func (c *Checked) GetRegisteredClient(ctx context.Context, id string, now time.Time) (store.RegisteredClient, error) {
	r := c.required("get registered client")
	r.nonZero("now", now)
	if err := r.err(); err != nil {
		return store.RegisteredClient{}, err
	}
	rc, err := c.sql.GetRegisteredClient(ctx, id)
	if err != nil {
		return store.RegisteredClient{}, err
	}
	if !now.Before(rc.ExpiresAt) {
		return store.RegisteredClient{}, fmt.Errorf("get registered client: %w", store.ErrExpired)
	}
	return shapeRegisteredClient(rc), nil
}

// TouchRegisteredClient records a use and moves the expiry on.
func (c *Checked) TouchRegisteredClient(ctx context.Context, id string, usedAt, expiresAt time.Time) error {
	r := c.required("touch registered client")
	r.nonEmpty("ID", id)
	r.nonZero("usedAt", usedAt)
	r.nonZero("expiresAt", expiresAt)
	if err := r.err(); err != nil {
		return err
	}
	return c.sql.TouchRegisteredClient(ctx, id, stored(usedAt), stored(expiresAt))
}

// ListRegisteredClients returns every registered client.
func (c *Checked) ListRegisteredClients(ctx context.Context) ([]store.RegisteredClient, error) {
	rcs, err := c.sql.ListRegisteredClients(ctx)
	if err != nil {
		return nil, err
	}
	for i := range rcs {
		rcs[i] = shapeRegisteredClient(rcs[i])
	}
	return rcs, nil
}
