package config

import (
	"net/url"
	"strings"
	"testing"
)

// A database password expanded into the storage URL from ${PGPASSWORD}
// either reaches the driver as that password, with the host and database
// intact, or the configuration is refused — with a message that shows no
// part of the password. Parse opens no connection, so a refused URL never
// costs a network request.
func TestStoragePasswordWithSpecialCharacters(t *testing.T) {
	const doc = head + "storage: postgres://gatehouse:${PGPASSWORD}@db.internal:5432/gatehouse?sslmode=verify-full\n"
	// The passwords are made of fragments that occur in no message, so
	// that finding one in a message means the password leaked.
	for _, tc := range []struct {
		password string
		refused  string // what the message says; "" when the URL is good
	}{
		{"plain-Password-123", ""},
		{"p%40ss%2Fw%3Frd%23%25", ""}, // escaped as the hint says: p@ss/w?rd#%
		{"Kq7@Zt9", "more than one '@'"},
		{"Kq7/Zt9", "ends the host part early"},
		{"Kq7?Zt9", "ends the host part early"},
		{"Kq7#Zt9", "'#'"},
		{"Kq7%Zt9", "not followed by two hex digits"},
		{"Kq7Zt9%", "not followed by two hex digits"},
		{"Kq7@Zt9/Wm4?Rr2#%", "more than one '@'"},
		{"Kq7/Zt9#?%@", "more than one '@'"},
	} {
		getenv := func(name string) (string, bool) {
			if name == "PGPASSWORD" {
				return tc.password, true
			}
			return "", false
		}
		cfg, err := Parse([]byte(doc), "t.yaml", getenv)
		if tc.refused == "" {
			if err != nil {
				t.Errorf("password %q: refused: %v", tc.password, err)
				continue
			}
			// What the driver will see (pgx reads the user information,
			// host and path the same way for a URL that passes).
			u, err := url.Parse(cfg.Storage)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := url.PathUnescape(tc.password)
			if got, _ := u.User.Password(); got != want || u.Hostname() != "db.internal" || u.Path != "/gatehouse" {
				t.Errorf("password %q: parsed as password %q host %q path %q", tc.password, got, u.Hostname(), u.Path)
			}
			continue
		}
		if err == nil {
			t.Errorf("password %q: accepted; the driver would not read it as the password", tc.password)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.refused) || !strings.Contains(msg, "PGPASSWORD") {
			t.Errorf("password %q: message %q does not say %q and point to PGPASSWORD", tc.password, msg, tc.refused)
		}
		for _, part := range strings.FieldsFunc(tc.password, func(r rune) bool { return strings.ContainsRune("@/?#%", r) }) {
			if len(part) >= 3 && strings.Contains(msg, part) {
				t.Errorf("password %q: message shows %q: %s", tc.password, part, msg)
			}
		}
	}
}

// Without a password in the URL, pgx takes it from PGPASSWORD (or
// ~/.pgpass): such a URL is accepted as it is.
func TestStorageURLWithoutPassword(t *testing.T) {
	for _, storage := range []string{
		"postgres://gatehouse@db.internal:5432/gatehouse?sslmode=verify-full",
		"postgresql:///gatehouse?host=/var/run/postgresql",
		"postgres://gatehouse@db1:5432,db2:5432/gatehouse",
	} {
		if _, err := Parse([]byte(head+"storage: "+storage+"\n"), "t.yaml", noEnv); err != nil {
			t.Errorf("%s: %v", storage, err)
		}
	}
}
