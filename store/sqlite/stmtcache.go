package sqlite

import (
	"context"
	"database/sql"
)

// querier is what statements run on: a transaction, or the cached form of
// one (cachedTx) — the helpers that insert rows accept either.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// prepared returns the statement for query, preparing it once per store.
// database/sql then prepares it at most once per pooled connection, so the
// hot paths (refresh rotation, revocation checks) stop paying SQLite's SQL
// parser on every call: in the pure-Go driver that was a third of a
// rotation's CPU.
func (s *sqlStore) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if v, ok := s.stmts.Load(query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if v, loaded := s.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// cachedTx runs statements of a transaction through the statement cache.
type cachedTx struct {
	s  *sqlStore
	tx *sql.Tx
}

func (s *sqlStore) cached(tx *sql.Tx) cachedTx { return cachedTx{s, tx} }

func (c cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.s.prepared(ctx, query)
	if err != nil {
		return c.tx.ExecContext(ctx, query, args...)
	}
	return c.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

func (c cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.s.prepared(ctx, query)
	if err != nil {
		return c.tx.QueryRowContext(ctx, query, args...)
	}
	return c.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}

func (c cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.s.prepared(ctx, query)
	if err != nil {
		return c.tx.QueryContext(ctx, query, args...)
	}
	return c.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

// queryRow runs a single-row read outside a transaction, cached.
func (s *sqlStore) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
