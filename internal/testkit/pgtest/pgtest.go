// Package pgtest gives tests outside store/postgres a PostgreSQL database
// of their own: a fresh schema on the test server, dropped at cleanup.
//
// The server is GATEHOUSE_TEST_POSTGRES, or the machine's server at
// postgres://postgres@127.0.0.1:5432/test. When it is unreachable the test
// is skipped with a one-line reason, except under CI=true, where it fails:
// CI must run the PostgreSQL tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const defaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseURL is the test server's URL.
func BaseURL() string {
	if u := os.Getenv("GATEHOUSE_TEST_POSTGRES"); u != "" {
		return u
	}
	return defaultURL
}

// Schema creates an empty schema and returns a storage URL whose every
// connection uses it (search_path). Cleanup drops it; register the stores'
// Close after calling Schema so they close first.
func Schema(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "gh_test_" + hex.EncodeToString(b)
	exec(t, context.Background(), "CREATE SCHEMA "+schema)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exec(t, ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(BaseURL())
	if err != nil {
		t.Fatalf("GATEHOUSE_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func exec(t testing.TB, ctx context.Context, sql string) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, BaseURL())
	if err != nil {
		redacted := BaseURL()
		if p, perr := url.Parse(redacted); perr == nil {
			redacted = p.Redacted()
		}
		msg := fmt.Sprintf("PostgreSQL not reachable at %s: %s; set GATEHOUSE_TEST_POSTGRES",
			redacted, strings.Join(strings.Fields(err.Error()), " "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
