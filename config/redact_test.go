package config

import (
	"strings"
	"testing"
)

func TestRedactStorage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Nothing secret: unchanged.
		{"sqlite:gatehouse.db", "sqlite:gatehouse.db"},
		{"sqlite:/var/lib/x?password=looks-like-one.db", "sqlite:/var/lib/x?password=looks-like-one.db"},
		{"postgres://db.internal:5432/gatehouse?sslmode=verify-full", "postgres://db.internal:5432/gatehouse?sslmode=verify-full"},
		{"postgres://gatehouse@db/gatehouse", "postgres://gatehouse@db/gatehouse"},
		{"postgresql:///gatehouse?host=/var/run/postgresql", "postgresql:///gatehouse?host=/var/run/postgresql"},
		{"", ""},
		// The userinfo password.
		{"postgres://gatehouse:hunter2@db:5432/gatehouse", "postgres://gatehouse:xxxxx@db:5432/gatehouse"},
		{"postgres://u:@db/x", "postgres://u:xxxxx@db/x"},
		// Unescaped '@', '/', '?', '#' in it: hidden up to the last '@'.
		{"postgres://u:hun@ter/2?#x@db/x", "postgres://u:xxxxx@db/x"},
		// Query parameters, in any position, spelling and case.
		{"postgres://u@db/x?password=hunter2", "postgres://u@db/x?password=xxxxx"},
		{"postgres://db/x?sslmode=require&sslpassword=hunter2&application_name=gh", "postgres://db/x?sslmode=require&sslpassword=xxxxx&application_name=gh"},
		{"postgres://db/x?pass%77ord=hunter2", "postgres://db/x?pass%77ord=xxxxx"},
		{"postgres://db/x?PASSWORD=hunter2", "postgres://db/x?PASSWORD=xxxxx"},
		{"postgres://db/x?password=hun?ter#2&sslmode=disable", "postgres://db/x?password=xxxxx&sslmode=disable"},
		{"postgres://u:a@db/x?password=b&password=c", "postgres://u:xxxxx@db/x?password=xxxxx&password=xxxxx"},
		{"postgres://db/x?passfile=/etc/pgpass", "postgres://db/x?passfile=/etc/pgpass"},
		// Other schemes get the same treatment (the "unsupported" message).
		{"mysql://u:hunter2@db/x?token=abc", "mysql://u:xxxxx@db/x?token=xxxxx"},
		// The keyword/value form.
		{"host=db dbname=gh password=hunter2", "host=db dbname=gh password=xxxxx"},
		{"host=db password = 'hun ter\\' 2' dbname=gh", "host=db password=xxxxx xxxxx"},
		{"password=hun\\ ter2 host=db", "password=xxxxx xxxxx"},
		{"password=hun ter2", "password=xxxxx xxxxx"},
		{"host=db sslpassword=hunter2", "host=db sslpassword=xxxxx"},
		{"stray words password=hunter2", "xxxxx"},
	} {
		if got := RedactStorage(tc.in); got != tc.want {
			t.Errorf("RedactStorage(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRedactStorageNeverShowsPassword: whatever surrounds a password, no
// piece of it survives.
func TestRedactStorageNeverShowsPassword(t *testing.T) {
	const pw = "Hu@n/t?e#r&2 x"
	for _, s := range []string{
		"postgres://u:" + pw + "@db/x",
		"postgres://u:" + pw + "@db/x?application_name=a@b",
		"postgres://db/x?password=" + strings.ReplaceAll(pw, "&", "%26"),
		"host=db password='" + pw + "'",
		"host=db password=" + pw,
	} {
		got := RedactStorage(s)
		for _, piece := range []string{"Hu", "n/t", "e#r", "2 x"} {
			if strings.Contains(got, piece) {
				t.Errorf("RedactStorage(%q) = %q shows %q", s, got, piece)
			}
		}
	}
}
