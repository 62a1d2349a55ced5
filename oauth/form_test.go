package oauth

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestParseForm(t *testing.T) {
	tests := []struct {
		name, body string
		want       map[string][]string
		wantErr    string
	}{
		{name: "simple", body: "grant_type=client_credentials&scope=a+b",
			want: map[string][]string{"grant_type": {"client_credentials"}, "scope": {"a b"}}},
		{name: "percent decoding", body: "resource=https%3A%2F%2Fapi.example.com&resource=hr-api",
			want: map[string][]string{"resource": {"https://api.example.com", "hr-api"}}},
		{name: "empty value is omitted", body: "scope=&grant_type=x&scope=a",
			want: map[string][]string{"grant_type": {"x"}, "scope": {"a"}}},
		{name: "stray ampersands", body: "&&grant_type=x&",
			want: map[string][]string{"grant_type": {"x"}}},
		{name: "duplicate refused", body: "grant_type=a&grant_type=b", wantErr: "'grant_type' was sent more than once"},
		{name: "duplicate audience refused", body: "audience=a&audience=b", wantErr: "'audience' was sent more than once"},
		{name: "bad escape", body: "scope=%zz", wantErr: "malformed form encoding in parameter 'scope'"},
		{name: "empty key", body: "=x", wantErr: "malformed form encoding in a parameter name"},
		{name: "too many", body: strings.Repeat("resource=a&", 65), wantErr: "too many parameters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseForm(tc.body, func(k string) bool { return k == "resource" })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Description, tc.wantErr) || err.Code != "invalid_request" {
					t.Fatalf("err = %v, want invalid_request containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tc.want {
				if got := p.All(k); !slices.Equal(got, vs) {
					t.Errorf("%s = %q, want %q", k, got, vs)
				}
			}
			if len(p.kv) != countValues(tc.want) {
				t.Errorf("parsed %d values, want %d", len(p.kv), countValues(tc.want))
			}
		})
	}
}

func countValues(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// FuzzParseForm checks the strict parser never panics and agrees with
// net/url on every body it accepts.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{
		"grant_type=client_credentials",
		"grant_type=client_credentials&resource=a&resource=b&scope=x+y",
		"a=%41&b=%zz", "=", "&&", "a=b=c", "resource=https%3A%2F%2Fx",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		p, err := ParseForm(body, func(k string) bool { return k == "resource" })
		if err != nil {
			return
		}
		ref, rerr := url.ParseQuery(body)
		if rerr != nil {
			// net/url refuses ';' separators; we treat ';' as data. Nothing to compare.
			return
		}
		for _, e := range p.kv {
			if !slices.Contains(ref[e.key], e.value) {
				t.Fatalf("parsed %q=%q, net/url has %q", e.key, e.value, ref[e.key])
			}
			if e.value == "" {
				t.Fatal("empty value kept")
			}
			if e.key != "resource" && len(p.All(e.key)) > 1 {
				t.Fatalf("duplicate %q accepted", e.key)
			}
		}
	})
}
