package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

// runCmdIn runs the gatehouse command line in-process with stdin as its
// standard input (not a terminal: the password is its first line).
func runCmdIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut, func(string) (string, bool) { return "", false })
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// checkHash fails unless hash is an argon2id PHC string that verifies pw.
func checkHash(t *testing.T, hash, pw string) {
	t.Helper()
	if !strings.HasPrefix(hash, "$argon2id$") {
		t.Fatalf("stored hash %q is not argon2id", hash)
	}
	c, err := secret.ParseUncached(hash)
	if err != nil {
		t.Fatalf("parsing the stored hash: %v", err)
	}
	if !c.Check(pw) {
		t.Errorf("the stored hash does not verify the password")
	}
}

// TestUsersPeopleRoundTrip drives add, list, disable, enable,
// set-password, set-groups and delete against a real SQLite store.
func TestUsersPeopleRoundTrip(t *testing.T) {
	cfgPath, dbPath := writeUsersConfig(t)
	ctx := context.Background()
	const pw1, pw2 = "correct horse battery 1", "tr0ub4dor&3-second"
	secrets := []string{pw1, pw2}
	noSecret := func(what, s string) {
		t.Helper()
		for _, p := range secrets {
			if strings.Contains(s, p) {
				t.Errorf("%s shows a password: %q", what, s)
			}
		}
		if strings.Contains(s, "$argon2id$") {
			t.Errorf("%s shows a password hash: %q", what, s)
		}
	}
	run := func(stdin string, args ...string) string {
		t.Helper()
		out, errOut, err := runCmdIn(t, stdin, append(args, "--config", cfgPath)...)
		noSecret("output", out+errOut)
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
		}
		return out
	}
	fails := func(stdin, want string, args ...string) {
		t.Helper()
		out, errOut, err := runCmdIn(t, stdin, append(args, "--config", cfgPath)...)
		noSecret("output", out+errOut)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v = %v, want an error containing %q\n%s%s", args, err, want, out, errOut)
		}
		if len(auditLines(t, out)) != 0 {
			t.Errorf("%v failed but wrote an audit event: %s", args, out)
		}
	}

	out := run(pw1+"\n", "users", "add", "bob", "--name", "Bob Builder", "--email", "bob@example.com", "--group", "staff", "--group", "ops")
	if !strings.Contains(out, "added: bob") {
		t.Errorf("add output %q", out)
	}
	if ev := auditLines(t, out); len(ev) != 1 || ev[0]["event"] != "user.added" || ev[0]["username"] != "bob" || ev[0]["source"] != "cli" {
		t.Errorf("add audit events %v", ev)
	}

	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bob, err := st.LocalUser(ctx, "bob")
	if err != nil {
		t.Fatalf("LocalUser(bob): %v", err)
	}
	checkHash(t, bob.PasswordHash, pw1)
	var claims map[string]string
	if err := json.Unmarshal(bob.Claims, &claims); err != nil || claims["name"] != "Bob Builder" || claims["email"] != "bob@example.com" || len(claims) != 2 {
		t.Errorf("claims %s (%v)", bob.Claims, err)
	}
	if bob.Subject != "bob" || bob.Source != "" || strings.Join(bob.Groups, ",") != "staff,ops" || bob.Disabled {
		t.Errorf("stored %+v", bob)
	}
	fails(pw1+"\n", "already exists", "users", "add", "bob")

	// A person from an identity source, as the server would record them.
	if _, err := st.RecordSignIn(ctx, store.Person{Subject: "corp:7", Source: "corp", Username: "carol",
		Groups: []string{"eng"}}, time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	out = run("", "users", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SUBJECT") {
		t.Fatalf("list:\n%s", out)
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "bob local bob staff,ops no never" {
		t.Errorf("list row %q", lines[1])
	}
	if f := strings.Fields(lines[2]); strings.Join(f, " ") != "corp:7 corp carol eng no 2026-05-06T07:08:09Z" {
		t.Errorf("list row %q", lines[2])
	}
	var listed []map[string]any
	if err := json.Unmarshal([]byte(run("", "users", "list", "--json")), &listed); err != nil || len(listed) != 2 ||
		listed[0]["subject"] != "bob" || listed[0]["source"] != "local" || listed[1]["source"] != "corp" || listed[0]["last_sign_in"] != nil {
		t.Errorf("list --json = %v (%v)", listed, err)
	}

	for _, step := range []struct {
		args     []string
		out, ev  string
		disabled bool
	}{
		{[]string{"users", "disable", "bob"}, "disabled: bob", "user.disabled", true},
		{[]string{"users", "enable", "bob"}, "enabled: bob", "user.enabled", false},
	} {
		out := run("", step.args...)
		if ev := auditLines(t, out); !strings.Contains(out, step.out) || len(ev) != 1 || ev[0]["event"] != step.ev || ev[0]["username"] != "bob" {
			t.Errorf("%v: output %q", step.args, out)
		}
		if p, _ := st.GetPerson(ctx, "bob"); p.Disabled != step.disabled {
			t.Errorf("%v: Disabled = %v", step.args, p.Disabled)
		}
	}
	// People from sources are disabled the same way.
	run("", "users", "disable", "corp:7")
	if p, _ := st.GetPerson(ctx, "corp:7"); !p.Disabled {
		t.Error("corp:7 not disabled")
	}
	if got := run("", "users", "list"); !strings.Contains(strings.Join(strings.Fields(got), " "), "corp:7 corp carol eng yes") {
		t.Errorf("list after disable:\n%s", got)
	}

	out = run(pw2+"\r\n", "users", "set-password", "bob")
	if ev := auditLines(t, out); !strings.Contains(out, "password set: bob") || len(ev) != 1 || ev[0]["event"] != "user.password_set" {
		t.Errorf("set-password output %q", out)
	}
	bob, _ = st.LocalUser(ctx, "bob")
	checkHash(t, bob.PasswordHash, pw2)
	if c, _ := secret.ParseUncached(bob.PasswordHash); c.Check(pw1) {
		t.Error("the old password still verifies")
	}
	fails(pw2+"\n", `no local user "corp:7"`, "users", "set-password", "corp:7")
	fails(pw2+"\n", "not of the store", "users", "set-password", "alice")

	run("", "users", "set-groups", "bob", "admins")
	if p, _ := st.GetPerson(ctx, "bob"); strings.Join(p.Groups, ",") != "admins" {
		t.Errorf("groups after set-groups: %q", p.Groups)
	}
	fails("", "identity source", "users", "set-groups", "corp:7", "x")

	out = run("", "users", "delete", "bob")
	if ev := auditLines(t, out); !strings.Contains(out, "deleted: bob") || len(ev) != 1 || ev[0]["event"] != "user.deleted" {
		t.Errorf("delete output %q", out)
	}
	if _, err := st.GetPerson(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPerson(bob) after delete = %v", err)
	}
	for _, cmd := range []string{"delete", "disable", "enable"} {
		fails("", `no person with subject "bob"`, "users", cmd, "bob")
	}
	fails("", "not of the store", "users", "disable", "alice")
}

// TestUsersAddRefused: names that are not allowed, and passwords that are
// not passwords, create nothing.
func TestUsersAddRefused(t *testing.T) {
	cfgPath, dbPath := writeUsersConfig(t)
	for _, c := range []struct{ username, stdin, want string }{
		{"a:b", "pw-123456\n", "':'"},
		{"corp:alice", "pw-123456\n", "':'"},
		{"alice", "pw-123456\n", "user of"},
		{"job", "pw-123456\n", "client id"},
		{" bob", "pw-123456\n", "whitespace"},
		{"bob ", "pw-123456\n", "whitespace"},
		{"bo\x07b", "pw-123456\n", "control"},
		{"bob", "\n", "empty password"},
		{"bob", "", "empty password"},
		{"bob", strings.Repeat("x", 1025) + "\n", "longer than 1024"},
		{"bob", strings.Repeat("x", 4000), "longer than 1024"},
	} {
		out, errOut, err := runCmdIn(t, c.stdin, "users", "add", c.username, "--config", cfgPath)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("add %q = %v, want an error containing %q", c.username, err, c.want)
		}
		if strings.Contains(out+errOut, "pw-123456") || len(auditLines(t, out)) != 0 {
			t.Errorf("add %q output %q %q", c.username, out, errOut)
		}
	}
	if _, _, err := runCmdIn(t, "pw-123456\n", "users", "add", "bob", "--group", " staff", "--config", cfgPath); err == nil || !strings.Contains(err.Error(), "group") {
		t.Errorf("add with group \" staff\" = %v, want it refused", err)
	}
	// The longest password allowed is accepted.
	long := strings.Repeat("y", 1024)
	if _, _, err := runCmdIn(t, long+"\n", "users", "add", "bob", "--config", cfgPath); err != nil {
		t.Fatalf("add with a 1024-byte password: %v", err)
	}
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ps, err := st.ListPeople(context.Background())
	if err != nil || len(ps) != 1 || ps[0].Subject != "bob" {
		t.Fatalf("people %+v, %v; want bob only", ps, err)
	}
	checkHash(t, ps[0].PasswordHash, long)
}
