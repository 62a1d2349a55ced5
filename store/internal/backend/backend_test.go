package backend

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestLoadMigrationsChecksNumbering(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		ok    bool
	}{
		{"contiguous", fstest.MapFS{
			"migrations/0001_a.sql": {Data: []byte("SELECT 1")},
			"migrations/0002_b.sql": {Data: []byte("SELECT 1")},
		}, true},
		{"gap", fstest.MapFS{
			"migrations/0001_a.sql": {Data: []byte("SELECT 1")},
			"migrations/0003_c.sql": {Data: []byte("SELECT 1")},
		}, false},
		{"duplicate", fstest.MapFS{
			"migrations/0001_a.sql": {Data: []byte("SELECT 1")},
			"migrations/0001_b.sql": {Data: []byte("SELECT 1")},
		}, false},
		{"bad name", fstest.MapFS{
			"migrations/1_a.sql": {Data: []byte("SELECT 1")},
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := LoadMigrations(tc.files, "test")
			if (err == nil) != tc.ok {
				t.Fatalf("LoadMigrations = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (len(ms) != 2 || ms[1].Version != 2 || ms[1].Name != "b" || ms[1].SQL != "SELECT 1") {
				t.Errorf("migrations %+v", ms)
			}
		})
	}
}

func TestRequired(t *testing.T) {
	r := required{backend: "sqlite", op: "create code"}
	r.nonEmpty("hash", "")
	r.nonZero("expires", time.Time{})
	r.check(false, "something else")
	r.nonEmpty("fine", "x")
	err := r.err()
	if err == nil || err.Error() != "sqlite: create code: hash is empty; expires is the zero time; something else" {
		t.Fatalf("err = %v", err)
	}
	id := ""
	ok := required{backend: "sqlite", op: "op"}
	ok.fillFamilyID("FamilyID", &id, "fam")
	if id != "fam" || ok.err() != nil {
		t.Errorf("empty FamilyID not filled: %q %v", id, ok.err())
	}
	other := "other"
	ok.fillFamilyID("FamilyID", &other, "fam")
	if e := ok.err(); e == nil || !strings.Contains(e.Error(), `FamilyID is "other", want "fam"`) {
		t.Errorf("mismatched FamilyID: %v", e)
	}
}
