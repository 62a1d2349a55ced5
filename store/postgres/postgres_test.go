package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
	"github.com/gatehouse/gatehouse/store/storetest"
)

// The tests need a PostgreSQL server. They use GATEHOUSE_TEST_POSTGRES, or
// the machine's server at defaultTestURL, and skip when it is unreachable,
// except under CI=true, where they fail: CI must run them.
//
// Every store lives in a fresh schema of its own (gh_test_<random>, set as
// search_path on every pooled connection) that Cleanup drops, so tests run
// in parallel and leave nothing behind.

const defaultTestURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func testURL() string {
	if u := os.Getenv("GATEHOUSE_TEST_POSTGRES"); u != "" {
		return u
	}
	return defaultTestURL
}

// redact hides a password in u for messages.
func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(unparsable URL)"
}

// adminExec runs sql on a connection of its own: schema set-up and
// inspection, outside any store. It skips (or, under CI, fails) the test
// when the server cannot be reached within two seconds.
func adminExec(t *testing.T, ctx context.Context, sql string, args ...any) {
	t.Helper()
	conn := adminConn(t, ctx)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// requirePostgres skips (or, under CI, fails) the test when the server is
// unreachable, once, before a suite of subtests would each do so.
func requirePostgres(t *testing.T) {
	t.Helper()
	_ = adminConn(t, t.Context()).Close(context.Background())
}

func adminConn(t *testing.T, ctx context.Context) *pgx.Conn {
	t.Helper()
	u := testURL()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, u)
	if err != nil {
		// One line: pgx lists every address it tried on lines of its own.
		reason := strings.Join(strings.Fields(err.Error()), " ")
		msg := fmt.Sprintf("PostgreSQL not reachable at %s: %s; set GATEHOUSE_TEST_POSTGRES", redact(u), reason)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return conn
}

// newSchema creates an empty schema and arranges for Cleanup to drop it,
// after the stores opened on it are closed (Cleanup runs last-in first-out,
// and stores register their Close after this).
func newSchema(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "gh_test_" + hex.EncodeToString(b)
	adminExec(t, t.Context(), `CREATE SCHEMA `+schema)
	t.Cleanup(func() {
		// t.Context() is already done when Cleanup runs.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		adminExec(t, ctx, `DROP SCHEMA `+schema+` CASCADE`)
	})
	return schema
}

// configIn is the test server's pool configuration with schema as
// search_path on every connection.
func configIn(t *testing.T, schema string) *pgxpool.Config {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testURL())
	if err != nil {
		t.Fatalf("parsing %s: %v", redact(testURL()), err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

// openIn opens a store in schema, closed by Cleanup.
func openIn(t *testing.T, schema string) *Store {
	t.Helper()
	s, err := openConfig(t.Context(), configIn(t, schema))
	if err != nil {
		t.Fatalf("opening a store in %s: %v", schema, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openFresh opens a store in a new, empty schema.
func openFresh(t *testing.T) *Store {
	t.Helper()
	return openIn(t, newSchema(t))
}

func TestConformance(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
}

// TestOpenURL checks Open itself: both URL schemes, a server setting in
// the URL reaching every connection, and other strings refused.
func TestOpenURL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchema(t)
	u, err := url.Parse(testURL())
	if err != nil {
		t.Fatalf("parsing %s: %v", redact(testURL()), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	for _, scheme := range []string{"postgres", "postgresql"} {
		u.Scheme = scheme
		s, err := Open(ctx, u.String())
		if err != nil {
			t.Fatalf("Open(%s): %v", redact(u.String()), err)
		}
		var got string
		if err := s.raw.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&got); err != nil || got != schema {
			t.Errorf("%s: current_schema() = %q, %v; want %q from the URL", scheme, got, err, schema)
		}
		if err := s.Ping(ctx); err != nil {
			t.Errorf("%s: Ping: %v", scheme, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("%s: Close: %v", scheme, err)
		}
	}
	for _, bad := range []string{"", "host=127.0.0.1 dbname=test", "mysql://root@127.0.0.1/test", "sqlite:///tmp/x.db", "POSTGRES://x"} {
		if s, err := Open(ctx, bad); err == nil {
			_ = s.Close()
			t.Errorf("Open(%q) succeeded, want an error", bad)
		}
	}
}

func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	schema := newSchema(t)
	for i := range 3 {
		s := openIn(t, schema)
		v, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatalf("SchemaVersion: %v", err)
		}
		if v != len(ms) {
			t.Errorf("Open #%d: SchemaVersion = %d, want %d", i+1, v, len(ms))
		}
	}
	assertMigratedOnce(t, openIn(t, schema), len(ms))
}

// assertMigratedOnce checks that schema_migrations has one row per
// migration and key_ring its single seed row.
func assertMigratedOnce(t *testing.T, s *Store, want int) {
	t.Helper()
	ctx := t.Context()
	var rows, distinct, rings int
	if err := s.raw.pool.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&rows, &distinct); err != nil {
		t.Fatalf("counting schema_migrations: %v", err)
	}
	if rows != want || distinct != want {
		t.Errorf("schema_migrations has %d rows (%d versions), want %d", rows, distinct, want)
	}
	if err := s.raw.pool.QueryRow(ctx, `SELECT COUNT(*) FROM key_ring`).Scan(&rings); err != nil {
		t.Fatalf("counting key_ring: %v", err)
	}
	if rings != 1 {
		t.Errorf("key_ring has %d rows, want 1 (the seed row of migration 1)", rings)
	}
}

// TestConcurrentOpen opens one empty schema from several pools at once, as
// several instances starting together would: every Open succeeds and each
// migration is applied exactly once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	schema := newSchema(t)
	const n = 6
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		errs   = make([]error, n)
		stores = make([]*Store, n)
	)
	for i := range n {
		wg.Go(func() {
			cfg := configIn(t, schema)
			<-start
			stores[i], errs[i] = openConfig(t.Context(), cfg)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Open #%d: %v", i, err)
			continue
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	s := openIn(t, schema)
	assertMigratedOnce(t, s, len(ms))
	if v, err := s.KeyRingVersion(t.Context()); err != nil || v != 0 {
		t.Errorf("KeyRingVersion = %d, %v; want 0, nil", v, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchema(t)
	s := openIn(t, schema)
	if _, err := s.raw.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')`); err != nil {
		t.Fatalf("inserting a future migration: %v", err)
	}
	s2, err := openConfig(ctx, configIn(t, schema))
	if err == nil {
		_ = s2.Close()
		t.Fatal("Open of a database with schema version 9999 succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "9999") || !strings.Contains(err.Error(), "newer gatehouse") {
		t.Errorf("Open error = %q, want it to name version 9999 and a newer gatehouse", err)
	}
}

// TestEmbeddedMigrations: the embedded set is numbered correctly (the
// numbering rules themselves are tested in store/internal/backend).
func TestEmbeddedMigrations(t *testing.T) {
	if _, err := loadMigrations(migrationFiles); err != nil {
		t.Errorf("embedded migrations: %v", err)
	}
}

// TestCrossPoolRace races RotateRefresh, RedeemCode and SwapKeyRing
// through two separate pools on one schema, as two instances would: the
// row locks, not anything in the process, must pick exactly one winner.
func TestCrossPoolRace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchema(t)
	pools := []*Store{openIn(t, schema), openIn(t, schema)}
	t0 := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	const n = 8

	// race runs fn(i, s) for i in [0, n) at once, alternating pools.
	race := func(fn func(i int, s *Store) error) []error {
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, n)
		)
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = fn(i, pools[i%2])
			})
		}
		close(start)
		wg.Wait()
		return errs
	}
	count := func(errs []error, sentinels ...error) (wins int, per []int) {
		per = make([]int, len(sentinels))
	next:
		for i, err := range errs {
			if err == nil {
				wins++
				continue
			}
			for j, s := range sentinels {
				if errors.Is(err, s) {
					per[j]++
					continue next
				}
			}
			t.Errorf("racer %d: unexpected error %v", i, err)
		}
		return wins, per
	}

	t.Run("RotateRefresh", func(t *testing.T) {
		fam := store.RefreshFamily{ID: "fam", ClientID: "c", Subject: "alice", ExpiresAt: t0.Add(time.Hour)}
		if err := pools[0].CreateFamily(ctx, fam, store.RefreshToken{Hash: "r0", ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatalf("CreateFamily: %v", err)
		}
		now := t0.Add(time.Minute)
		errs := race(func(i int, s *Store) error {
			_, err := s.RotateRefresh(ctx, "r0",
				store.RefreshToken{Hash: fmt.Sprintf("r1-%d", i), ExpiresAt: t0.Add(time.Hour)},
				store.AccessRecord{JTI: fmt.Sprintf("jti-%d", i), ExpiresAt: t0.Add(time.Hour)}, now)
			return err
		})
		wins, per := count(errs, store.ErrReused, store.ErrRevoked)
		if wins != 1 || per[0] != 1 || per[1] != n-2 {
			t.Errorf("rotations: %d won, %d ErrReused, %d ErrRevoked; want 1, 1, %d", wins, per[0], per[1], n-2)
		}
		// The reuse revocation is committed and visible through the other
		// pool.
		for _, s := range pools {
			if _, f, err := s.GetRefresh(ctx, "r0"); err != nil || f.RevokedAt.IsZero() {
				t.Errorf("family after the race: RevokedAt %v, err %v; want revoked", f.RevokedAt, err)
			}
		}
	})

	t.Run("RedeemCode", func(t *testing.T) {
		code := store.AuthCode{Hash: "code", ClientID: "c", Subject: "alice", ExpiresAt: t0.Add(time.Minute)}
		if err := pools[1].CreateCode(ctx, code); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		now := t0.Add(time.Second)
		got := make([]store.AuthCode, n)
		errs := race(func(i int, s *Store) error {
			fam := store.RefreshFamily{ID: fmt.Sprintf("cfam-%d", i), ExpiresAt: t0.Add(time.Hour)}
			tok := store.RefreshToken{Hash: fmt.Sprintf("cref-%d", i), ExpiresAt: t0.Add(time.Hour)}
			var err error
			got[i], err = s.RedeemCode(ctx, "code", store.Issued{
				AccessJTI: fmt.Sprintf("cjti-%d", i), AccessExpiresAt: t0.Add(time.Hour), Family: &fam, Refresh: &tok,
			}, now)
			return err
		})
		wins, per := count(errs, store.ErrCodeUsed)
		if wins != 1 || per[0] != n-1 {
			t.Fatalf("redemptions: %d won, %d ErrCodeUsed; want 1 and %d", wins, per[0], n-1)
		}
		winner := -1
		for i, err := range errs {
			if err == nil {
				winner = i
			}
		}
		for i := range n {
			if got[i].Issued.FamilyID != fmt.Sprintf("cfam-%d", winner) {
				t.Errorf("redeemer %d sees Issued.FamilyID %q, want the winner's cfam-%d", i, got[i].Issued.FamilyID, winner)
			}
			_, _, err := pools[i%2].GetRefresh(ctx, fmt.Sprintf("cref-%d", i))
			if (i == winner) != (err == nil) {
				t.Errorf("GetRefresh(cref-%d) = %v with winner %d", i, err, winner)
			}
		}
	})

	t.Run("SwapKeyRing", func(t *testing.T) {
		errs := race(func(i int, s *Store) error {
			_, err := s.SwapKeyRing(ctx, 0, []store.Key{{ID: fmt.Sprintf("k%d", i), Alg: "ES256",
				State: store.KeyActive, Private: []byte{byte(i)}, Public: []byte("{}")}})
			return err
		})
		wins, per := count(errs, store.ErrConflict)
		if wins != 1 || per[0] != n-1 {
			t.Errorf("swaps: %d won, %d ErrConflict; want 1 and %d", wins, per[0], n-1)
		}
		for _, s := range pools {
			if ring, err := s.KeyRing(ctx); err != nil || ring.Version != 1 || len(ring.Keys) != 1 {
				t.Errorf("KeyRing after the race = %+v, %v; want version 1 with one key", ring, err)
			}
		}
	})
}

// TestSweepLimit checks that a sweep deletes at most its limit, only
// expired rows, and says how many it deleted. Going on past a full batch
// is backend.Checked's loop, tested there.
func TestSweepLimit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openFresh(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Three expired (one exactly at now), one live.
	if _, err := s.raw.pool.Exec(ctx, `INSERT INTO sessions (id, subject, expires_at)
		SELECT 's-' || i, 'u', e FROM unnest($1::timestamptz[]) WITH ORDINALITY AS x(e, i)`,
		[]time.Time{now.Add(-time.Hour), now, now.Add(-time.Minute), now.Add(time.Millisecond)}); err != nil {
		t.Fatal(err)
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
	if _, err := s.GetSession(ctx, "s-4", now); err != nil {
		t.Errorf("the live session: %v", err)
	}
}

// TestQueriesUseIndexes checks that every sweep and the per-request
// lookups find their rows through index conditions. The tables are empty,
// so sequential scans are disabled to make the planner show whether it
// could use an index at all; a query without one still plans a Seq Scan,
// and a full walk of an index shows as an Index Scan without an Index
// Cond.
func TestQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchema(t)
	cfg := configIn(t, schema)
	cfg.ConnConfig.RuntimeParams["enable_seqscan"] = "off"
	s, err := openConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	now := ts(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	// want names the indexes each query must use: the right index, not
	// merely some index (a range scan of expires_at would also avoid a
	// Seq Scan where a probe by family is needed).
	type query struct {
		sql  string
		args []any
		want []string
	}
	queries := map[string]query{
		"AccessRevoked": {accessRevokedQuery, []any{"jti", now},
			[]string{"access_tokens_pkey", "refresh_families_pkey"}},
		"GetRefresh": {tokenFamilyQuery, []any{"hash"},
			[]string{"refresh_tokens_pkey", "refresh_families_pkey"}},
		"RotateRefresh": {tokenFamilyQuery + ` FOR NO KEY UPDATE`, []any{"hash"},
			[]string{"refresh_tokens_pkey", "refresh_families_pkey"}},
		"GetCode": {`SELECT ` + codeColumns + ` FROM auth_codes WHERE hash = $1`, []any{"hash"},
			[]string{"auth_codes_pkey"}},
		"GetSession": {`SELECT id FROM sessions WHERE id = $1`, []any{"id"}, []string{"sessions_pkey"}},
		"RevokeFamiliesBySession": {`UPDATE refresh_families SET revoked_at = $1 WHERE session_id = $2 AND revoked_at IS NULL`,
			[]any{now, "sid"}, []string{"refresh_families_session_id"}},
		"LoginFailures":      {loginFailuresQuery, []any{"key", now}, []string{"login_failures_key_at"}},
		"ClearLoginFailures": {`DELETE FROM login_failures WHERE key = $1`, []any{"key"}, []string{"login_failures_key_at"}},
		"GetPerson":          {`SELECT ` + personColumns + ` FROM people WHERE subject = $1`, []any{"sub"}, []string{"people_pkey"}},
		"LocalUser": {`SELECT ` + personColumns + ` FROM people WHERE username = $1 AND source = ''`, []any{"alice"},
			[]string{"people_local_username"}},
	}
	gcWant := map[string][]string{
		"access records":                     {"access_tokens_expires_at", "access_tokens_pkey"},
		"expired refresh tokens":             {"refresh_tokens_expires_at", "refresh_tokens_pkey"},
		"refresh tokens of expired families": {"refresh_families_expires_at", "refresh_tokens_family_id", "refresh_tokens_pkey"},
		"refresh families":                   {"refresh_families_expires_at", "access_tokens_family_id", "refresh_families_pkey"},
		"authorization codes":                {"auth_codes_expires_at", "auth_codes_pkey"},
		"sessions":                           {"sessions_expires_at", "sessions_pkey"},
		"login failures":                     {"login_failures_at", "login_failures_pkey"},
		"single-use values":                  {"once_expires_at", "once_pkey"},
		"registered clients":                 {"registered_clients_expires_at", "registered_clients_pkey"},
	}
	for sw, q := range sweeps {
		what := backend.Sweep(sw).String()
		want, ok := gcWant[what]
		if !ok {
			t.Errorf("sweep %q has no expected indexes in this test", what)
		}
		queries["DeleteExpired "+what] = query{q, []any{now, backend.SweepBatch}, want}
	}
	for name, q := range queries {
		var plan []map[string]any
		if err := s.raw.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+q.sql, q.args...).Scan(&plan); err != nil {
			t.Fatalf("%s: EXPLAIN: %v", name, err)
		}
		if len(plan) != 1 {
			t.Fatalf("%s: EXPLAIN returned %d plans", name, len(plan))
		}
		used := map[string]bool{}
		for _, bad := range walkPlan(plan[0]["Plan"], used) {
			t.Errorf("%s reads a whole table: %s", name, bad)
		}
		for _, idx := range q.want {
			if !used[idx] {
				t.Errorf("%s does not use index %s (uses %v)", name, idx, slices.Sorted(maps.Keys(used)))
			}
		}
	}
}

// walkPlan walks a JSON plan node, adds the indexes it uses to used, and
// returns the scans that read a whole relation.
func walkPlan(node any, used map[string]bool) []string {
	n, ok := node.(map[string]any)
	if !ok {
		return nil
	}
	var bad []string
	typ, _ := n["Node Type"].(string)
	if idx, ok := n["Index Name"].(string); ok {
		used[idx] = true
	}
	rel, _ := n["Relation Name"].(string)
	switch typ {
	case "Seq Scan":
		bad = append(bad, typ+" on "+rel)
	case "Index Scan", "Index Only Scan", "Bitmap Index Scan":
		if _, ok := n["Index Cond"]; !ok {
			bad = append(bad, fmt.Sprintf("%s on %s using %v without an Index Cond", typ, rel, n["Index Name"]))
		}
	}
	if kids, ok := n["Plans"].([]any); ok {
		for _, k := range kids {
			bad = append(bad, walkPlan(k, used)...)
		}
	}
	return bad
}
