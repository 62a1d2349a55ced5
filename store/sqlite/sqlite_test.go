package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
	"github.com/gatehouse/gatehouse/store/storetest"
)

func openTemp(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTemp(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	created := time.Date(2025, 6, 1, 12, 0, 0, 123_000_000, time.UTC)
	keys := []store.Key{{ID: "k1", Alg: "ES256", State: store.KeyActive, Private: []byte{1, 0, 2}, Public: []byte(`{}`),
		CreatedAt: created, ActivatedAt: created}}
	if _, err := s.SwapKeyRing(ctx, 0, keys); err != nil {
		t.Fatalf("SwapKeyRing: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := openTemp(t, path)
	ring, err := s2.KeyRing(ctx)
	if err != nil {
		t.Fatalf("KeyRing after reopen: %v", err)
	}
	if ring.Version != 1 || len(ring.Keys) != 1 || ring.Keys[0].ID != "k1" || !ring.Keys[0].CreatedAt.Equal(created) {
		t.Errorf("KeyRing after reopen = %+v, want version 1 with key k1 created %v", ring, created)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := t.Context()
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	for i := range 3 {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatalf("SchemaVersion: %v", err)
		}
		var rows int
		if err := s.raw.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
			t.Fatalf("counting schema_migrations: %v", err)
		}
		if v != len(ms) || rows != len(ms) {
			t.Errorf("Open #%d: schema version %d with %d migration rows, want %d and %d", i+1, v, rows, len(ms), len(ms))
		}
		// The seed row of key_ring must not be inserted twice.
		var rings int
		if err := s.raw.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM key_ring`).Scan(&rings); err != nil {
			t.Fatalf("counting key_ring: %v", err)
		}
		if rings != 1 {
			t.Errorf("Open #%d: key_ring has %d rows, want 1", i+1, rings)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.raw.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', 0)`); err != nil {
		t.Fatalf("inserting a future migration: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err = Open(ctx, path)
	if err == nil {
		t.Fatal("Open of a database with schema version 9999 succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "9999") || !strings.Contains(err.Error(), "newer gatehouse") {
		t.Errorf("Open error = %q, want it to name version 9999 and a newer gatehouse", err)
	}
}

// TestPragmas checks the settings on several pooled connections at once,
// since a one-off PRAGMA would configure only one of them.
func TestPragmas(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	want := map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": "10000",
	}
	const n = 3
	conns := make([]interface{ Close() error }, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range n {
		c, err := s.raw.db.Conn(ctx) // held open, so each iteration gets another connection
		if err != nil {
			t.Fatalf("Conn: %v", err)
		}
		conns = append(conns, c)
		for p, w := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", p, err)
			}
			if got != w {
				t.Errorf("connection %d: PRAGMA %s = %q, want %q", i, p, got, w)
			}
		}
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "a?b.db"} {
		if s, err := Open(context.Background(), p); err == nil {
			_ = s.Close()
			t.Errorf("Open(%q) succeeded, want an error", p)
		}
	}
}

// TestEmbeddedMigrations: the embedded set is numbered correctly (the
// numbering rules themselves are tested in store/internal/backend).
func TestEmbeddedMigrations(t *testing.T) {
	if _, err := loadMigrations(migrationFiles); err != nil {
		t.Errorf("embedded migrations: %v", err)
	}
}

// TestConcurrentOpen runs migrations from several Opens of one new file at
// once, as several processes starting together would.
func TestConcurrentOpen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := Open(ctx, path)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	s := openTemp(t, path)
	if v, err := s.KeyRingVersion(ctx); err != nil || v != 0 {
		t.Errorf("KeyRingVersion = %d, %v; want 0, nil", v, err)
	}
}

// TestSweepLimit checks that a sweep deletes at most its limit, only
// expired rows, and says how many it deleted. Going on past a full batch
// is backend.Checked's loop, tested there.
func TestSweepLimit(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Three expired (one exactly at now), one live.
	for i, exp := range []time.Time{now.Add(-time.Hour), now, now.Add(-time.Minute), now.Add(time.Millisecond)} {
		if _, err := s.raw.db.ExecContext(ctx, `INSERT INTO sessions (id, subject, expires_at) VALUES (?, 'u', ?)`,
			fmt.Sprintf("s-%d", i), exp.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	var got []int64
	for range 3 {
		n, err := s.raw.Sweep(ctx, backend.SweepSessions, now, 2)
		if err != nil {
			t.Fatalf("Sweep: %v", err)
		}
		got = append(got, n)
	}
	if fmt.Sprint(got) != "[2 1 0]" {
		t.Errorf("three sweeps with limit 2 deleted %v, want [2 1 0]", got)
	}
	if _, err := s.GetSession(ctx, "s-3", now); err != nil {
		t.Errorf("the live session: %v", err)
	}
}

// queryPlan returns the detail column of EXPLAIN QUERY PLAN for q.
func queryPlan(t *testing.T, s *Store, q string, args ...any) []string {
	t.Helper()
	rows, err := s.raw.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestDeleteExpiredUsesIndexes checks that every sweep finds its rows
// through an index, so a batch never scans a whole table under the write
// lock.
func TestDeleteExpiredUsesIndexes(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	for sw, q := range sweeps {
		plan := queryPlan(t, s, q, 0, backend.SweepBatch)
		for _, d := range plan {
			// A bare "SCAN t" reads every row; "SCAN t USING INDEX" or
			// "SEARCH" does not.
			if strings.HasPrefix(d, "SCAN ") && !strings.Contains(d, "USING") {
				t.Errorf("%s: query plan scans a table: %q (plan %q)", backend.Sweep(sw), d, plan)
			}
		}
	}
	plan := queryPlan(t, s, accessRevokedQuery, "x", 0)
	for _, d := range plan {
		if !strings.HasPrefix(d, "SEARCH ") {
			t.Errorf("AccessRevoked plan step %q is not an indexed search (plan %q)", d, plan)
		}
	}
}

// TestLoginFailuresUsesIndex checks that the per-sign-in count and the
// clear after a success search the (key, at) index rather than scan.
func TestLoginFailuresUsesIndex(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	for q, args := range map[string][]any{
		loginFailuresQuery:                         {"k", 0},
		`DELETE FROM login_failures WHERE key = ?`: {"k"},
	} {
		if plan := queryPlan(t, s, q, args...); !strings.Contains(strings.Join(plan, "; "), "login_failures_key_at") {
			t.Errorf("%s: plan %q does not use login_failures_key_at", q, plan)
		}
	}
}
