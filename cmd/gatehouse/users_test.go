package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

// writeUsersConfig writes a configuration with one user over a fresh
// SQLite database and returns its path and the database's.
func writeUsersConfig(t *testing.T) (cfgPath, dbPath string) {
	t.Helper()
	dir := t.TempDir()
	dbPath = filepath.Join(dir, "gh.db")
	cfgPath = filepath.Join(dir, "gatehouse.yaml")
	yaml := `
issuer: http://127.0.0.1:8080
storage: sqlite:` + dbPath + `
clients:
  - id: job
    secret: job-secret-change-me-1
    grant_types: [client_credentials]
users:
  - username: alice
    password: alice-password-1
`
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dbPath
}

// runCmd runs the gatehouse command line in-process.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut, func(string) (string, bool) { return "", false })
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// auditLines returns the audit events in out, skipping other lines.
func auditLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var got []map[string]any
	for line := range strings.Lines(out) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["stream"] == "audit" {
			got = append(got, m)
		}
	}
	return got
}

// TestUsersUnlock: the command clears the count the server keeps for the
// user (the key the server computes for the configured issuer), leaves
// other users' counts alone, and writes one unlock event.
func TestUsersUnlock(t *testing.T) {
	cfgPath, dbPath := writeUsersConfig(t)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	alice := server.LoginThrottleKey("http://127.0.0.1:8080", "alice")
	bob := server.LoginThrottleKey("http://127.0.0.1:8080", "bob")
	now := time.Now()
	for range 5 {
		for _, k := range []string{alice, bob} {
			if err := st.NoteLoginFailure(ctx, k, now); err != nil {
				t.Fatal(err)
			}
		}
	}

	out, errOut, err := runCmd(t, "users", "unlock", "alice", "--config", cfgPath)
	if err != nil {
		t.Fatalf("unlock: %v\n%s%s", err, out, errOut)
	}
	if n, _ := st.LoginFailures(ctx, alice, now.Add(-time.Hour)); n != 0 {
		t.Errorf("alice still has %d failures", n)
	}
	if n, _ := st.LoginFailures(ctx, bob, now.Add(-time.Hour)); n != 5 {
		t.Errorf("bob has %d failures, want 5 (untouched)", n)
	}
	ev := auditLines(t, out)
	if len(ev) != 1 || ev[0]["event"] != "unlock" || ev[0]["username"] != "alice" || ev[0]["source"] != "cli" {
		t.Errorf("audit events %v\n%s", ev, out)
	}
	if !strings.Contains(out, "unlocked: alice") || strings.Contains(errOut, "not a user") {
		t.Errorf("output %q, stderr %q", out, errOut)
	}

	// An unknown name is cleared as well, with a note, into an audit file.
	auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
	out, errOut, err = runCmd(t, "users", "unlock", "bob", "--config", cfgPath, "--audit-log", auditFile)
	if err != nil || !strings.Contains(errOut, `"bob" is not a user`) {
		t.Fatalf("unlock bob: %v\n%s%s", err, out, errOut)
	}
	if n, _ := st.LoginFailures(ctx, bob, now.Add(-time.Hour)); n != 0 {
		t.Errorf("bob still has %d failures", n)
	}
	b, _ := os.ReadFile(auditFile)
	if ev := auditLines(t, string(b)); len(ev) != 1 || ev[0]["username"] != "bob" || len(auditLines(t, out)) != 0 {
		t.Errorf("audit file %q, stdout %q", b, out)
	}
}

// TestKeysRotateAuditEvent: a rotation from the command line is one
// key.rotation event per algorithm of the ring, naming the keys only.
func TestKeysRotateAuditEvent(t *testing.T) {
	cfgPath, _ := writeUsersConfig(t)
	out, errOut, err := runCmd(t, "keys", "rotate", "--config", cfgPath)
	if err != nil {
		t.Fatalf("rotate: %v\n%s%s", err, out, errOut)
	}
	ev := auditLines(t, out)
	if len(ev) != 2 {
		t.Fatalf("events %v\n%s", ev, out)
	}
	for _, e := range ev {
		if e["event"] != "key.rotation" || e["alg"] == nil || e["kid"] == nil || e["retired_kid"] == nil || e["kid"] == e["retired_kid"] {
			t.Errorf("event %v", e)
		}
	}
}

// TestServeWiresAuditLog: serve hands its audit sink to the server: a
// failed client authentication against the running server is a line in
// the --audit-log file, naming the claimed client and not the secret.
func TestServeWiresAuditLog(t *testing.T) {
	cfg := testConfig(t, filepath.Join(t.TempDir(), "gh.db"))
	auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
	logger := slog.New(slog.DiscardHandler)
	sink, closeAudit, err := openAuditLog(auditFile, io.Discard, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAudit()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, func(string) (string, bool) { return "", false }, logger, serveOptions{events: sink}, ready)
	}()
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("serve exited: %v", err)
	}
	req, _ := http.NewRequest("POST", base+"/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("order-sync-job", "not-the-secret-31337")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	b, _ := os.ReadFile(auditFile)
	ev := auditLines(t, string(b))
	if len(ev) != 1 || ev[0]["event"] != "client_auth.failure" || ev[0]["client_id"] != "order-sync-job" || strings.Contains(string(b), "not-the-secret-31337") {
		t.Errorf("audit file %q", b)
	}
}
