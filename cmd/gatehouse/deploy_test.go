package main

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// No image can be built in the tests (no registry access), so these tests
// read the deployment files as text and hold them to what they promise: a
// static non-root image and a hardened systemd unit. They catch an edit
// that quietly drops a hardening line.

// dockerInstruction is one Dockerfile instruction with its continuation
// lines joined.
type dockerInstruction struct{ op, args string }

func readDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dockerInstruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstruction{strings.ToUpper(op), strings.Join(strings.Fields(args), " ")})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() != 0 {
		t.Fatalf("Dockerfile ends inside a continued line: %q", cur.String())
	}
	return out
}

func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	var stages [][]dockerInstruction
	for _, in := range ins {
		if in.op == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if in.op != "ARG" {
				t.Fatalf("%s before the first FROM", in.op)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) != 2 {
		t.Fatalf("want a build stage and a final stage, got %d stages", len(stages))
	}
	build, final := stages[0], stages[1]
	if got := build[0].args; got != "golang:1.26 AS build" {
		t.Errorf("build stage FROM %q, want golang:1.26 AS build", got)
	}
	has := func(stage []dockerInstruction, op, substr string) bool {
		return slices.ContainsFunc(stage, func(in dockerInstruction) bool {
			return in.op == op && strings.Contains(in.args, substr)
		})
	}
	// A cgo build would link the C library dynamically and fail to start
	// on distroless/static.
	if !has(build, "ENV", "CGO_ENABLED=0") && !has(build, "RUN", "CGO_ENABLED=0") {
		t.Error("build stage does not set CGO_ENABLED=0")
	}
	if !has(build, "RUN", "go build -trimpath") || !has(build, "RUN", "./cmd/gatehouse") {
		t.Error("build stage does not run go build -trimpath ./cmd/gatehouse")
	}
	if base := final[0].args; base != "gcr.io/distroless/static:nonroot" && base != "scratch" {
		t.Errorf("final stage FROM %q, want a static base", base)
	}
	var user string
	for _, in := range final {
		if in.op == "USER" {
			user = in.args
		}
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("final stage runs as %q, want a non-root USER", user)
	}
	if !has(final, "EXPOSE", "8080") {
		t.Error("final stage does not EXPOSE 8080")
	}
	if !has(final, "ENTRYPOINT", "gatehouse") {
		t.Error("ENTRYPOINT is not the gatehouse binary")
	}
	if has(final, "RUN", "") {
		t.Error("final stage has a RUN: distroless has no shell")
	}
}

func TestDockerignoreKeepsWhatTheBuildNeeds(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for l := range strings.Lines(string(b)) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimPrefix(l, "/"))
		}
	}
	for _, secret := range []string{".git", "*.db"} {
		if !slices.Contains(patterns, secret) {
			t.Errorf(".dockerignore does not exclude %s", secret)
		}
	}
	// The build copies the module files and compiles these directories
	// (the binary's packages and the files they embed).
	for _, need := range []string{"go.mod", "go.sum", "cmd", "config", "internal", "store", "web", "audit", "oauth", "verify", "httpauth", "proxy"} {
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, need); ok || p == need {
				t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", p, need)
			}
		}
	}
}

func TestSystemdUnitIsHardened(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "gatehouse.service"))
	if err != nil {
		t.Fatal(err)
	}
	section := ""
	service := map[string][]string{}
	for l := range strings.Lines(string(b)) {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "["):
			section = l
		case section == "[Service]":
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Errorf("not key=value in [Service]: %q", l)
			}
			service[k] = append(service[k], v)
		}
	}
	want := map[string]string{
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"StateDirectory":          "gatehouse",
		"CapabilityBoundingSet":   "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter":        "@system-service",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
	}
	for k, v := range want {
		if !slices.Contains(service[k], v) {
			t.Errorf("[Service] %s=%q missing (have %q)", k, v, service[k])
		}
	}
	if !slices.Contains(service["DynamicUser"], "yes") && len(service["User"]) == 0 {
		t.Error("the unit runs as root: set DynamicUser=yes or User=")
	}
	if len(service["EnvironmentFile"]) == 0 {
		t.Error("no EnvironmentFile for GATEHOUSE_SECRET")
	}
	if exec := service["ExecStart"]; len(exec) != 1 || !strings.Contains(exec[0], "gatehouse serve --config ") {
		t.Errorf("ExecStart %q does not run gatehouse serve --config", exec)
	}
}
