package server

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/store"
)

// countedStore counts store failures per operation. The sentinels of the
// store contract are outcomes, not failures, and are not counted.
type countedStore struct {
	store.Store
	errs *prometheus.CounterVec
	// revoking is called after every call that may revoke something
	// (succeeded or not: a failed write may still have landed), so what
	// remembers unrevoked tokens forgets them.
	revoking func()
}

func (c *countedStore) count(op string, err error) error {
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExpired) &&
		!errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrReused) &&
		!errors.Is(err, store.ErrRevoked) && !errors.Is(err, store.ErrCodeUsed) {
		c.errs.WithLabelValues(op).Inc()
	}
	return err
}

func (c *countedStore) Ping(ctx context.Context) error { return c.count("ping", c.Store.Ping(ctx)) }

func (c *countedStore) CreateCode(ctx context.Context, a store.AuthCode) error {
	return c.count("create_code", c.Store.CreateCode(ctx, a))
}

func (c *countedStore) GetCode(ctx context.Context, hash string) (store.AuthCode, error) {
	a, err := c.Store.GetCode(ctx, hash)
	return a, c.count("get_code", err)
}

func (c *countedStore) RedeemCode(ctx context.Context, hash string, iss store.Issued, now time.Time) (store.AuthCode, error) {
	a, err := c.Store.RedeemCode(ctx, hash, iss, now)
	if err != nil { // a replayed code revokes what it issued
		c.revoking()
	}
	return a, c.count("redeem_code", err)
}

func (c *countedStore) GetRefresh(ctx context.Context, hash string) (store.RefreshToken, store.RefreshFamily, error) {
	t, f, err := c.Store.GetRefresh(ctx, hash)
	return t, f, c.count("get_refresh", err)
}

func (c *countedStore) RotateRefresh(ctx context.Context, old string, next store.RefreshToken, a store.AccessRecord, now time.Time) (store.RefreshFamily, error) {
	f, err := c.Store.RotateRefresh(ctx, old, next, a, now)
	if err != nil { // a reused refresh token revokes its family
		c.revoking()
	}
	return f, c.count("rotate_refresh", err)
}

func (c *countedStore) RevokeFamily(ctx context.Context, id string, now time.Time) error {
	defer c.revoking()
	return c.count("revoke_family", c.Store.RevokeFamily(ctx, id, now))
}

func (c *countedStore) RevokeFamiliesBySession(ctx context.Context, sid string, now time.Time) (int, error) {
	n, err := c.Store.RevokeFamiliesBySession(ctx, sid, now)
	c.revoking()
	return n, c.count("revoke_session_families", err)
}

func (c *countedStore) RevokeAccess(ctx context.Context, jti string, exp time.Time) error {
	defer c.revoking()
	return c.count("revoke_access", c.Store.RevokeAccess(ctx, jti, exp))
}

func (c *countedStore) AccessRevoked(ctx context.Context, jti string, now time.Time) (bool, error) {
	b, err := c.Store.AccessRevoked(ctx, jti, now)
	return b, c.count("access_revoked", err)
}

func (c *countedStore) CreateSession(ctx context.Context, s store.Session) error {
	return c.count("create_session", c.Store.CreateSession(ctx, s))
}

func (c *countedStore) GetSession(ctx context.Context, id string, now time.Time) (store.Session, error) {
	s, err := c.Store.GetSession(ctx, id, now)
	return s, c.count("get_session", err)
}

func (c *countedStore) DeleteSession(ctx context.Context, id string) error {
	return c.count("delete_session", c.Store.DeleteSession(ctx, id))
}

func (c *countedStore) PutConsent(ctx context.Context, x store.Consent) error {
	return c.count("put_consent", c.Store.PutConsent(ctx, x))
}

func (c *countedStore) GetConsent(ctx context.Context, sub, client string) (store.Consent, error) {
	x, err := c.Store.GetConsent(ctx, sub, client)
	return x, c.count("get_consent", err)
}

func (c *countedStore) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	n, err := c.Store.DeleteExpired(ctx, now)
	return n, c.count("delete_expired", err)
}

func (c *countedStore) AddUsage(ctx context.Context, ds []store.UsageDelta) error {
	return c.count("add_usage", c.Store.AddUsage(ctx, ds))
}

func (c *countedStore) NoteLoginFailure(ctx context.Context, key string, at time.Time) error {
	return c.count("note_login_failure", c.Store.NoteLoginFailure(ctx, key, at))
}

func (c *countedStore) LoginFailures(ctx context.Context, key string, since time.Time) (int, error) {
	n, err := c.Store.LoginFailures(ctx, key, since)
	return n, c.count("login_failures", err)
}

func (c *countedStore) ClearLoginFailures(ctx context.Context, key string) error {
	return c.count("clear_login_failures", c.Store.ClearLoginFailures(ctx, key))
}

func (c *countedStore) LocalUser(ctx context.Context, username string) (store.Person, error) {
	p, err := c.Store.LocalUser(ctx, username)
	return p, c.count("local_user", err)
}

func (c *countedStore) GetPerson(ctx context.Context, subject string) (store.Person, error) {
	p, err := c.Store.GetPerson(ctx, subject)
	return p, c.count("get_person", err)
}

func (c *countedStore) RecordSignIn(ctx context.Context, p store.Person, now time.Time) (store.Person, error) {
	got, err := c.Store.RecordSignIn(ctx, p, now)
	return got, c.count("record_signin", err)
}

func (c *countedStore) UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error {
	return c.count("use_once", c.Store.UseOnce(ctx, key, expiresAt, now))
}
