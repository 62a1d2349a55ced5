package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testkit/pgtest"
)

// storageSecrets are put into storage URLs below; none may be printed.
var storageSecrets = []string{"s3cret-userinfo", "s3cret-query", "s3cret-ssl"}

func assertNoStorageSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range storageSecrets {
		if strings.Contains(text, s) {
			t.Errorf("%s shows the database password %q:\n%s", what, s, text)
		}
	}
}

// runMigrate runs `gatehouse migrate` on a configuration whose storage is
// storage, and returns everything it printed and its error.
func runMigrate(t *testing.T, storage string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	yaml := "issuer: http://127.0.0.1:8080\nstorage: '" + storage + "'\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	root := newRoot(&out, &out, func(string) (string, bool) { return "", false })
	root.SetArgs([]string{"migrate", "--config", path})
	err := root.Execute()
	return out.String(), err
}

// TestStoragePasswordNotShown: a PostgreSQL password given in the query
// (password=, sslpassword=) is redacted like one in the userinfo, in
// serve's start-up log line and in migrate's output.
func TestStoragePasswordNotShown(t *testing.T) {
	// The test server trusts local connections, so the passwords are sent
	// along and ignored.
	storage := pgtest.Schema(t) + "&password=s3cret-query&sslpassword=s3cret-ssl"

	cfg := testConfig(t, "unused.db")
	cfg.Storage = storage
	var logs bytes.Buffer
	_, stop := runServer(t, cfg, func(string) (string, bool) { return "", false }, &logs)
	stop()
	if !strings.Contains(logs.String(), "gatehouse listening") || !strings.Contains(logs.String(), "password=xxxxx") {
		t.Errorf("no redacted start-up line in the log:\n%s", logs.String())
	}
	assertNoStorageSecret(t, "serve's log", logs.String())

	out, err := runMigrate(t, storage)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "schema version") || !strings.Contains(out, "sslpassword=xxxxx") {
		t.Errorf("migrate printed %q", out)
	}
	assertNoStorageSecret(t, "migrate's output", out)
}

// TestMigrateConnectFailureHidesPassword: when the database cannot be
// reached, what migrate prints and returns names no password either.
func TestMigrateConnectFailureHidesPassword(t *testing.T) {
	out, err := runMigrate(t, "postgres://gh:s3cret-userinfo@127.0.0.1:1/gh?sslmode=disable&password=s3cret-query&sslpassword=s3cret-ssl&connect_timeout=5")
	if err == nil {
		t.Fatalf("migrate succeeded against a closed port:\n%s", out)
	}
	assertNoStorageSecret(t, "migrate's output", out)
	assertNoStorageSecret(t, "migrate's error", err.Error())
}
