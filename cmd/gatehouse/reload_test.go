package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

type syncBuffer = testkit.SyncBuffer

const reloadYAML = `
issuer: http://127.0.0.1:8080
listen: LISTEN
storage: sqlite:DB
clients:
  - id: order-status-api
    secret: order-status-api-secret
    grant_types: [client_credentials]
  - id: order-sync-job
    secret: sync-job-secret-change-me
    grant_types: [client_credentials]
    audience: [order-status-api]
EXTRA`

const newJob = `
  - id: new-job
    secret: new-job-secret-123456
    grant_types: [client_credentials]
`

func writeConfig(t *testing.T, path, db, listen, extra string) {
	t.Helper()
	y := strings.NewReplacer("LISTEN", listen, "DB", db, "EXTRA", extra).Replace(reloadYAML)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ccStatus is the status of a client_credentials request of id.
func ccStatus(t *testing.T, base, id, secret string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond until it holds or 15 s pass: the server reacts to
// a signal or a file change on its own goroutine, and nothing else tells
// the test when it has.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSIGHUPReloads (issue 11 item 4): a real SIGHUP to the running
// process reloads the file: a new client works at once; a broken file is
// refused with the start-up message and the old configuration stays; a
// changed listen address is reported as needing a restart; the metric
// counts both outcomes.
func TestSIGHUPReloads(t *testing.T) {
	dir := t.TempDir()
	path, db := filepath.Join(dir, "gatehouse.yaml"), filepath.Join(dir, "gh.db")
	writeConfig(t, path, db, "127.0.0.1:0", "")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	base, stop := runServer(t, cfg, noEnv, logs)
	defer stop()
	if got := ccStatus(t, base, "new-job", "new-job-secret-123456"); got != http.StatusUnauthorized {
		t.Fatalf("new-job before the reload: %d", got)
	}
	hup := func() {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	writeConfig(t, path, db, "127.0.0.1:0", newJob)
	hup()
	eventually(t, "new-job to be accepted", func() bool { return ccStatus(t, base, "new-job", "new-job-secret-123456") == http.StatusOK })

	if err := os.WriteFile(path, []byte("issuer: http://127.0.0.1:8080\nclients:\n  - id: x\n    grant_typez: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup()
	eventually(t, "the refusal to be logged", func() bool { return strings.Contains(logs.String(), "configuration reload refused") })
	if !strings.Contains(logs.String(), "grant_typez") {
		t.Errorf("the refusal does not carry the start-up message:\n%s", logs.String())
	}
	if got := ccStatus(t, base, "new-job", "new-job-secret-123456"); got != http.StatusOK {
		t.Errorf("after a refused reload the running configuration changed: new-job %d", got)
	}

	writeConfig(t, path, db, "127.0.0.1:9", newJob)
	hup()
	eventually(t, "the restart note", func() bool { return strings.Contains(logs.String(), "need a restart") })
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`gatehouse_config_reloads_total{result="applied"} 2`, `gatehouse_config_reloads_total{result="refused"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestWatchConfigReloads: with --watch-config a saved file is reloaded
// without a signal.
func TestWatchConfigReloads(t *testing.T) {
	dir := t.TempDir()
	path, db := filepath.Join(dir, "gatehouse.yaml"), filepath.Join(dir, "gh.db")
	writeConfig(t, path, db, "127.0.0.1:0", "")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, noEnv, slog.New(slog.DiscardHandler), serveOptions{watchConfig: 50 * time.Millisecond}, ready)
	}()
	defer func() { cancel(); <-done }()
	base := "http://" + <-ready
	writeConfig(t, path, db, "127.0.0.1:0", newJob)
	eventually(t, "the saved file to be reloaded", func() bool { return ccStatus(t, base, "new-job", "new-job-secret-123456") == http.StatusOK })
}
