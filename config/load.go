package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	// File is the name given to Parse (the path, for Load).
	File string
	// Line is 1-based; 0 means the problem concerns the file as a whole
	// (for example a required key that is absent).
	Line int
	// Message says what is wrong, naming the client or user concerned.
	Message string
	// Hint says how to fix it; it may be empty.
	Hint string
}

// String formats the problem as "file:line: message (hint)".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	if p.Hint != "" {
		b.WriteString(" (")
		b.WriteString(p.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Error is every problem found in a configuration file, in line order. Parse
// and Load return it so that one run shows everything that needs fixing.
type Error struct {
	// Problems is never empty when Parse returns an *Error.
	Problems []Problem
}

// Error prints one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads, expands, decodes and validates the configuration file at path.
// ${NAME} references are expanded from the process environment. A file that
// cannot be read yields the os error (wrapped); a file with problems yields
// an *Error listing all of them.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, os.LookupEnv)
}

// Parse decodes and validates a configuration. filename is used in problem
// reports and stored in Config.Path; getenv resolves ${NAME} references
// (pass os.LookupEnv, or a map lookup in tests).
//
// Expansion rules: only the form ${NAME}, NAME matching [A-Za-z_][A-Za-z0-9_]*,
// is replaced, and only inside string values (never keys). Any other "$"
// stays as written, so passwords and "$argon2id$..." hashes are safe. Write
// "$${" for a literal "${". A variable that is unset or set to the empty
// string is an error: an empty secret would silently turn a confidential
// client public. Expanded text is not expanded again, and it stays text: a
// claim written as ${FLAG} is the string "true", never a boolean.
//
// Absent or zero durations and empty listen, storage and signing_alg take
// the Default* values. A negative key_rotation_period disables automatic key
// rotation. On success the error is nil; otherwise the Config is nil and the
// error is an *Error.
func Parse(data []byte, filename string, getenv func(string) (string, bool)) (*Config, error) {
	d := &decoder{file: filename, getenv: getenv}
	cfg := d.parse(data)
	if len(d.problems) > 0 {
		sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].Line < d.problems[j].Line })
		return nil, &Error{Problems: d.problems}
	}
	cfg.Path = filename
	return cfg, nil
}

// decoder holds the state of one Parse call.
type decoder struct {
	file     string
	getenv   func(string) (string, bool)
	problems []Problem

	// validating is set while checking values; problems then found on a
	// line whose ${NAME} expansion failed are dropped, since the value is
	// not the real one and the expansion problem already explains it.
	validating bool
	unexpanded map[int]bool
	// fromEnv marks the lines whose value was read from the environment
	// (${NAME} expanded), so a secret written into the file can be told
	// from one that came from the environment.
	fromEnv map[int]bool

	// checked and unknownKeys belong to the schema pass (schema.go);
	// positions to locate, which fills it after decoding (positions.go).
	checked     map[checkKey]*yaml.Node
	unknownKeys map[*yaml.Node]bool
	positions   map[any]*pos
}

func (d *decoder) add(line int, hint, format string, args ...any) {
	if d.validating && d.unexpanded[line] {
		return
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Message: fmt.Sprintf(format, args...), Hint: hint})
}

// parse runs the stages in order: the library parses the text into a node
// tree, ${NAME} references are expanded in it, the schema pass reports
// what does not fit the tagged structs and hands back a tree that does,
// the library decodes that tree into a Config, and validation checks the
// values. It returns nil only when it has added a problem.
func (d *decoder) parse(data []byte) *Config {
	root := d.parseYAML(data)
	if len(d.problems) > 0 {
		return nil
	}
	cfg := &Config{}
	if root != nil {
		d.expandNode(root)
		if clean := d.check(root); clean != nil {
			if !d.decode(clean, cfg) {
				return nil
			}
			d.locate(reflect.ValueOf(cfg).Elem(), clean, 0)
		}
	}
	applyDefaults(cfg)
	d.validating = true
	d.validate(cfg)
	return cfg
}

// yamlErrLine splits "yaml: line N: msg" as produced by the YAML library.
var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses exactly one YAML document into a node tree and returns
// its root, or nil for an empty file.
func (d *decoder) parseYAML(data []byte) (root *yaml.Node) {
	defer func() {
		// The YAML library has a few internal panics on malformed input; a
		// broken file must be reported, never crash the server.
		if r := recover(); r != nil {
			d.add(0, "", "YAML parser failed: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.yamlError(err)
	default:
		d.add(extra.Line, "remove the \"---\" separator and everything after it, or merge the documents",
			"the file holds more than one YAML document")
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// decode lets the YAML library fill cfg from the tree the schema pass
// approved. That tree decodes without type errors, so what can still fail
// is the library's refusal of excessive aliasing (a "billion laughs"
// file): the pass checks each aliased node once, the library counts every
// expansion.
func (d *decoder) decode(n *yaml.Node, cfg *Config) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			d.add(0, "", "YAML decoder failed: %v", r)
			ok = false
		}
	}()
	err := n.Decode(cfg)
	if err == nil {
		return true
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		d.yamlError(err)
		return false
	}
	for _, e := range te.Errors {
		line := 0
		if m := typeErrLine.FindStringSubmatch(e); m != nil {
			line, _ = strconv.Atoi(m[1])
			e = m[2]
		}
		d.add(line, "", "invalid value: %s", e)
	}
	return false
}

// typeErrLine splits one of the library's "line N: msg" type errors.
var typeErrLine = regexp.MustCompile(`^line (\d+): (.*)$`)

func (d *decoder) yamlError(err error) {
	msg := err.Error()
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.add(line, "", "invalid YAML: %s", m[2])
		return
	}
	hint := ""
	if strings.Contains(msg, "excessive aliasing") {
		hint = "write the entries out instead of repeating *aliases"
	}
	d.add(0, hint, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

func applyDefaults(cfg *Config) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Storage == "" {
		cfg.Storage = DefaultStorage
	}
	if cfg.SigningAlg == "" {
		cfg.SigningAlg = DefaultSigningAlg
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if cfg.RefreshTokenTTL == 0 {
		cfg.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if cfg.MaxDelegationDepth == 0 {
		cfg.MaxDelegationDepth = DefaultMaxDelegationDepth
	}
	if cfg.KeyRotationPeriod == 0 {
		cfg.KeyRotationPeriod = DefaultKeyRotationPeriod
	}
}

// HasPlainSecrets reports whether any client secret or user password is
// given in plain text rather than as an argon2id or bcrypt hash. Plain values
// are fine for development; a server should warn when it sees them.
func (c *Config) HasPlainSecrets() bool {
	return len(c.PlainSecrets()) > 0
}

// PlainSecrets names each plain-text credential, e.g. `client "x" secret`
// or `user "alice" password`, for a warning that says where they are.
func (c *Config) PlainSecrets() []string {
	var out []string
	for _, cl := range c.Clients {
		if cl.Secret != "" && !LooksHashed(cl.Secret) {
			out = append(out, fmt.Sprintf("client %q secret (line %d)", cl.ID, cl.Line))
		}
	}
	for _, u := range c.Users {
		if u.Password != "" {
			out = append(out, fmt.Sprintf("user %q password (line %d)", u.Username, u.Line))
		}
	}
	return out
}
