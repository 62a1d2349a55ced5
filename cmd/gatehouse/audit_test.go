package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
)

// runCLI runs the gatehouse command line with args and returns stdout,
// stderr and the exit status main would use (0, the exitError's status,
// or 2 for any other error).
func runCLI(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut, func(string) (string, bool) { return "", false })
	root.SetArgs(args)
	// A deadline, so that a serve which wrongly starts stops again and the
	// test fails instead of hanging.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	var ex exitError
	switch {
	case err == nil:
	case errors.As(err, &ex):
		status = int(ex)
	default:
		status = 2
		errOut.WriteString("gatehouse: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), status
}

func TestAuditPolicyPasses(t *testing.T) {
	out, errOut, status := runCLI(t, "audit", "--config", "../../examples/policy.yaml")
	if status != 0 {
		t.Fatalf("exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", status, out, errOut)
	}
	if !strings.Contains(out, "PASS  public clients never reach internal APIs") || strings.Contains(out, "FAIL") {
		t.Errorf("report does not show the passing rules:\n%s", out)
	}
	if errOut != "" {
		t.Errorf("stderr = %q, want nothing on success", errOut)
	}
}

func TestAuditPolicyViolationFails(t *testing.T) {
	for _, format := range []string{"text", "markdown", "json", "dot", "html"} {
		t.Run(format, func(t *testing.T) {
			out, errOut, status := runCLI(t, "audit", "--config", "../../examples/policy-violation.yaml", "--format", format)
			if status != 1 {
				t.Fatalf("exit status %d, want 1\nstderr:\n%s", status, errOut)
			}
			// Every format carries the violation, and stderr says why the
			// CI step failed even when stdout went to a file.
			if !strings.Contains(out, "public clients never reach internal APIs") {
				t.Errorf("%s report does not name the broken rule:\n%s", format, out)
			}
			for _, want := range []string{
				"2 policy violations",
				`rule "public clients never reach internal APIs": client "customer-portal" → audience "hr-api"`,
				`rule "only the back office reaches HR": client "customer-portal" → audience "hr-api"`,
			} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}

// TestAuditStrict: lint warnings are printed but fail the run only with
// --strict. The shop with hr-api's scopes removed is an audience that
// lists no scopes.
func TestAuditStrict(t *testing.T) {
	shop, err := os.ReadFile("../../examples/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	noScopes := strings.Replace(string(shop), "    scopes: [hr:read]", "", 1)
	if noScopes == string(shop) {
		t.Fatal("examples/shop.yaml no longer gives hr-api scopes: update this test")
	}
	path := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(path, []byte(noScopes), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, status := runCLI(t, "audit", "--config", path)
	if status != 0 || !strings.Contains(out, "api_without_scopes  hr-api") {
		t.Errorf("status %d, want 0 with the warning printed:\n%s", status, out)
	}
	_, errOut, status := runCLI(t, "audit", "--config", path, "--strict")
	if status != 1 || !strings.Contains(errOut, "0 policy violations, 1 warning") {
		t.Errorf("--strict: status %d, stderr %q; want 1 and the warning count", status, errOut)
	}
	for _, clean := range []string{"../../examples/shop.yaml", "../../examples/policy.yaml"} {
		if _, _, status := runCLI(t, "audit", "--config", clean, "--strict"); status != 0 {
			t.Errorf("--strict on %s: status %d, want 0", clean, status)
		}
	}
}

func TestAuditInvalidConfigIsStatus2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	src := "issuer: https://login.example.com\nclients:\n  - id: a\npolicy:\n  - name: x\n    deny: {from: [nobody], to: [a]}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, status := runCLI(t, "audit", "--config", path)
	if status != 2 || !strings.Contains(errOut, `from names "nobody"`) || !strings.Contains(errOut, "bad.yaml:6") {
		t.Errorf("status %d, stderr %q; want 2 and the problem with its line", status, errOut)
	}
}

// TestServeRefusesPolicyViolation: serve stops before it opens the store
// or binds a port, and says which rule, client and audience.
func TestServeRefusesPolicyViolation(t *testing.T) {
	data, err := os.ReadFile("../../examples/policy-violation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "gh.db")
	src := strings.Replace(string(data), "storage: sqlite:gatehouse.db", "storage: sqlite:"+db, 1)
	src = strings.Replace(src, "listen: 127.0.0.1:8080", "listen: 127.0.0.1:0", 1)
	if src == string(data) {
		t.Fatal("could not redirect storage and listen in the example")
	}
	path := filepath.Join(dir, "policy-violation.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}

	_, errOut, status := runCLI(t, "serve", "--config", path)
	if status == 0 {
		t.Fatal("serve started on a configuration that violates its policy")
	}
	for _, want := range []string{
		"refusing to start",
		`rule "public clients never reach internal APIs": client "customer-portal" → audience "hr-api"`,
		`rule "only the back office reaches HR"`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error lacks %q:\n%s", want, errOut)
		}
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve opened the store before checking the policy (stat: %v)", err)
	}
}

func TestCheckPolicyPassesCleanConfig(t *testing.T) {
	cfg, err := config.Load("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPolicy(cfg); err != nil {
		t.Errorf("checkPolicy: %v", err)
	}
}
