package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/gatehouse/gatehouse/store/internal/backend"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles holds the schema history, written in PostgreSQL's own
// SQL (not translated from the SQLite files). It is append-only: a
// released migration is never edited or renumbered, because databases in
// the field have already applied it; a change is a new file with the next
// number. Version N here means the same schema as version N of
// store/sqlite, so a new aggregate adds one file to each backend.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema step.
type migration = backend.Migration

// loadMigrations reads the embedded migrations in version order; see
// backend.LoadMigrations.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	return backend.LoadMigrations(fsys, backendName)
}

// migrationLockClass is the first half of the two-key advisory lock that
// serialises migrations ("gate" in ASCII). The second half is a hash of the
// schema being migrated, so Gatehouse databases in different schemas of one
// PostgreSQL database (tests, several tenants) do not wait for each other,
// and the two-key form never collides with an application's one-key locks.
const migrationLockClass = 0x67617465

// lockMigrations takes the migration lock for the rest of tx. A
// transaction-scoped lock is released by COMMIT or ROLLBACK, including
// when the connection dies, so a crashed instance can never leave it held.
// COALESCE because current_schema() is NULL when no schema on the
// search_path exists, and the lock function would then silently lock
// nothing; the DDL that follows fails with a clear message instead.
func lockMigrations(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(COALESCE(current_schema(), '')))`, int32(migrationLockClass))
	return err
}

// migrate brings the schema up to the newest migration this binary knows.
// Several instances may start at once against one empty database: every
// step runs in its own transaction under the migration lock and re-checks
// inside it what has been applied, so each migration is applied exactly
// once, by whichever instance gets there first, and the others find it
// done. A database migrated beyond this binary is refused: an older binary
// cannot know what the newer schema means.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []migration) error {
	// Creating schema_migrations takes the lock too: concurrent CREATE
	// TABLE IF NOT EXISTS of one table can fail with a unique violation in
	// the catalog.
	var current int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := lockMigrations(ctx, tx); err != nil {
			return fmt.Errorf("postgres: taking the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("postgres: creating schema_migrations: %w", err)
		}
		var err error
		current, err = schemaVersion(ctx, tx)
		return err
	})
	if err != nil {
		return err
	}
	if err := checkNotNewer(current, len(ms)); err != nil {
		return err
	}
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if err := applyMigration(ctx, pool, m, len(ms)); err != nil {
			return err
		}
	}
	return nil
}

func checkNotNewer(current, known int) error {
	if current > known {
		return fmt.Errorf("postgres: the database schema is at version %d but this gatehouse binary knows only up to version %d; the database was migrated by a newer gatehouse: run that version (or newer), or restore a backup taken before the upgrade", current, known)
	}
	return nil
}

func applyMigration(ctx context.Context, pool *pgxpool.Pool, m migration, known int) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := lockMigrations(ctx, tx); err != nil {
			return fmt.Errorf("postgres: migration %04d_%s: taking the migration lock: %w", m.Version, m.Name, err)
		}
		// Re-read under the lock: another instance may have applied this
		// migration, or even a newer binary's, since the first look.
		current, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		if err := checkNotNewer(current, known); err != nil {
			return err
		}
		if current >= m.Version {
			return nil // another instance got here first
		}
		// No arguments: pgx sends this with the simple protocol, which
		// runs a file of several statements in one go.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("postgres: applying migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return fmt.Errorf("postgres: recording migration %04d_%s: %w", m.Version, m.Name, err)
		}
		return nil
	})
}

// querier is what a pool, a connection and a transaction have in common.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion is the highest applied migration (0 for a new database).
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: reading schema version: %w", err)
	}
	return v, nil
}
