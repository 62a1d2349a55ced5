package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

// TestClientsList: the registered clients of the store are listed, as a
// table and as JSON.
func TestClientsList(t *testing.T) {
	db := filepath.Join(t.TempDir(), "gh.db")
	path, _ := shopWithStorage(t, db)
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.CreateRegisteredClient(t.Context(), store.RegisteredClient{ID: "dcr-abc", Name: "Agent", RedirectURIs: []string{"https://a.example/cb"},
		GrantTypes: []string{"authorization_code"}, AuthMethod: "none", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, _, err := runCmd(t, "clients", "list", "--config", path)
	if err != nil || !strings.Contains(out, "dcr-abc") || !strings.Contains(out, "https://a.example/cb") || !strings.Contains(out, "never") {
		t.Errorf("table: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "clients", "list", "--config", path, "--json")
	if err != nil || !strings.Contains(out, `"client_id": "dcr-abc"`) {
		t.Errorf("json: %v\n%s", err, out)
	}
}
