package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/gatehouse/gatehouse/store/internal/backend"
)

// migrationFiles holds the schema history. It is append-only: a released
// migration is never edited or renumbered, because databases in the field
// have already applied it; a change is a new file with the next number.
// A new aggregate (auth codes, refresh families, sessions) adds one file,
// NNNN_name.sql, with NNNN one above the highest present.
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

// migrate brings the schema up to the newest migration this binary knows.
// Each migration runs in its own write transaction (BEGIN IMMEDIATE, so
// several processes opening one new database at once serialise on the
// write lock) and re-checks inside it whether another process has applied
// it meanwhile. A database already migrated beyond this binary is refused:
// an older binary cannot know what the newer schema means.
func migrate(ctx context.Context, db *sql.DB, ms []migration, now func() time.Time) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY NOT NULL,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: creating schema_migrations: %w", err)
	}

	current, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if current > len(ms) {
		return fmt.Errorf("sqlite: the database schema is at version %d but this gatehouse binary knows only up to version %d; the database was migrated by a newer gatehouse: run that version (or newer), or restore a backup taken before the upgrade", current, len(ms))
	}

	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if err := applyMigration(ctx, db, m, now); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration, now func() time.Time) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()

	var applied int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&applied); err != nil {
		return fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if applied > 0 {
		// Another process got here first; nothing to do.
		return tx.Rollback()
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("sqlite: applying migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, now().UnixMilli()); err != nil {
		return fmt.Errorf("sqlite: recording migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: committing migration %04d_%s: %w", m.Version, m.Name, err)
	}
	return nil
}

// schemaVersion is the highest applied migration (0 for a new database).
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: reading schema version: %w", err)
	}
	return v, nil
}
