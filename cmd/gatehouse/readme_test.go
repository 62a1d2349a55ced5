package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
)

// The README test runs the README's walk-through as a reader would: every
// code block marked with <!-- readme-test --> (or <!-- readme-test exit=N -->)
// is run, command by command, with bash against freshly built binaries and
// a server on a free loopback port, and what the README shows as output is
// compared with what the command prints. Editing a marked command or its
// shown output without the behaviour following (or the other way round)
// fails this test; so does removing the markers (see the minimums below).
//
// Blocks:
//   - ```sh: a command is a line, with trailing-backslash continuations. Its
//     expected output is the "# …" lines right after it, an inline comment
//     that starts with "{" (JSON), or, for the block's last command, a
//     fenced ``` or ```json block right after the block.
//   - ```console: "$ " lines are commands, the lines up to the next "$ "
//     their output; "$ echo $?" checks the previous command's exit status.
//
// Output matches when every expected line appears in the actual output in
// order ("…" and "..." lines stand for anything), JSON compared as JSON:
// every expected member present and equal, except strings holding "…" or
// "..." and the times iat and exp, which only need to be present.

// readmeBlock is one marked code block.
type readmeBlock struct {
	line     int // of the opening fence, 1-based
	lang     string
	exit     int // the status every command must end with unless "echo $?" says otherwise
	commands []readmeCommand
}

type readmeCommand struct {
	text     string
	expected []string // expected output lines; nil when the README shows none
}

var markerRE = regexp.MustCompile(`^<!-- readme-test(?: exit=(\d+))? -->$`)

// parseReadme returns the marked blocks of the README.
func parseReadme(t *testing.T, text string) []readmeBlock {
	t.Helper()
	lines := strings.Split(text, "\n")
	var blocks []readmeBlock
	for i := 0; i < len(lines); i++ {
		m := markerRE.FindStringSubmatch(lines[i])
		if m == nil {
			if strings.Contains(lines[i], "readme-test") {
				t.Fatalf("README.md:%d: malformed marker %q", i+1, lines[i])
			}
			continue
		}
		b := readmeBlock{line: i + 2}
		if m[1] != "" {
			b.exit, _ = strconv.Atoi(m[1])
		}
		i++
		if i >= len(lines) || !strings.HasPrefix(lines[i], "```") {
			t.Fatalf("README.md:%d: a readme-test marker must be followed by a code block", i)
		}
		b.lang = strings.TrimPrefix(lines[i], "```")
		var body []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			body = append(body, lines[i])
		}
		// A plain or json block right after is the last command's output.
		var after []string
		if i+1 < len(lines) && (lines[i+1] == "```" || lines[i+1] == "```json") {
			for i += 2; i < len(lines) && lines[i] != "```"; i++ {
				after = append(after, lines[i])
			}
		}
		switch b.lang {
		case "sh":
			b.commands = parseShellBlock(body)
		case "console":
			b.commands = parseConsoleBlock(body)
		default:
			t.Fatalf("README.md:%d: readme-test block of language %q (want sh or console)", b.line, b.lang)
		}
		if len(b.commands) == 0 {
			t.Fatalf("README.md:%d: readme-test block without commands", b.line)
		}
		if after != nil {
			last := &b.commands[len(b.commands)-1]
			last.expected = append(last.expected, after...)
		}
		blocks = append(blocks, b)
	}
	return blocks
}

func parseShellBlock(body []string) []readmeCommand {
	var cmds []readmeCommand
	var cur strings.Builder
	for _, l := range body {
		if cur.Len() == 0 && strings.HasPrefix(l, "#") {
			if len(cmds) > 0 {
				c := &cmds[len(cmds)-1]
				c.expected = append(c.expected, strings.TrimPrefix(strings.TrimPrefix(l, "#"), " "))
			}
			continue
		}
		if rest, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(rest)
			continue
		}
		cur.WriteString(l)
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			continue
		}
		var expected []string
		// An inline comment is shown output only when it is JSON; other
		// inline comments are remarks ("# text").
		if i := strings.Index(text, "  #"); i >= 0 {
			comment := strings.TrimSpace(text[i+3:])
			text = strings.TrimSpace(text[:i])
			if strings.HasPrefix(comment, "{") {
				expected = []string{comment}
			}
		}
		cmds = append(cmds, readmeCommand{text: text, expected: expected})
	}
	return cmds
}

func parseConsoleBlock(body []string) []readmeCommand {
	var cmds []readmeCommand
	for _, l := range body {
		if text, ok := strings.CutPrefix(l, "$ "); ok {
			cmds = append(cmds, readmeCommand{text: text, expected: []string{}})
			continue
		}
		if len(cmds) > 0 {
			c := &cmds[len(cmds)-1]
			c.expected = append(c.expected, l)
		}
	}
	return cmds
}

// readmeEnv is the world the README's commands run in.
type readmeEnv struct {
	dir       string // working directory: examples/ is linked in
	bin       string // gatehouse and the shop API binary
	state     string // shell variables carried from command to command
	issuer    string
	orderAddr string
	hrAddr    string
	replacer  *strings.Replacer
}

func TestReadme(t *testing.T) {
	testkit.SkipShort(t, "the README walk-through (builds the binaries, runs a server)")
	for _, tool := range []string{"bash", "curl", "jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			testkit.Missing(t, "the README walk-through needs "+tool)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := parseReadme(t, string(readme))
	// The markers are what puts a command under test: losing them must
	// fail, not silently test less.
	all := ""
	for _, b := range blocks {
		for _, c := range b.commands {
			all += c.text + "\n"
		}
	}
	for _, must := range []string{
		"grant_type=client_credentials http://127.0.0.1:8080/token",
		"resource=hr-api",
		"resource=inventory-api",
		"examples/dpop-client",
		"/introspect",
		"get-token.sh customer-portal",
		"token explain",
		"gatehouse audit --config examples/policy.yaml",
		"--who-can",
	} {
		if !strings.Contains(all, must) {
			t.Errorf("no readme-test block runs a command with %q", must)
		}
	}
	if len(blocks) < 14 {
		t.Errorf("%d readme-test blocks, want at least 14", len(blocks))
	}

	env := startReadmeEnv(t)
	status := 0
	for _, b := range blocks {
		for i, c := range b.commands {
			name := fmt.Sprintf("README.md:%d %s", b.line, c.text)
			if c.text == "echo $?" {
				if want := strings.TrimSpace(strings.Join(c.expected, "\n")); want != strconv.Itoa(status) {
					t.Errorf("%s: the previous command exited %d, README says %s", name, status, want)
				}
				continue
			}
			want := b.exit
			if i+1 < len(b.commands) && b.commands[i+1].text == "echo $?" {
				want = -1 // checked by the echo
			}
			status = env.run(t, name, c, want)
		}
	}
}

// startReadmeEnv builds gatehouse and the shop APIs, and starts the server
// with examples/shop.yaml on a free port and a temporary SQLite file.
func startReadmeEnv(t *testing.T) *readmeEnv {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	e := &readmeEnv{dir: t.TempDir(), bin: t.TempDir()}
	e.state = filepath.Join(e.dir, ".readme-state")
	if err := os.WriteFile(e.state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "examples"), filepath.Join(e.dir, "examples")); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, pkg := range []string{"./cmd/gatehouse", "./examples/shop", "./examples/dpop-client"} {
		wg.Go(func() {
			cmd := exec.Command("go", "build", "-o", filepath.Join(e.bin, filepath.Base(pkg)), pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	e.issuer = "http://" + freeLoopbackAddr(t)
	e.orderAddr, e.hrAddr = freeLoopbackAddr(t), freeLoopbackAddr(t)
	e.replacer = strings.NewReplacer(
		"go run ./cmd/gatehouse", "gatehouse",
		"go run ./examples/dpop-client", "dpop-client",
		"go run ./examples/shop", "shop --issuer "+e.issuer+" --orders-listen "+e.orderAddr+" --hr-listen "+e.hrAddr,
		"http://127.0.0.1:8080", e.issuer,
		"127.0.0.1:8081", e.orderAddr,
		"127.0.0.1:8082", e.hrAddr,
	)

	shop, err := os.ReadFile(filepath.Join(root, "examples", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(string(shop), "127.0.0.1:8080", strings.TrimPrefix(e.issuer, "http://"))
	cfg = strings.Replace(cfg, "storage: sqlite:gatehouse.db", "storage: sqlite:"+filepath.Join(e.dir, "server.db"), 1)
	if !strings.Contains(cfg, filepath.Join(e.dir, "server.db")) {
		t.Fatal("examples/shop.yaml no longer says storage: sqlite:gatehouse.db; update the README test")
	}
	cfgPath := filepath.Join(e.dir, "server.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	server := e.background(t, "gatehouse serve --config "+cfgPath+" --access-log=false", &log)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(e.issuer + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) || server.ProcessState != nil {
			t.Fatalf("the server did not become ready: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return e
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// environ is the commands' environment: the built binaries first on PATH,
// and get-token.sh pointed at the test's issuer.
func (e *readmeEnv) environ() []string {
	return append(os.Environ(), "PATH="+e.bin+string(os.PathListSeparator)+os.Getenv("PATH"), "ISSUER="+e.issuer)
}

// background starts a long-running command in its own process group,
// stopped when the test ends.
func (e *readmeEnv) background(t *testing.T, text string, out *bytes.Buffer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("bash", "-c", ". "+e.state+"\nexec "+text)
	cmd.Dir, cmd.Env = e.dir, e.environ()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return cmd
}

// run runs one README command and checks its exit status (unless
// wantExit is -1) and output; it returns the exit status.
func (e *readmeEnv) run(t *testing.T, name string, c readmeCommand, wantExit int) int {
	t.Helper()
	text := e.replacer.Replace(c.text)
	if strings.Contains(text, "| dot ") {
		if _, err := exec.LookPath("dot"); err != nil {
			// Graphviz is optional for the README (it draws the
			// picture); the DOT output itself is tested in audit.
			t.Logf("%s: skipped, Graphviz dot is not installed", name)
			return 0
		}
	}
	if strings.HasSuffix(text, "&") {
		var out bytes.Buffer
		cmd := e.background(t, strings.TrimSpace(strings.TrimSuffix(text, "&")), &out)
		// The shop's two APIs: wait until both listen.
		deadline := time.Now().Add(30 * time.Second)
		for _, addr := range []string{e.orderAddr, e.hrAddr} {
			for {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err == nil {
					c.Close()
					break
				}
				if time.Now().After(deadline) || cmd.ProcessState != nil {
					t.Fatalf("%s: %s does not listen: %v\n%s", name, addr, err, out.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		return 0
	}

	// set -a exports every variable a command assigns, so that export -p
	// hands TOKEN, CUSTOMER … on to the next command.
	script := "set -a\n. " + e.state + "\n" + text + "\nstatus=$?\nexport -p > " + e.state + ".new\nexit $status\n"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir, cmd.Env = e.dir, e.environ()
	out, err := cmd.CombinedOutput()
	status := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: %v", name, err)
		}
		status = ee.ExitCode()
	}
	if err := os.Rename(e.state+".new", e.state); err != nil {
		t.Fatalf("%s: keeping the shell state: %v", name, err)
	}
	if wantExit >= 0 && status != wantExit {
		t.Errorf("%s: exit status %d, want %d; output:\n%s", name, status, wantExit, out)
		return status
	}
	if c.expected != nil {
		expected := make([]string, len(c.expected))
		for i, l := range c.expected {
			expected[i] = e.replacer.Replace(l)
		}
		if problem := matchOutput(expected, string(out)); problem != "" {
			t.Errorf("%s: %s\nREADME shows:\n%s\ngot:\n%s", name, problem, strings.Join(expected, "\n"), out)
		}
	}
	return status
}

// matchOutput says how actual fails to show the expected lines, or "".
func matchOutput(expected []string, actual string) string {
	whole := strings.TrimSpace(strings.Join(expected, "\n"))
	if whole == "" {
		return ""
	}
	if strings.HasPrefix(whole, "{") && strings.Count(whole, "\n") > 0 {
		// A multi-line JSON document: the whole output is one too.
		return matchJSON(whole, strings.TrimSpace(actual))
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(actual))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), " \t\r"))
	}
	i := 0
next:
	for _, want := range expected {
		want = strings.TrimRight(want, " \t\r")
		if isElision(want) {
			continue
		}
		for ; i < len(lines); i++ {
			got := lines[i]
			if got == want || (strings.HasPrefix(strings.TrimSpace(want), "{") && matchJSON(strings.TrimSpace(want), got) == "") {
				i++
				continue next
			}
		}
		return fmt.Sprintf("missing line (in this order): %s", want)
	}
	return ""
}

func isElision(l string) bool {
	l = strings.TrimSpace(l)
	return l == "" || l == "…" || l == "..."
}

// matchJSON compares JSON as documented on TestReadme; ",...}" and ",…}"
// at the end of an object in the README mean "and other members".
func matchJSON(want, got string) string {
	for _, el := range []string{",...}", ",…}", ", ...}", ", …}"} {
		want = strings.ReplaceAll(want, el, "}")
	}
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return fmt.Sprintf("the README's JSON does not parse: %v", err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return fmt.Sprintf("the output is not JSON: %v", err)
	}
	return jsonDiff("$", w, g)
}

func jsonDiff(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path + ": not an object"
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return path + "." + k + ": missing"
			}
			if k == "iat" || k == "exp" {
				continue // times: any value
			}
			if d := jsonDiff(path+"."+k, wv, gv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: %v, want %v", path, got, want)
		}
		for i := range w {
			if d := jsonDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	case string:
		if strings.Contains(w, "…") || strings.Contains(w, "...") {
			if _, ok := got.(string); ok {
				return "" // a placeholder for a generated string
			}
		}
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		return fmt.Sprintf("%s: %v, want %v", path, got, want)
	}
	return ""
}
