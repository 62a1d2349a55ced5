// Package backend holds what every store backend does the same way: the
// checks of the arguments the store contract calls required, and loading
// the numbered migration files. The SQL itself stays per dialect.
package backend

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Required collects the contract's required-argument checks for one
// operation, so a caller's mistake is an error that names the field rather
// than a constraint failure (or, for times, a row that never expires).
type Required struct {
	Backend string // "sqlite", "postgres": the error prefix
	Op      string
	errs    []string
}

// Str requires a non-empty string.
func (r *Required) Str(name, v string) {
	if v == "" {
		r.errs = append(r.errs, name+" is empty")
	}
}

// Time requires a non-zero time.
func (r *Required) Time(name string, v time.Time) {
	if v.IsZero() {
		r.errs = append(r.errs, name+" is the zero time")
	}
}

// Check records msg unless ok.
func (r *Required) Check(ok bool, msg string) {
	if !ok {
		r.errs = append(r.errs, msg)
	}
}

// Err is every problem found, or nil.
func (r *Required) Err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s: %s", r.Backend, r.Op, strings.Join(r.errs, "; "))
}

// FillFamilyID applies the contract's rule for FamilyID fields the store
// can infer: empty is filled in, anything else must agree.
func FillFamilyID(r *Required, name string, field *string, familyID string) {
	switch *field {
	case "":
		*field = familyID
	case familyID:
	default:
		r.errs = append(r.errs, fmt.Sprintf("%s is %q, want %q (or empty)", name, *field, familyID))
	}
}

// CheckFamily checks a new refresh family and its first token.
func CheckFamily(r *Required, f store.RefreshFamily, first *store.RefreshToken) {
	r.Str("family ID", f.ID)
	r.Time("family ExpiresAt", f.ExpiresAt)
	r.Str("refresh token Hash", first.Hash)
	r.Time("refresh token ExpiresAt", first.ExpiresAt)
	FillFamilyID(r, "refresh token FamilyID", &first.FamilyID, f.ID)
}

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
