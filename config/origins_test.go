package config

import (
	"strings"
	"testing"
)

// TestAllowedOrigins checks allowed_origins entries: each problem on the
// entry's own line, and the accepted spellings kept as written.
func TestAllowedOrigins(t *testing.T) {
	client := head + "clients:\n  - id: spa\n    allowed_origins:\n      - "
	bad := []struct{ origin, want string }{
		{"https://app.example.com/", `no path, query or fragment (not even a trailing /); write "https://app.example.com"`},
		{"https://app.example.com/callback", `allowed_origin "https://app.example.com/callback" is not an origin`},
		{"https://app.example.com?x=1", "no path, query or fragment"},
		{"'https://app.example.com#top'", "no path, query or fragment"},
		{"http://app.example.com", "http is allowed only for loopback hosts"},
		{"ftp://app.example.com", "must use https"},
		{"app.example.com", "write scheme://host[:port]"},
		{"'*'", "list each origin"},
		{"'null'", "list each origin"},
		{"https://user:pw@app.example.com", "must not contain credentials"},
	}
	for _, tt := range bad {
		t.Run(tt.origin, func(t *testing.T) {
			src := client + tt.origin + " " + mark
			_, err := Parse([]byte(src), "test.yaml", noEnv)
			if err == nil {
				t.Fatalf("%s accepted", tt.origin)
			}
			for _, p := range problems(t, err) {
				if p.Line == markedLine(src) && strings.Contains(p.Message+" ("+p.Hint+")", tt.want) {
					return
				}
			}
			t.Errorf("want a problem at line %d containing %q; got:\n%v", markedLine(src), tt.want, err)
		})
	}
	t.Run("duplicate", func(t *testing.T) {
		src := client + "https://a.example.com\n      - https://a.example.com " + mark
		_, err := Parse([]byte(src), "test.yaml", noEnv)
		if err == nil || !strings.Contains(err.Error(), `"https://a.example.com" appears twice in allowed_origins`) {
			t.Errorf("got %v", err)
		}
	})
	good := client + "https://app.example.com\n      - http://localhost:5173\n      - 'http://[::1]:8000'\n      - https://App.Example.com:8443"
	cfg := mustParse(t, good, noEnv)
	if got := cfg.Client("spa").AllowedOrigins; len(got) != 4 || got[3] != "https://App.Example.com:8443" {
		t.Errorf("allowed_origins = %q", got)
	}
}

// TestOrigin checks the Origin header serialization the server compares
// against.
func TestOrigin(t *testing.T) {
	tests := []struct {
		url, want string
		ok        bool
	}{
		{"https://app.example.com/cb", "https://app.example.com", true},
		{"HTTPS://App.Example.COM:443/cb?x", "https://app.example.com", true},
		{"https://app.example.com:8443", "https://app.example.com:8443", true},
		{"http://127.0.0.1:80/cb", "http://127.0.0.1", true},
		{"http://127.0.0.1:3000/cb", "http://127.0.0.1:3000", true},
		{"http://[::1]:9/cb", "http://[::1]:9", true},
		{"com.example.app:/oauth2redirect", "", false},
		{"/callback", "", false},
	}
	for _, tt := range tests {
		got, ok := Origin(tt.url)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Origin(%q) = %q, %v; want %q, %v", tt.url, got, ok, tt.want, tt.ok)
		}
	}
}
