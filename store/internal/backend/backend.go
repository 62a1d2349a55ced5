// Package backend holds what every store backend does the same way, so
// that a backend (store/sqlite, store/postgres) holds only its SQL:
//
//   - Checked, the store.Store every backend returns: it checks the
//     arguments once, calls the backend's SQL, and shapes the results once
//     (see SQL for the split);
//   - the rules that decide on rows read inside a backend's transaction
//     (Redemption.Decide, Rotation.Decide) and the order of DeleteExpired's
//     sweeps;
//   - loading the numbered migration files.
//
// The SQL itself stays per dialect: nothing here writes or rewrites a
// statement.
package backend

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
)

// Migration is one numbered schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// LoadMigrations reads fsys's migrations/ directory in version order and
// checks that the files are numbered 1, 2, 3, … without gaps or
// duplicates, so a mistake in a new file is caught by the first test that
// opens a store. backendName prefixes the errors.
func LoadMigrations(fsys fs.FS, backendName string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("%s: reading migrations: %w", backendName, err)
	}
	// ReadDir sorts by name, and names start with a zero-padded number,
	// so this is version order.
	ms := make([]Migration, 0, len(entries))
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("%s: migration file %q is not named NNNN_name.sql", backendName, e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if want := len(ms) + 1; v != want {
			return nil, fmt.Errorf("%s: migration file %q has version %d, want %d (versions must run 1, 2, 3, … without gaps)", backendName, e.Name(), v, want)
		}
		body, err := fs.ReadFile(fsys, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("%s: reading migration %q: %w", backendName, e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: m[2], SQL: string(body)})
	}
	return ms, nil
}
