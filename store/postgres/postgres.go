// Package postgres is Gatehouse's scale-out store: any number of stateless
// Gatehouse instances share one PostgreSQL database through it. It
// implements store.Store with github.com/jackc/pgx/v5 (a pgxpool.Pool,
// not database/sql) and passes store/storetest, the same suite as
// store/sqlite.
//
// Schema: versioned, embedded migrations (migrations/*.sql) in PostgreSQL's
// own SQL, numbered like store/sqlite's, applied by Open under a
// transaction-scoped advisory lock so instances starting together migrate
// exactly once. Tables live in the first schema of the connection's
// search_path, which a URL may set (…?search_path=gatehouse).
//
// Concurrency: transactions run at READ COMMITTED. The single-use checks
// (RedeemCode, RotateRefresh) lock the rows they decide on with SELECT …
// FOR NO KEY UPDATE, and SwapKeyRing's compare-and-swap is one UPDATE of
// the ring's version row, so concurrent callers on any number of
// instances queue on row locks and see each other's committed result:
// exactly one wins. Nothing takes a lock wider than the rows involved.
//
// Durability: a method returns nil only after COMMIT has returned, which
// with the server's default synchronous_commit=on means the change is
// flushed to the WAL. The store does not override synchronous_commit, so
// an operator's choice (for example remote_apply with a standby) holds.
//
// Values: times are stored as timestamptz, in UTC, truncated to the
// millisecond, and read back in UTC; lists are text[]. PostgreSQL text
// cannot hold NUL bytes or invalid UTF-8, so such strings are refused with
// an error rather than stored.
//
// This package holds only the SQL (backend.SQL, on sqlStore): the
// contract's argument checks and the shape of results (UTC times, nil
// lists) are store/internal/backend's Checked, which Store embeds.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
)

var (
	_ store.Store = (*Store)(nil)
	_ backend.SQL = (*sqlStore)(nil)
)

// Store is a store.Store on one PostgreSQL database. It is safe for
// concurrent use, by many goroutines and by many processes sharing the
// database.
type Store struct {
	// Store is every store.Store method: the contract's checks
	// (backend.Checked) over the SQL of raw.
	store.Store
	raw *sqlStore
}

// sqlStore is the PostgreSQL half of Store: the statements backend.SQL
// asks for, on arguments Store has already checked.
type sqlStore struct {
	pool *pgxpool.Pool
}

// Open connects to the PostgreSQL database at url, a postgres:// or
// postgresql:// URL in libpq's format (for example
// postgres://gatehouse@db.example.com:5432/gatehouse?sslmode=verify-full),
// and applies every migration it has not seen yet. It refuses a database
// whose schema is newer than this binary.
//
// Besides libpq's parameters the URL takes pgxpool's (pool_max_conns,
// pool_min_conns, …) and any server setting, such as search_path, which
// is applied to every pooled connection. Behind a transaction-pooling
// PgBouncer add default_query_exec_mode=exec, since prepared statements
// do not survive a change of server connection.
func Open(ctx context.Context, url string) (*Store, error) {
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		// pgx would also take a "host=… dbname=…" string; refusing it
		// keeps one spelling in configuration, and keeps a mistyped
		// storage URL from being taken for one.
		return nil, errors.New("postgres: the database URL must start with postgres:// or postgresql://")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's parse errors leave out the password.
		return nil, fmt.Errorf("postgres: parsing the database URL: %w", err)
	}
	return openConfig(ctx, cfg)
}

// openConfig opens a pool with cfg and migrates. Tests use it to set
// search_path in RuntimeParams without building a URL.
func openConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("database %q on %s:%d", cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: opening %s: %w", where, err)
	}
	// NewWithConfig connects lazily; fail here, with a clear message,
	// rather than on the first request.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connecting to %s: %w", where, err)
	}
	if err := migrate(ctx, pool, ms); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w (%s)", err, where)
	}
	raw := &sqlStore{pool: pool}
	return &Store{Store: backend.Check(backendName, raw), raw: raw}, nil
}

// SchemaVersion returns the highest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, s.raw.pool)
}

// Ping reports whether the database is reachable.
func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close releases the database, waiting for connections in use to be
// returned to the pool.
func (s *sqlStore) Close() error {
	s.pool.Close()
	return nil
}

// keyRingQuery reads the version and the keys in one statement, and so in
// one snapshot: at READ COMMITTED two statements could straddle a swap.
// The LEFT JOIN yields one row of NULL keys when the ring is empty.
const keyRingQuery = `SELECT r.version, k.kid, k.alg, k.state, k.private, k.public,
	k.created_at, k.activated_at, k.retired_at, k.publish_until
	FROM key_ring r LEFT JOIN keys k ON true
	WHERE r.id = 1
	ORDER BY k.position`

// KeyRing returns the current key ring, read in one snapshot.
func (s *sqlStore) KeyRing(ctx context.Context) (store.KeyRing, error) {
	rows, err := s.pool.Query(ctx, keyRingQuery)
	if err != nil {
		return store.KeyRing{}, fmt.Errorf("postgres: key ring: %w", err)
	}
	defer rows.Close()
	var (
		ring store.KeyRing
		seen bool
	)
	for rows.Next() {
		var (
			kid, alg, state                   pgtype.Text
			k                                 store.Key
			created, activated, retired, pubU pgtype.Timestamptz
		)
		if err := rows.Scan(&ring.Version, &kid, &alg, &state, &k.Private, &k.Public,
			&created, &activated, &retired, &pubU); err != nil {
			return store.KeyRing{}, fmt.Errorf("postgres: key ring: %w", err)
		}
		seen = true
		if !kid.Valid {
			continue // the empty ring's single row
		}
		k.ID, k.Alg, k.State = kid.String, alg.String, store.KeyState(state.String)
		k.CreatedAt = fromTS(created)
		k.ActivatedAt = fromTS(activated)
		k.RetiredAt = fromTS(retired)
		k.PublishUntil = fromTS(pubU)
		ring.Keys = append(ring.Keys, k)
	}
	if err := rows.Err(); err != nil {
		return store.KeyRing{}, fmt.Errorf("postgres: key ring: %w", err)
	}
	if !seen {
		return store.KeyRing{}, errors.New("postgres: key ring: the key_ring row is missing")
	}
	return ring, nil
}

// KeyRingVersion returns the current key ring version.
func (s *sqlStore) KeyRingVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT version FROM key_ring WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: key ring version: %w", err)
	}
	return v, nil
}

// SwapKeyRing replaces the ring with keys if its version is still expected.
func (s *sqlStore) SwapKeyRing(ctx context.Context, expected int64, keys []store.Key) error {
	const op = "swap key ring"
	return s.inTx(ctx, op, func(tx pgx.Tx) (bool, error) {
		// The version check and bump are one UPDATE: a concurrent swap
		// waits for this row's lock, then re-checks the version against
		// the committed bump and updates nothing.
		tag, err := tx.Exec(ctx, `UPDATE key_ring SET version = version + 1 WHERE id = 1 AND version = $1`, expected)
		if err != nil {
			return false, fmt.Errorf("postgres: %s: %w", op, err)
		}
		if tag.RowsAffected() != 1 {
			return false, store.ErrConflict
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM keys`)
		for i, k := range keys {
			b.Queue(`INSERT INTO keys (kid, position, alg, state, private, public,
				created_at, activated_at, retired_at, publish_until)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				k.ID, i, k.Alg, string(k.State), k.Private, k.Public,
				ts(k.CreatedAt), ts(k.ActivatedAt), ts(k.RetiredAt), ts(k.PublishUntil))
		}
		// A failed insert (a bad state, say) is the caller's error, not a
		// lost race: no ErrConflict here.
		if _, err := execBatch(ctx, tx, b, func(i int, err error) error {
			if i == 0 {
				return fmt.Errorf("postgres: %s: %w", op, err)
			}
			return fmt.Errorf("postgres: %s: key %q: %w", op, keys[i-1].ID, err)
		}); err != nil {
			return false, err
		}
		return true, nil
	})
}
