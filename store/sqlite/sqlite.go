// Package sqlite is Gatehouse's embedded default store: one SQLite file,
// no cgo (modernc.org/sqlite), no set-up. It implements store.Store and
// passes store/storetest.
//
// Durability: every connection runs with journal_mode=WAL and
// synchronous=FULL, so a transaction that has committed survives a crash or
// power loss, as the store contract demands. The price is one fsync of the
// WAL per commit (NORMAL would skip it and could lose the last commits on
// power loss). The exception is UseOnce's marks, written on a connection
// of their own with synchronous=NORMAL, as store.OnceStore allows. Write transactions start with BEGIN IMMEDIATE, so concurrent
// writers queue on busy_timeout instead of failing with SQLITE_BUSY when a
// read lock cannot be upgraded.
//
// Several processes may share one file on a local disk; for several hosts
// use PostgreSQL.
//
// This package holds only the SQL (backend.SQL, on sqlStore): the
// contract's argument checks and the shape of results (UTC times, nil
// lists) are store/internal/backend's Checked, which Store embeds.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	sqlitedrv "modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
)

var (
	_ store.Store = (*Store)(nil)
	_ backend.SQL = (*sqlStore)(nil)
)

// busyTimeout is how long a connection waits for another writer before a
// statement fails with SQLITE_BUSY. Write transactions are short (a key
// ring swap, a code redemption), so a long wait means something is wrong.
const busyTimeout = 10 * time.Second

// Store is a store.Store on one SQLite database file. It is safe for
// concurrent use.
type Store struct {
	// Store is every store.Store method: the contract's checks
	// (backend.Checked) over the SQL of raw.
	store.Store
	raw *sqlStore
}

// sqlStore is the SQLite half of Store: the statements backend.SQL asks
// for, on arguments Store has already checked.
type sqlStore struct {
	db *sql.DB
	// writer admits one write transaction of this process at a time.
	// SQLite has a single writer anyway; queueing here, in FIFO-ish order
	// and honouring ctx, replaces its busy handler's sleep-and-retry
	// (which under 32 concurrent writers put p99 latency in the hundreds
	// of milliseconds). Other processes on the same file still wait on
	// busy_timeout. Reads never take it.
	writer chan struct{}
	stmts  sync.Map // query → *sql.Stmt, see prepared
	// marks writes single-use marks (UseOnce) on one connection with
	// synchronous=NORMAL: see UseOnce.
	marks    *sql.DB
	markStmt *sql.Stmt // useOnceQuery on marks
	markq    markQueue // UseOnce's queue (marks.go)

	rotations chan *rotation // to rotateLoop
	quit      chan struct{}  // closed by Close
	loopDone  chan struct{}  // closed when rotateLoop has returned
	closeOnce sync.Once
}

// errClosed is returned by calls made after Close.
var errClosed = errors.New("sqlite: store closed")

// beginWrite starts a write transaction (BEGIN IMMEDIATE: see dsn) once
// this process's previous one has finished. release must be called after
// the commit or rollback.
func (s *sqlStore) beginWrite(ctx context.Context) (tx *sql.Tx, release func(), err error) {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	release = func() { <-s.writer }
	tx, err = s.db.BeginTx(ctx, nil)
	if err != nil {
		release()
		return nil, nil, err
	}
	return tx, release, nil
}

// Open opens (creating if needed) the database file at path and applies
// every migration it has not seen yet. It refuses a database whose schema
// is newer than this binary. path must name a file: ":memory:" would give
// every pooled connection its own empty database.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		// The driver splits the DSN at '?', and a URI or in-memory name
		// would bypass the pragmas below.
		return nil, fmt.Errorf("sqlite: database path %q must be a plain file path (no '?', '#', file: URI or :memory:)", path)
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}

	db, err := sql.Open("sqlite", dsn(path, "FULL"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	if err := firstConnect(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	if err := migrate(ctx, db, ms, time.Now); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w (database %s)", err, path)
	}
	// Keep connections open: the default of two idle connections would
	// close and reopen (re-running every pragma) under any concurrency.
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	marks, err := sql.Open("sqlite", dsn(path, "NORMAL"))
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	marks.SetMaxOpenConns(1)
	marks.SetMaxIdleConns(1)
	markStmt, err := marks.PrepareContext(ctx, useOnceQuery)
	if err != nil {
		_ = errors.Join(marks.Close(), db.Close())
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	raw := &sqlStore{db: db, marks: marks, markStmt: markStmt, writer: make(chan struct{}, 1), rotations: make(chan *rotation),
		quit: make(chan struct{}), loopDone: make(chan struct{})}
	go raw.rotateLoop()
	return &Store{Store: backend.Check(backendName, raw), raw: raw}, nil
}

// maxConns bounds the pool: readers run in parallel in WAL mode, writers
// one at a time (see sqlStore.writer), so a few connections per core suffice.
const maxConns = 16

// firstConnect opens the first connection, retrying while the file is
// busy. Switching a new file to WAL needs an exclusive lock, and SQLite
// reports SQLITE_BUSY for it without consulting busy_timeout; several
// processes starting on one new file at once would otherwise fail.
func firstConnect(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := db.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// isBusy reports whether err is SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var se *sqlitedrv.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// dsn builds the data source name. The settings go in _pragma parameters
// because database/sql pools connections: the driver applies them to every
// new connection, where a one-off PRAGMA statement would configure only
// whichever connection happened to run it.
func dsn(path, synchronous string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	q.Add("_pragma", "foreign_keys(ON)")
	// BEGIN IMMEDIATE for read-write transactions; read-only ones
	// (sql.TxOptions{ReadOnly: true}) stay deferred and never block writers.
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

// SchemaVersion returns the highest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, s.raw.db)
}

// Ping reports whether the database is reachable.
func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close releases the database, once the rotation batches have stopped.
func (s *sqlStore) Close() error {
	s.closeOnce.Do(func() { close(s.quit) })
	<-s.loopDone
	s.stmts.Range(func(_, v any) bool { _ = v.(*sql.Stmt).Close(); return true })
	return errors.Join(s.markStmt.Close(), s.marks.Close(), s.db.Close())
}

// KeyRing returns the current key ring, read in one snapshot.
func (s *sqlStore) KeyRing(ctx context.Context) (store.KeyRing, error) {
	// A read-only transaction pins one WAL snapshot, so the version and the
	// keys cannot come from two different swaps.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.KeyRing{}, fmt.Errorf("sqlite: key ring: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	var ring store.KeyRing
	if err := tx.QueryRowContext(ctx, `SELECT version FROM key_ring WHERE id = 1`).Scan(&ring.Version); err != nil {
		return store.KeyRing{}, fmt.Errorf("sqlite: key ring version: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT kid, alg, state, private, public,
		created_at, activated_at, retired_at, publish_until
		FROM keys ORDER BY position`)
	if err != nil {
		return store.KeyRing{}, fmt.Errorf("sqlite: key ring keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k                                 store.Key
			state                             string
			created, activated, retired, pubU sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Alg, &state, &k.Private, &k.Public,
			&created, &activated, &retired, &pubU); err != nil {
			return store.KeyRing{}, fmt.Errorf("sqlite: key ring keys: %w", err)
		}
		k.State = store.KeyState(state)
		k.CreatedAt = fromMillis(created)
		k.ActivatedAt = fromMillis(activated)
		k.RetiredAt = fromMillis(retired)
		k.PublishUntil = fromMillis(pubU)
		ring.Keys = append(ring.Keys, k)
	}
	if err := rows.Err(); err != nil {
		return store.KeyRing{}, fmt.Errorf("sqlite: key ring keys: %w", err)
	}
	return ring, nil
}

// KeyRingVersion returns the current key ring version.
func (s *sqlStore) KeyRingVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.QueryRowContext(ctx, `SELECT version FROM key_ring WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: key ring version: %w", err)
	}
	return v, nil
}

// SwapKeyRing replaces the ring with keys if its version is still expected.
func (s *sqlStore) SwapKeyRing(ctx context.Context, expected int64, keys []store.Key) (err error) {
	tx, release, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: swap key ring: %w", err)
	}
	defer release()
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()

	// The version check and bump are one statement: with the write lock
	// already held no other writer can slip in between.
	res, err := tx.ExecContext(ctx, `UPDATE key_ring SET version = version + 1 WHERE id = 1 AND version = ?`, expected)
	if err != nil {
		return fmt.Errorf("sqlite: swap key ring: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: swap key ring: %w", err)
	}
	if n != 1 {
		return store.ErrConflict
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM keys`); err != nil {
		return fmt.Errorf("sqlite: swap key ring: %w", err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO keys (kid, position, alg, state, private, public,
		created_at, activated_at, retired_at, publish_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("sqlite: swap key ring: %w", err)
	}
	defer ins.Close()
	for i, k := range keys {
		if _, err := ins.ExecContext(ctx, k.ID, i, k.Alg, string(k.State), k.Private, k.Public,
			toMillis(k.CreatedAt), toMillis(k.ActivatedAt), toMillis(k.RetiredAt), toMillis(k.PublishUntil)); err != nil {
			return fmt.Errorf("sqlite: swap key ring: key %q: %w", k.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: swap key ring: commit: %w", err)
	}
	return nil
}

// toMillis stores t as Unix milliseconds; the zero time becomes NULL so it
// reads back as the zero time rather than as year 1 in some zone.
func toMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// fromMillis reads a time written by toMillis (in the local zone: the
// wrapper returns it in UTC).
func fromMillis(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64)
}
