package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Well-formed hashes for tests. The checker only looks at the format, so
// these need not be hashes of anything in particular; TestRealHashes checks
// what the libraries actually produce.
const (
	testArgon  = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI"
	testBcrypt = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
)

// mark is put at the end of the line a test expects a problem on.
const mark = "#<-"

func noEnv(string) (string, bool) { return "", false }

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// markedLine returns the 1-based line holding mark, or 0.
func markedLine(src string) int {
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, mark) {
			return i + 1
		}
	}
	return 0
}

func problems(t *testing.T, err error) []Problem {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	if len(ce.Problems) == 0 {
		t.Fatal("*config.Error with no problems")
	}
	return ce.Problems
}

func mustParse(t *testing.T, src string, env func(string) (string, bool)) *Config {
	t.Helper()
	cfg, err := Parse([]byte(src), "test.yaml", env)
	if err != nil {
		t.Fatalf("unexpected error:\n%v\nin:\n%s", err, src)
	}
	return cfg
}

// head is a valid top of file; cases add clients and users below it.
const head = "issuer: https://login.example.com\n"

// apis are two valid resource-server clients cases can refer to.
const apis = `
  - id: order-status-api
    secret: order-status-api-secret
    grant_types: [client_credentials]
  - id: hr-api
`

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		src  string // the line holding mark is the expected line; none means 0
		want string // substring of "message (hint)"
	}{
		// Top level.
		{"issuer missing", "listen: 127.0.0.1:8080\n", "issuer is required"},
		{"issuer relative", "issuer: login.example.com " + mark, "not an absolute URL"},
		{"issuer http off loopback", "issuer: http://login.example.com " + mark, "http is allowed only for localhost, 127.0.0.1 and ::1"},
		{"issuer other scheme", "issuer: ftp://login.example.com " + mark, "must use https"},
		{"issuer query", "issuer: https://login.example.com/t?a=b " + mark, "query or fragment"},
		{"issuer fragment", "issuer: https://login.example.com/t#f " + mark, "query or fragment"},
		{"issuer trailing slash", "issuer: https://login.example.com/ " + mark, `write "https://login.example.com"`},
		{"issuer credentials", "issuer: https://u:p@login.example.com " + mark, "must not contain credentials"},
		{"listen no port", head + "listen: 8080 " + mark, "not host:port"},
		{"listen named port", head + "listen: localhost:http " + mark, "invalid port"},
		{"storage unknown", head + "storage: mysql://db " + mark, "unsupported storage"},
		{"storage sqlite no path", head + "storage: 'sqlite:' " + mark, "no database path"},
		{"signing_alg unknown", head + "signing_alg: HS256 " + mark, "one of ES256, EdDSA, RS256"},
		{"signing_alg case", head + "signing_alg: es256 " + mark, `did you mean "ES256"?`},
		{"ttl negative", head + "access_token_ttl: -5m " + mark, "access_token_ttl must be positive"},
		{"refresh ttl negative", head + "refresh_token_ttl: -1h " + mark, "refresh_token_ttl must be positive"},
		{"ttl without unit", head + "access_token_ttl: 600 " + mark, "not a duration"},
		{"ttl as list", head + "access_token_ttl: [10m] " + mark, "must be a single value"},
		{"unknown top key", head + "isuer: x " + mark, `unknown key "isuer" in the top level (did you mean "issuer"?)`},
		{"merge key", head + "<<: {listen: ':1'} " + mark, "merge keys are not supported"},
		{"repeated key", head + "listen: ':1'\nlisten: ':2' " + mark, `key "listen" is repeated`},
		{"top not mapping", "- a " + mark, "must be a mapping"},
		{"invalid yaml", head + "clients: [ " + mark + "\n  - id: x", "invalid YAML"},
		{"two documents", head + "--- " + mark + "\nissuer: https://b.example.com", "more than one YAML document"},
		{"clients not list", head + "clients: customer-portal " + mark, "clients must be a list"},
		{"client not mapping", head + "clients:\n  - customer-portal " + mark, "a client must be a mapping"},

		// Clients.
		{"client id missing", head + "clients:\n  - name: x " + mark, "client without an id"},
		{"client id duplicate", head + "clients:\n  - id: a\n  - id: a " + mark, `duplicate client id "a" (first defined at line 3`},
		{"client id with space", head + "clients:\n  - id: 'a b' " + mark, "whitespace"},
		{"unknown client key", head + "clients:\n  - id: a\n    redirect_uri: [x] " + mark, `did you mean "redirect_uris"?`},
		{"audience not list", head + "clients:\n  - id: a\n    audience: b c " + mark, "write a YAML list, e.g. audience: [b, c]"},
		{"audience unknown, typo", head + "clients:" + apis + "  - id: a\n    audience: [order-status-ap] " + mark, `did you mean "order-status-api"?`},
		{"audience unknown, case", head + "clients:" + apis + "  - id: a\n    audience:\n      - Order-Status-API " + mark, `audience "Order-Status-API" is not a client id or an external audience (did you mean "order-status-api"?)`},
		{"audience unknown", head + "clients:" + apis + "  - id: a\n    audience: [payments] " + mark, "declare it under external_audiences"},
		{"audience duplicate", head + "clients:" + apis + "  - id: a\n    audience:\n      - hr-api\n      - hr-api " + mark, `"hr-api" appears twice in audience`},
		{"grant implicit", head + "clients:\n  - id: a\n    grant_types: [implicit] " + mark, "does not support the implicit grant"},
		{"grant password", head + "clients:\n  - id: a\n    grant_types:\n      - password " + mark, "does not support the resource owner password grant"},
		{"grant typo", head + "clients:\n  - id: a\n    secret: a-long-enough-secret\n    grant_types: [client_credential] " + mark, `did you mean "client_credentials"?`},
		{"grant duplicate", head + "clients:\n  - id: a\n    secret: a-long-enough-secret\n    grant_types:\n      - client_credentials\n      - client_credentials " + mark, "appears twice in grant_types"},
		{"public client_credentials", head + "clients:\n  - id: a\n    grant_types: [client_credentials] " + mark, "public client (no secret) cannot use client_credentials"},
		{"code without redirect", head + "clients:\n  - id: a\n    grant_types: [authorization_code] " + mark, "needs at least one redirect_uri"},
		{"refresh without code", head + "clients:\n  - id: a\n    secret: a-long-enough-secret\n    grant_types: [client_credentials, refresh_token] " + mark, "refresh_token requires authorization_code"},
		{"redirect relative", head + "clients:\n  - id: a\n    redirect_uris: [/callback] " + mark, "not an absolute URI"},
		{"redirect fragment", head + "clients:\n  - id: a\n    redirect_uris: ['https://app.example.com/cb#x'] " + mark, "RFC 6749 §3.1.2"},
		{"redirect http", head + "clients:\n  - id: a\n    redirect_uris: [http://app.example.com/cb] " + mark, "http is allowed only for loopback hosts"},
		{"redirect javascript", head + "clients:\n  - id: a\n    redirect_uris: ['javascript:alert(1)'] " + mark, "forbidden scheme"},
		{"redirect duplicate", head + "clients:\n  - id: a\n    redirect_uris:\n      - https://a.example.com/cb\n      - https://a.example.com/cb " + mark, "appears twice in redirect_uris"},
		{"scope with space", head + "clients:\n  - id: a\n    scopes: ['orders read'] " + mark, `scope "orders read" contains a space`},
		{"scope with quote", head + "clients:\n  - id: a\n    scopes: ['say\"hi'] " + mark, "RFC 6749 §3.3"},
		{"scope with backslash", head + "clients:\n  - id: a\n    scopes: ['a\\b'] " + mark, "RFC 6749 §3.3"},
		{"scope non-ascii", head + "clients:\n  - id: a\n    scopes: [bestellungen:lesen, 'größe'] " + mark, "RFC 6749 §3.3"},
		{"scope empty", head + "clients:\n  - id: a\n    scopes: [''] " + mark, "empty"},
		{"scope null", head + "clients:\n  - id: a\n    scopes:\n      - " + mark, "single non-empty value"},
		{"scope duplicate", head + "clients:\n  - id: a\n    scopes:\n      - openid\n      - openid " + mark, `"openid" appears twice in scopes`},
		{"secret short", head + "clients:\n  - id: order-sync-job\n    secret: short " + mark, "${ORDER_SYNC_JOB_SECRET}"},
		{"secret argon2 version", head + "clients:\n  - id: a\n    secret: '" + strings.Replace(testArgon, "v=19", "v=16", 1) + "' " + mark, "unsupported argon2 version"},
		{"secret argon2 parts", head + "clients:\n  - id: a\n    secret: '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ' " + mark, "not a valid argon2id PHC string"},
		{"secret argon2 base64", head + "clients:\n  - id: a\n    secret: '" + strings.Replace(testArgon, "$c29t", "$c2!t", 1) + "' " + mark, "invalid salt"},
		{"secret argon2 params", head + "clients:\n  - id: a\n    secret: '" + strings.Replace(testArgon, "t=2", "x=2", 1) + "' " + mark, "malformed parameters"},
		{"secret argon2 huge memory", head + "clients:\n  - id: a\n    secret: '" + strings.Replace(testArgon, "m=19456", "m=99999999", 1) + "' " + mark, "m=99999999 out of range"},
		{"secret argon2i", head + "clients:\n  - id: a\n    secret: '" + strings.Replace(testArgon, "argon2id", "argon2i", 1) + "' " + mark, "only argon2id is supported"},
		{"secret bcrypt length", head + "clients:\n  - id: a\n    secret: '" + testBcrypt[:59] + "' " + mark, "not a valid bcrypt hash"},
		{"secret bcrypt cost", head + "clients:\n  - id: a\n    secret: '" + strings.Replace(testBcrypt, "$10$", "$99$", 1) + "' " + mark, "invalid cost"},
		{"secret bcrypt variant", head + "clients:\n  - id: a\n    secret: '" + strings.Replace(testBcrypt, "$2a$", "$2x$", 1) + "' " + mark, "use $2a$, $2b$ or $2y$"},

		// External audiences.
		{"external collides with client", head + "clients:\n  - id: a\nexternal_audiences:\n  - a " + mark, `external audience "a" has the same id as a client`},
		{"external duplicate", head + "external_audiences:\n  - x\n  - id: x " + mark, `duplicate external audience "x" (first declared at line 3)`},
		{"external unknown key", head + "external_audiences:\n  - id: x\n    desc: y " + mark, `did you mean "description"?`},
		{"external missing id", head + "external_audiences:\n  - description: y " + mark, "external audience without an id"},
		{"external as list", head + "external_audiences:\n  - [x] " + mark, "must be an id or a mapping"},

		// Users.
		{"username missing", head + "users:\n  - password: x " + mark, "user without a username"},
		{"username duplicate", head + "users:\n  - username: a\n    password: x\n  - username: a " + mark + "\n    password: y", `duplicate username "a"`},
		{"username equals a client id", head + "clients:\n  - id: job\n    secret: job-secret-1234567890\nusers:\n  - username: job " + mark + "\n    password: x", `username "job" is also a client id`},
		{"trusted proxy not an address", head + "trusted_proxies: [10.0.0.0/8, nope] " + mark, `trusted_proxies: "nope" is not an IP address`},
		{"require_pkce not a bool", head + "clients:\n  - id: web\n    secret: web-secret-1234567890\n    require_pkce: yes " + mark, "require_pkce must be true or false"},
		{"id token alg unknown", head + "clients:\n  - id: web\n    id_token_signed_response_alg: HS256 " + mark, `client "web": unsupported id_token_signed_response_alg "HS256" (use ES256 (signing_alg, the default when the key is absent) or RS256)`},
		{"id token alg case", head + "clients:\n  - id: web\n    id_token_signed_response_alg: rs256 " + mark, `did you mean "RS256"?`},
		{"id token alg not in ring", head + "clients:\n  - id: web\n    id_token_signed_response_alg: EdDSA " + mark, `"EdDSA" is not available while signing_alg is ES256 (use ES256 (signing_alg, the default when the key is absent) or RS256; to sign ID tokens with EdDSA, set signing_alg: EdDSA`},
		{"id token alg not in RS256 ring", head + "signing_alg: RS256\nclients:\n  - id: web\n    id_token_signed_response_alg: ES256 " + mark, "use RS256 (signing_alg"},
		{"id token alg list", head + "clients:\n  - id: web\n    id_token_signed_response_alg: [RS256] " + mark, "id_token_signed_response_alg must be a single value"},
		{"id token alg misspelt key", head + "clients:\n  - id: web\n    id_token_signed_respons_alg: RS256 " + mark, `did you mean "id_token_signed_response_alg"?`},
		{"username spaces", head + "users:\n  - username: ' a' " + mark + "\n    password: x", "surrounding whitespace"},
		{"no password", head + "users:\n  - username: a " + mark, "neither password nor password_hash"},
		{"both passwords", head + "users:\n  - username: a\n    password: x " + mark + "\n    password_hash: '" + testBcrypt + "'", "both password and password_hash"},
		{"password_hash plain", head + "users:\n  - username: a\n    password_hash: hunter2 " + mark, "a plain password goes under password:"},
		{"password_hash bad", head + "users:\n  - username: a\n    password_hash: '$2b$10$short' " + mark, "not a valid bcrypt hash"},
		{"password is a hash", head + "users:\n  - username: a\n    password: '" + testArgon + "' " + mark, "a hash goes under password_hash:"},
		{"reserved claim", head + "users:\n  - username: a\n    password: x\n    claims:\n      name: A\n      sub: admin " + mark, `claim "sub" is reserved`},
		{"reserved claim aud", head + "users:\n  - username: a\n    password: x\n    claims: {aud: x} " + mark, `claim "aud" is reserved`},
		{"claims not mapping", head + "users:\n  - username: a\n    password: x\n    claims: [name] " + mark, "claims must be a mapping"},
		{"claims bad json", head + "users:\n  - username: a\n    password: x\n    claims:\n      nested: {1: x} " + mark, "cannot be encoded as JSON"},

		// Expansion.
		{"env undefined", head + "clients:\n  - id: a\n    secret: ${NOT_SET} " + mark, "environment variable NOT_SET is not set"},
		{"env empty", head + "clients:\n  - id: a\n    secret: ${EMPTY} " + mark, "environment variable EMPTY is empty"},
		{"env bad name", head + "clients:\n  - id: a\n    name: ${1X} " + mark, "invalid variable reference ${1X}"},
		{"env unterminated", head + "clients:\n  - id: a\n    name: '${X' " + mark, "write $${ for a literal ${"},
	}
	env := mapEnv(map[string]string{"EMPTY": ""})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.src), "test.yaml", env)
			if err == nil {
				t.Fatalf("no error, want %q; config: %+v", tt.want, cfg)
			}
			if cfg != nil {
				t.Errorf("config returned together with an error")
			}
			line := markedLine(tt.src)
			ps := problems(t, err)
			for _, p := range ps {
				if p.File != "test.yaml" {
					t.Errorf("problem file = %q", p.File)
				}
				if p.Line == line && strings.Contains(p.Message+" ("+p.Hint+")", tt.want) {
					return
				}
			}
			t.Errorf("want a problem at line %d containing %q; got:\n%v\nsource:\n%s", line, tt.want, err, tt.src)
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{"minimal", head},
		{"localhost issuer", "issuer: http://localhost:8080"},
		{"ipv6 loopback issuer", "issuer: http://[::1]:8080/tenant"},
		{"issuer with path", "issuer: https://login.example.com/tenant"},
		{"postgres storage", head + "storage: postgres://u:p@db:5432/gatehouse?sslmode=disable"},
		{"postgresql storage", head + "storage: postgresql:///gatehouse?host=/var/run/postgresql"},
		{"listen all interfaces", head + "listen: ':8080'"},
		{"EdDSA", head + "signing_alg: EdDSA"},
		{"RS256", head + "signing_alg: RS256"},
		{"null values", head + "listen:\nclients:\n  - id: a\n    secret:\n    scopes:"},
		{"external audiences both forms", head + "external_audiences:\n  - https://payments.example.com\n  - id: crm\n    description: the CRM\nclients:\n  - id: a\n    audience: [https://payments.example.com, crm]"},
		{"self audience", head + "clients:\n  - id: a\n    audience: [a]"},
		{"argon2id secret", head + "clients:\n  - id: a\n    secret: '" + testArgon + "'\n    grant_types: [client_credentials]"},
		{"argon2id params in other order", head + "clients:\n  - id: a\n    secret: '" + strings.Replace(testArgon, "m=19456,t=2,p=1", "p=1,t=2,m=19456", 1) + "'"},
		{"bcrypt hash unquoted", head + "users:\n  - username: a\n    password_hash: " + testBcrypt},
		{"private-use redirect", head + "clients:\n  - id: app\n    grant_types: [authorization_code]\n    redirect_uris: ['com.example.app:/oauth2redirect']"},
		{"loopback redirects", head + "clients:\n  - id: app\n    grant_types: [authorization_code]\n    redirect_uris: ['http://localhost:3000/cb', 'http://127.0.0.1/cb', 'http://[::1]:9/cb']"},
		{"scope punctuation", head + "clients:\n  - id: a\n    scopes: ['orders:read', 'https://api.example.com/x.y', '!#[]~']"},
		{"anchors and aliases", head + "clients:\n  - id: a\n    scopes: &s [openid, profile]\n  - id: b\n    scopes: *s"},
		{"claims of several types", head + "users:\n  - username: a\n    password: x\n    claims: {name: A, email_verified: true, groups: [x, y], address: {country: NL}}"},
		{"negative rotation disables", head + "key_rotation_period: -1s"},
		{"RS256 ID tokens", head + "clients:\n  - id: a\n    id_token_signed_response_alg: RS256"},
		{"ID tokens with signing_alg", head + "signing_alg: EdDSA\nclients:\n  - id: a\n    id_token_signed_response_alg: EdDSA\n  - id: b\n    id_token_signed_response_alg: RS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustParse(t, tt.src, noEnv)
		})
	}
}

func TestManyProblemsReportedTogether(t *testing.T) {
	src := `issuer: http://login.example.com/
signing_alg: HS256
clients:
  - id: portal
    grant_types: [implicit]
    audience: [order-api]
  - id: portal
users:
  - username: bob
`
	_, err := Parse([]byte(src), "shop.yaml", noEnv)
	ps := problems(t, err)
	wantLines := []int{1, 1, 2, 5, 6, 7, 9}
	if len(ps) != len(wantLines) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(wantLines), err)
	}
	for i, p := range ps {
		if p.Line != wantLines[i] {
			t.Errorf("problem %d at line %d, want %d: %s", i, p.Line, wantLines[i], p)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(ps) {
		t.Fatalf("Error() has %d lines, want %d:\n%s", len(lines), len(ps), err)
	}
	if want := "shop.yaml:2: unsupported signing_alg \"HS256\" (one of ES256, EdDSA, RS256)"; lines[2] != want {
		t.Errorf("line 3 of Error() = %q, want %q", lines[2], want)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f.yaml", Line: 3, Message: "bad", Hint: "fix it"}, "f.yaml:3: bad (fix it)"},
		{Problem{File: "f.yaml", Line: 3, Message: "bad"}, "f.yaml:3: bad"},
		{Problem{File: "f.yaml", Message: "issuer is required"}, "f.yaml: issuer is required"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestDollarSignsSurvive(t *testing.T) {
	src := head + `clients:
  - id: a
    secret: 'pa$$w0rd$with$dollars$'
  - id: b
    secret: '` + testArgon + `'
users:
  - username: alice
    password: pa$word$$1
  - username: bob
    password_hash: ` + testArgon + `
  - username: carol
    password: 'literal-$${HOME}-kept'
`
	cfg := mustParse(t, src, mapEnv(map[string]string{"HOME": "/root"}))
	checks := []struct{ got, want string }{
		{cfg.Clients[0].Secret, "pa$$w0rd$with$dollars$"},
		{cfg.Clients[1].Secret, testArgon},
		{cfg.Users[0].Password, "pa$word$$1"},
		{cfg.Users[1].PasswordHash, testArgon},
		{cfg.Users[2].Password, "literal-${HOME}-kept"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestExpansion(t *testing.T) {
	env := mapEnv(map[string]string{
		"ISSUER":        "https://login.example.com",
		"PORTAL_SECRET": "from-the-environment-$1",
		"A":             "x",
		"B":             "${A}", // not expanded again
		"TTL":           "15m",
	})
	src := `issuer: ${ISSUER}
access_token_ttl: ${TTL}
clients:
  - id: portal
    name: "${A}-${B}-$A-$${A}"
    secret: ${PORTAL_SECRET}
users:
  - username: alice
    password: x
    claims:
      name: ${A}
`
	cfg := mustParse(t, src, env)
	if cfg.Issuer != "https://login.example.com" {
		t.Errorf("Issuer = %q", cfg.Issuer)
	}
	if cfg.AccessTokenTTL != 15*time.Minute {
		t.Errorf("AccessTokenTTL = %v", cfg.AccessTokenTTL)
	}
	if got, want := cfg.Clients[0].Name, "x-${A}-$A-${A}"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	if got, want := cfg.Clients[0].Secret, "from-the-environment-$1"; got != want {
		t.Errorf("Secret = %q, want %q", got, want)
	}
	if got := cfg.Users[0].Claims["name"]; got != "x" {
		t.Errorf("claim name = %v", got)
	}

	// Keys are never expanded: ${A} as a key is just an unknown key.
	_, err := Parse([]byte(head+"${A}: 1\n"), "t.yaml", env)
	if err == nil || !strings.Contains(err.Error(), `unknown key "${A}"`) {
		t.Errorf("key expansion: got %v", err)
	}

	// Every undefined variable is reported, each with its line, and
	// nothing else about the values it stood in.
	_, err = Parse([]byte("issuer: ${NOPE}\naccess_token_ttl: ${ALSO_NOPE}\n"), "t.yaml", env)
	ps := problems(t, err)
	if len(ps) != 2 || ps[0].Line != 1 || ps[1].Line != 2 ||
		!strings.Contains(ps[0].Message, "NOPE") || !strings.Contains(ps[1].Message, "ALSO_NOPE") {
		t.Errorf("undefined variables: got\n%v", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, head+"access_token_ttl: 0s\n", noEnv)
	if cfg.Listen != DefaultListen || cfg.Storage != DefaultStorage || cfg.SigningAlg != DefaultSigningAlg ||
		cfg.AccessTokenTTL != DefaultAccessTokenTTL || cfg.RefreshTokenTTL != DefaultRefreshTokenTTL ||
		cfg.KeyRotationPeriod != DefaultKeyRotationPeriod {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if cfg.Path != "test.yaml" {
		t.Errorf("Path = %q", cfg.Path)
	}

	cfg = mustParse(t, head+"key_rotation_period: -1s\nrefresh_token_ttl: 1ns\n", noEnv)
	if cfg.KeyRotationPeriod >= 0 {
		t.Errorf("negative key_rotation_period became %v", cfg.KeyRotationPeriod)
	}
	if cfg.RefreshTokenTTL != time.Nanosecond {
		t.Errorf("RefreshTokenTTL = %v; any positive value is accepted", cfg.RefreshTokenTTL)
	}
}

// TestIDTokenAlgs: a client without id_token_signed_response_alg gets
// signing_alg's ID tokens; RS256 is always offered besides.
func TestIDTokenAlgs(t *testing.T) {
	cfg := mustParse(t, head+"clients:\n  - id: a\n  - id: b\n    id_token_signed_response_alg: RS256\n", noEnv)
	if got := cfg.Clients[0].IDTokenSignedResponseAlg; got != "" {
		t.Errorf("absent id_token_signed_response_alg = %q, want empty (signing_alg)", got)
	}
	if got := cfg.Clients[1].IDTokenSignedResponseAlg; got != "RS256" {
		t.Errorf("id_token_signed_response_alg = %q, want RS256", got)
	}
	if got := cfg.IDTokenSigningAlgs(); !slices.Equal(got, []string{"ES256", "RS256"}) {
		t.Errorf("IDTokenSigningAlgs() = %v, want [ES256 RS256]", got)
	}
	cfg = mustParse(t, head+"signing_alg: RS256\n", noEnv)
	if got := cfg.IDTokenSigningAlgs(); !slices.Equal(got, []string{"RS256"}) {
		t.Errorf("IDTokenSigningAlgs() with signing_alg RS256 = %v, want [RS256]", got)
	}
}

func TestLines(t *testing.T) {
	src := head + `clients:
  - id: a          # line 3
  - id: b          # line 4
external_audiences:
  - x              # line 6
  - id: y          # line 7
users:
  - username: u    # line 9
    password: p
`
	cfg := mustParse(t, src, noEnv)
	got := []int{cfg.Clients[0].Line, cfg.Clients[1].Line, cfg.ExternalAudiences[0].Line, cfg.ExternalAudiences[1].Line, cfg.Users[0].Line}
	want := []int{3, 4, 6, 7, 9}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lines = %v, want %v", got, want)
	}
	if cfg.ExternalAudiences[0].ID != "x" || cfg.ExternalAudiences[1].ID != "y" {
		t.Errorf("external audiences = %+v", cfg.ExternalAudiences)
	}
}

func TestPlainSecrets(t *testing.T) {
	hashed := mustParse(t, head+"clients:\n  - id: a\n    secret: '"+testArgon+"'\n  - id: pub\nusers:\n  - username: u\n    password_hash: '"+testBcrypt+"'\n", noEnv)
	if hashed.HasPlainSecrets() {
		t.Errorf("HasPlainSecrets() = true for hashed config: %v", hashed.PlainSecrets())
	}
	plain := mustParse(t, head+"clients:\n  - id: a\n    secret: plain-secret-long-enough\nusers:\n  - username: u\n    password: p\n", noEnv)
	if !plain.HasPlainSecrets() {
		t.Error("HasPlainSecrets() = false for plain config")
	}
	got := strings.Join(plain.PlainSecrets(), "; ")
	if want := `client "a" secret (line 3); user "u" password (line 6)`; got != want {
		t.Errorf("PlainSecrets() = %q, want %q", got, want)
	}
}

// TestRealHashes checks that hashes made by the libraries the server uses
// to verify them pass validation.
func TestRealHashes(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	salt := []byte("0123456789abcdef")
	sum := argon2.IDKey([]byte("pw"), salt, 1, 64, 1, 32)
	a := fmt.Sprintf("$argon2id$v=%d$m=64,t=1,p=1$%s$%s", argon2.Version,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum))
	for _, h := range []string{string(b), a} {
		if !LooksHashed(h) {
			t.Errorf("LooksHashed(%q) = false", h)
		}
		if msg, hint := checkHash(h); msg != "" {
			t.Errorf("checkHash(%q) = %s (%s)", h, msg, hint)
		}
	}
}

func TestSuggest(t *testing.T) {
	ids := []string{"customer-portal", "hr-api", "order-status-api"}
	tests := []struct{ in, want string }{
		{"order-status-ap", "order-status-api"},
		{"HR-API", "hr-api"},
		{"hr-ap", "hr-api"},
		{"payments", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, ids); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLoadShop(t *testing.T) {
	cfg, err := Load("../examples/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "http://127.0.0.1:8080" || cfg.Listen != "127.0.0.1:8080" ||
		cfg.Storage != "sqlite:gatehouse.db" || cfg.SigningAlg != "ES256" || cfg.AccessTokenTTL != 10*time.Minute {
		t.Errorf("server settings: %+v", cfg)
	}
	wantAud := map[string][]string{
		"customer-portal":   {"order-status-api"},
		"backoffice-portal": {"order-status-api", "hr-api"},
		"order-status-api":  nil,
		"hr-api":            nil,
		"inventory-api":     nil,
		"order-sync-job":    {"order-status-api"},
	}
	if len(cfg.Clients) != len(wantAud) {
		t.Errorf("%d clients, want %d", len(cfg.Clients), len(wantAud))
	}
	for id, aud := range wantAud {
		c := cfg.Client(id)
		if c == nil {
			t.Errorf("client %q missing", id)
			continue
		}
		if fmt.Sprint(c.Audience) != fmt.Sprint(aud) {
			t.Errorf("client %q audience = %v, want %v", id, c.Audience, aud)
		}
		if c.Public() {
			t.Errorf("client %q is public", id)
		}
	}
	if s := cfg.Client("order-sync-job").Secret; s != "sync-job-secret-change-me" {
		t.Errorf("order-sync-job secret = %q (the README walk-through uses it)", s)
	}
	if len(cfg.Users) != 2 || cfg.Users[0].Username != "alice" || cfg.Users[1].Username != "bob" {
		t.Errorf("users = %+v", cfg.Users)
	}
	if !cfg.HasPlainSecrets() {
		t.Error("shop.yaml uses plain development secrets; HasPlainSecrets() = false")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadUsesEnvironment(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_ISSUER", "https://login.example.com")
	path := t.TempDir() + "/c.yaml"
	if err := os.WriteFile(path, []byte("issuer: ${GATEHOUSE_TEST_ISSUER}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "https://login.example.com" || cfg.Path != path {
		t.Errorf("Issuer = %q, Path = %q", cfg.Issuer, cfg.Path)
	}
}

// TestNoPasswordsInErrors checks that database passwords in a bad storage
// value are not printed: problem reports end up in logs.
func TestNoPasswordsInErrors(t *testing.T) {
	for _, storage := range []string{
		"mysql://u:hunter2@db/x", "postgres://u:hunter2@db:badport/x",
		"mysql://db/x?password=hunter2", "postgress://db/x?sslpassword=hunter2",
		"'host=db password=hunter2'",
	} {
		_, err := Parse([]byte(head+"storage: "+storage+"\n"), "t.yaml", noEnv)
		if err == nil {
			t.Errorf("storage %q accepted", storage)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}
