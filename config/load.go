package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
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

// LooksHashed reports whether s has the shape of a password hash Gatehouse
// understands (it starts like an argon2 PHC string or a bcrypt hash). It
// does not check the hash is well formed: a loaded Config has been
// validated, so any value that looks hashed there also parses.
func LooksHashed(s string) bool {
	return strings.HasPrefix(s, "$argon2") || looksBcrypt(s)
}

// looksBcrypt matches the prefixes "$2$", "$2a$", "$2x$" and so on;
// validation then accepts only the a, b and y variants.
func looksBcrypt(s string) bool {
	rest, ok := strings.CutPrefix(s, "$2")
	if !ok {
		return false
	}
	return strings.HasPrefix(rest, "$") || (len(rest) >= 2 && 'a' <= rest[0] && rest[0] <= 'z' && rest[1] == '$')
}

// Accepted values, in the order hints list them. They are read-only.
var (
	signingAlgs    = []string{"ES256", "EdDSA", "RS256"}
	grantTypes     = []string{"client_credentials", "authorization_code", "refresh_token"}
	reservedClaims = []string{"sub", "iss", "aud", "exp", "iat", "nbf", "jti", "azp", "client_id", "scope", "nonce", "auth_time", "at_hash", "sid", "acr", "amr"}
	topKeys        = []string{"issuer", "listen", "storage", "signing_alg", "access_token_ttl", "refresh_token_ttl", "key_rotation_period", "clients", "external_audiences", "users", "policy", "trusted_proxies", "admins"}
	clientKeys     = []string{"id", "name", "secret", "redirect_uris", "grant_types", "audience", "scopes", "first_party", "post_logout_redirect_uris", "tags", "require_pkce", "id_token_signed_response_alg", "routes", "id_token_scope_claims"}
	routeKeys      = []string{"path", "methods", "scopes"}
	httpMethods    = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
	externalKeys   = []string{"id", "description", "tags"}
	userKeys       = []string{"username", "password", "password_hash", "claims"}
	ruleKeys       = []string{"name", "description", "deny", "only", "require"}
	ruleKinds      = []string{RuleDeny, RuleOnly, RuleRequire}
	matchKeys      = []string{"from", "from_tags", "to", "to_tags"}
)

const (
	// minPlainSecret is the shortest plain client secret accepted.
	minPlainSecret = 16
	// maxSuggestInput bounds the quadratic edit-distance work per value.
	maxSuggestInput = 256
)

// pos records where an entry and its values are in the file, so validation
// can point at the offending line.
type pos struct {
	line  int
	keys  map[string]int   // line of the value of each key present
	items map[string][]int // line of each list item, by key
}

func newPos(line int) *pos {
	return &pos{line: line, keys: map[string]int{}, items: map[string][]int{}}
}

// at returns the line of key's value, or of the entry if key is absent.
func (p *pos) at(key string) int {
	if l, ok := p.keys[key]; ok {
		return l
	}
	return p.line
}

// item returns the line of the i-th item of list key.
func (p *pos) item(key string, i int) int {
	if l := p.items[key]; i < len(l) {
		return l[i]
	}
	return p.at(key)
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

	top       *pos
	clients   []*pos   // parallel to Config.Clients
	externals []*pos   // parallel to Config.ExternalAudiences
	users     []*pos   // parallel to Config.Users
	rules     []*pos   // parallel to Config.Policy
	routes    [][]*pos // parallel to Config.Clients, then to each client's Routes
	// kindless marks rules whose unknown key was already reported as an
	// unknown rule kind, so "the rule has no kind" is not said twice.
	kindless map[int]bool
}

func (d *decoder) add(line int, hint, format string, args ...any) {
	if d.validating && d.unexpanded[line] {
		return
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Message: fmt.Sprintf(format, args...), Hint: hint})
}

func (d *decoder) parse(data []byte) *Config {
	root := d.parseYAML(data)
	if len(d.problems) > 0 {
		return nil
	}
	if root != nil {
		d.expandNode(root)
	}
	cfg := &Config{}
	d.top = newPos(0)
	if root != nil {
		d.decodeConfig(root, cfg)
	}
	applyDefaults(cfg)
	d.validating = true
	d.validate(cfg)
	return cfg
}

// yamlErrLine splits "yaml: line N: msg" as produced by yaml.v3.
var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses exactly one YAML document into a node tree and returns
// its root, or nil for an empty file.
func (d *decoder) parseYAML(data []byte) (root *yaml.Node) {
	defer func() {
		// yaml.v3 has a few internal panics on malformed input; a broken
		// file must be reported, never crash the server.
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

func (d *decoder) yamlError(err error) {
	msg := err.Error()
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.add(line, "", "invalid YAML: %s", m[2])
		return
	}
	d.add(0, "", "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// expandNode expands ${NAME} in every string scalar that is a value, not a
// key. It walks Content only, never Alias, so each node is expanded once
// and cyclic anchors cannot loop.
func (d *decoder) expandNode(n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!str" && strings.Contains(n.Value, "$") {
			before := len(d.problems)
			v := d.expand(n.Value, n.Line)
			if len(d.problems) == before {
				n.Value = v
			} else {
				// Keep the text as written so the key does not look
				// absent ("issuer is required" would be noise).
				if d.unexpanded == nil {
					d.unexpanded = map[int]bool{}
				}
				d.unexpanded[n.Line] = true
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			d.expandNode(n.Content[i])
		}
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			d.expandNode(c)
		}
	}
}

// expand implements the ${NAME} rules documented on Parse.
func (d *decoder) expand(s string, line int) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		if i > 0 && s[i-1] == '$' {
			// "$${": the escape for a literal "${".
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			d.add(line, "write $${ for a literal ${", "unterminated ${ in value")
			b.WriteString(s[i:])
			return b.String()
		}
		name := s[i+2 : i+end]
		s = s[i+end+1:]
		if !isEnvName(name) {
			d.add(line, "a variable name is letters, digits and _ and does not start with a digit; write $${ for a literal ${",
				"invalid variable reference ${%s}", name)
			continue
		}
		v, ok := d.getenv(name)
		switch {
		case !ok:
			d.add(line, "set it in the environment, or write $${ for a literal ${", "environment variable %s is not set", name)
		case v == "":
			d.add(line, "set it to a non-empty value", "environment variable %s is empty", name)
		default:
			b.WriteString(v)
		}
	}
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z':
		case i > 0 && '0' <= r && r <= '9':
		default:
			return false
		}
	}
	return true
}

// resolve follows an alias to its anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// mapping walks the key/value pairs of a mapping node, reporting unknown and
// repeated keys, and calls set for each known key with its value.
func (d *decoder) mapping(n *yaml.Node, where string, known []string, p *pos, set func(key string, v *yaml.Node)) {
	d.mappingHint(n, where, known, p, nil, set)
}

// mappingHint is mapping with a caller-supplied hint for an unknown key,
// used where a bare list of keys would not explain the mistake. unknown is
// called for every unknown key; a "did you mean" suggestion still wins
// over its hint, and "" keeps the usual one.
func (d *decoder) mappingHint(n *yaml.Node, where string, known []string, p *pos, unknown func(key string) string, set func(key string, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.add(n.Content[i].Line, "keys are plain names such as "+known[0], "a key in %s is not a plain name", where)
			continue
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			d.add(k.Line, fmt.Sprintf("it is first set at line %d; keep one", first), "key %q is repeated in %s", key, where)
			continue
		}
		seen[key] = k.Line
		if !slices.Contains(known, key) {
			hint := "known keys: " + strings.Join(known, ", ")
			if unknown != nil {
				if h := unknown(key); h != "" {
					hint = h
				}
			}
			if key == "<<" {
				hint = "YAML merge keys are not supported; write the keys out"
			} else if s := suggest(key, known); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.add(k.Line, hint, "unknown key %q in %s", key, where)
			continue
		}
		p.keys[key] = n.Content[i+1].Line
		if isNull(v) {
			continue // "key:" with no value is the same as leaving it out
		}
		set(key, v)
	}
}

// str decodes a scalar as its text exactly as written, whatever YAML type it
// resolved to (so "secret: 0123" keeps its leading zero).
func (d *decoder) str(n *yaml.Node, key string) string {
	if n.Kind != yaml.ScalarNode {
		d.add(n.Line, "", "%s must be a single value, not a %s", key, kindName(n))
		return ""
	}
	return n.Value
}

// boolean decodes true or false; YAML 1.1 spellings such as "yes" are
// refused because they surprise people reading the file.
func (d *decoder) boolean(n *yaml.Node, key string) bool {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "true":
			return true
		case "false":
			return false
		}
	}
	d.add(n.Line, "write "+key+": true or "+key+": false", "%s must be true or false", key)
	return false
}

// strs decodes a sequence of scalars and records each item's line.
func (d *decoder) strs(n *yaml.Node, key string, p *pos) []string {
	if n.Kind != yaml.SequenceNode {
		hint := ""
		if n.Kind == yaml.ScalarNode {
			hint = fmt.Sprintf("write a YAML list, e.g. %s: [%s]", key, strings.Join(strings.Fields(n.Value), ", "))
		}
		d.add(n.Line, hint, "%s must be a list", key)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		line := c.Line
		c = resolve(c)
		if c.Kind != yaml.ScalarNode || isNull(c) {
			d.add(line, "", "each entry of %s must be a single non-empty value", key)
			continue
		}
		out = append(out, c.Value)
		p.items[key] = append(p.items[key], line)
	}
	return out
}

func (d *decoder) duration(n *yaml.Node, key string) time.Duration {
	s := d.str(n, key)
	if s == "" || d.unexpanded[n.Line] {
		return 0 // absent, or its ${NAME} problem is already reported
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.add(n.Line, "use a Go duration such as 10m, 1h30m or 720h", "%s: %q is not a duration", key, s)
		return 0
	}
	return v
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "value"
	}
}

func (d *decoder) decodeConfig(root *yaml.Node, cfg *Config) {
	root = resolve(root)
	if isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		d.add(root.Line, "start with keys such as issuer: and clients:", "the top level of the file must be a mapping")
		return
	}
	d.mapping(root, "the top level", topKeys, d.top, func(key string, v *yaml.Node) {
		switch key {
		case "issuer":
			cfg.Issuer = d.str(v, key)
		case "listen":
			cfg.Listen = d.str(v, key)
		case "storage":
			cfg.Storage = d.str(v, key)
		case "signing_alg":
			cfg.SigningAlg = d.str(v, key)
		case "access_token_ttl":
			cfg.AccessTokenTTL = d.duration(v, key)
		case "refresh_token_ttl":
			cfg.RefreshTokenTTL = d.duration(v, key)
		case "key_rotation_period":
			cfg.KeyRotationPeriod = d.duration(v, key)
		case "clients":
			d.list(v, key, func(e *yaml.Node, line int) { d.decodeClient(e, line, cfg) })
		case "external_audiences":
			d.list(v, key, func(e *yaml.Node, line int) { d.decodeExternal(e, line, cfg) })
		case "users":
			d.list(v, key, func(e *yaml.Node, line int) { d.decodeUser(e, line, cfg) })
		case "policy":
			d.list(v, key, func(e *yaml.Node, line int) { d.decodeRule(e, line, cfg) })
		case "admins":
			cfg.Admins = d.strs(v, key, d.top)
		case "trusted_proxies":
			for i, s := range d.strs(v, key, d.top) {
				pfx, err := parseCIDR(s)
				if err != nil {
					d.add(d.top.item(key, i), "write an address or a CIDR prefix, e.g. 10.0.0.0/8 or 127.0.0.1", "trusted_proxies: %q is not an IP address or prefix", s)
					continue
				}
				cfg.TrustedProxies = append(cfg.TrustedProxies, pfx)
			}
		}
	})
}

// parseCIDR accepts a prefix or a single address (as a /32 or /128).
func parseCIDR(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// list calls each for every entry of a sequence, with the entry's line.
func (d *decoder) list(n *yaml.Node, key string, each func(e *yaml.Node, line int)) {
	if n.Kind != yaml.SequenceNode {
		d.add(n.Line, "start each entry with \"- \"", "%s must be a list", key)
		return
	}
	for _, e := range n.Content {
		each(resolve(e), e.Line)
	}
}

func (d *decoder) decodeClient(n *yaml.Node, line int, cfg *Config) {
	if n.Kind != yaml.MappingNode {
		d.add(line, "write - id: NAME followed by its settings", "a client must be a mapping")
		return
	}
	c := Client{Line: line}
	p := newPos(line)
	var routes []*pos
	d.mapping(n, "client", clientKeys, p, func(key string, v *yaml.Node) {
		switch key {
		case "id":
			c.ID = d.str(v, key)
		case "name":
			c.Name = d.str(v, key)
		case "secret":
			c.Secret = d.str(v, key)
		case "redirect_uris":
			c.RedirectURIs = d.strs(v, key, p)
		case "grant_types":
			c.GrantTypes = d.strs(v, key, p)
		case "audience":
			c.Audience = d.strs(v, key, p)
		case "scopes":
			c.Scopes = d.strs(v, key, p)
		case "require_pkce":
			b := d.boolean(v, key)
			c.RequirePKCE = &b
		case "id_token_signed_response_alg":
			c.IDTokenSignedResponseAlg = d.str(v, key)
		case "first_party":
			c.FirstParty = d.boolean(v, key)
		case "id_token_scope_claims":
			c.IDTokenScopeClaims = d.boolean(v, key)
		case "post_logout_redirect_uris":
			c.PostLogoutRedirectURIs = d.strs(v, key, p)
		case "tags":
			c.Tags = d.strs(v, key, p)
		case "routes":
			d.list(v, key, func(e *yaml.Node, line int) {
				if r, rp := d.decodeRoute(e, line); rp != nil {
					c.Routes = append(c.Routes, r)
					routes = append(routes, rp)
				}
			})
		}
	})
	cfg.Clients = append(cfg.Clients, c)
	d.clients = append(d.clients, p)
	d.routes = append(d.routes, routes)
}

// decodeRoute decodes one entry of a client's routes; a nil pos means the
// entry was not a mapping (already reported).
func (d *decoder) decodeRoute(n *yaml.Node, line int) (Route, *pos) {
	if n.Kind != yaml.MappingNode {
		d.add(line, "write - {path: /orders/{id}, methods: [GET], scopes: [orders:read]}", "a route must be a mapping")
		return Route{}, nil
	}
	r := Route{Line: line}
	p := newPos(line)
	d.mapping(n, "route", routeKeys, p, func(key string, v *yaml.Node) {
		switch key {
		case "path":
			r.Path = d.str(v, key)
		case "methods":
			r.Methods = d.strs(v, key, p)
		case "scopes":
			r.Scopes = d.strs(v, key, p)
		}
	})
	return r, p
}

func (d *decoder) decodeExternal(n *yaml.Node, line int, cfg *Config) {
	a := ExternalAudience{Line: line}
	p := newPos(line)
	switch {
	case n.Kind == yaml.ScalarNode && !isNull(n):
		a.ID = n.Value
		p.keys["id"] = line
	case n.Kind == yaml.MappingNode:
		d.mapping(n, "external audience", externalKeys, p, func(key string, v *yaml.Node) {
			switch key {
			case "id":
				a.ID = d.str(v, key)
			case "description":
				a.Description = d.str(v, key)
			case "tags":
				a.Tags = d.strs(v, key, p)
			}
		})
	default:
		d.add(line, "write - ID or - {id: ID, description: TEXT, tags: [TAG]}", "an external audience must be an id or a mapping")
		return
	}
	cfg.ExternalAudiences = append(cfg.ExternalAudiences, a)
	d.externals = append(d.externals, p)
}

// decodeRule decodes one policy rule. The kind keys (deny, only, require)
// are ordinary keys, so a misspelt kind is an unknown key with a hint.
func (d *decoder) decodeRule(n *yaml.Node, line int, cfg *Config) {
	if n.Kind != yaml.MappingNode {
		d.add(line, "write - name: TEXT followed by one of deny:, only: or require:", "a policy rule must be a mapping")
		return
	}
	r := Rule{Line: line}
	p := newPos(line)
	unknownKind := func(string) string {
		if d.kindless == nil {
			d.kindless = map[int]bool{}
		}
		d.kindless[line] = true
		return "a rule is name: plus one of deny: {from…, to…}, only: {to…, from…} or require: " + strings.Join(Requirements(), "|")
	}
	d.mappingHint(n, "policy rule", ruleKeys, p, unknownKind, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			r.Name = d.str(v, key)
		case "description":
			r.Description = d.str(v, key)
		case "deny":
			r.Deny = d.match(v, key, p)
		case "only":
			r.Only = d.match(v, key, p)
		case "require":
			r.Require = d.str(v, key)
		}
	})
	cfg.Policy = append(cfg.Policy, r)
	d.rules = append(d.rules, p)
}

// match decodes the body of a deny: or only: rule. Its keys' lines go into
// the rule's pos: a rule has one kind, so they cannot collide.
func (d *decoder) match(n *yaml.Node, kind string, p *pos) *Match {
	m := &Match{} // never nil, so the rule's kind is known even when broken
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, fmt.Sprintf("write e.g. %s: {from_tags: [public], to_tags: [internal]}", kind), "%s must be a mapping of from, from_tags, to and to_tags", kind)
		return m
	}
	d.mapping(n, kind, matchKeys, p, func(key string, v *yaml.Node) {
		switch key {
		case "from":
			m.From = d.oneOrMany(v, key, p)
		case "from_tags":
			m.FromTags = d.strs(v, key, p)
		case "to":
			m.To = d.oneOrMany(v, key, p)
		case "to_tags":
			m.ToTags = d.strs(v, key, p)
		}
	})
	return m
}

// oneOrMany is strs that also takes a single value, so "to: hr-api" reads
// naturally for the common one-API rule.
func (d *decoder) oneOrMany(n *yaml.Node, key string, p *pos) []string {
	if n.Kind == yaml.ScalarNode {
		p.items[key] = append(p.items[key], n.Line)
		return []string{n.Value}
	}
	return d.strs(n, key, p)
}

func (d *decoder) decodeUser(n *yaml.Node, line int, cfg *Config) {
	if n.Kind != yaml.MappingNode {
		d.add(line, "write - username: NAME followed by its settings", "a user must be a mapping")
		return
	}
	u := User{Line: line}
	p := newPos(line)
	d.mapping(n, "user", userKeys, p, func(key string, v *yaml.Node) {
		switch key {
		case "username":
			u.Username = d.str(v, key)
		case "password":
			u.Password = d.str(v, key)
		case "password_hash":
			u.PasswordHash = d.str(v, key)
		case "claims":
			u.Claims = d.claims(v, p)
		}
	})
	cfg.Users = append(cfg.Users, u)
	d.users = append(d.users, p)
}

func (d *decoder) claims(n *yaml.Node, p *pos) map[string]any {
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, "write claims as a mapping, e.g. claims: {name: Alice}", "claims must be a mapping")
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		p.keys["claims."+n.Content[i].Value] = n.Content[i].Line
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		d.add(n.Line, "", "claims: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	// Claims end up in JSON tokens and userinfo responses; nested mappings
	// with non-string keys cannot be encoded there.
	if _, err := json.Marshal(m); err != nil {
		d.add(n.Line, "use string keys in nested mappings", "claims cannot be encoded as JSON: %v", err)
		return nil
	}
	return m
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
	if cfg.KeyRotationPeriod == 0 {
		cfg.KeyRotationPeriod = DefaultKeyRotationPeriod
	}
}

func (d *decoder) validate(cfg *Config) {
	d.validateServer(cfg)

	// Known audience values, with the line each was declared on.
	clientIDs := map[string]int{}
	for i := range cfg.Clients {
		c, p := &cfg.Clients[i], d.clients[i]
		switch {
		case c.ID == "":
			d.add(c.Line, "every client needs an id: it is the value that appears in aud", "client without an id")
		case !validID(c.ID):
			d.add(p.at("id"), "the audience parameter is space-separated, so an id cannot contain spaces or control characters", "client id %q contains whitespace or control characters", c.ID)
		}
		if c.ID == "" {
			continue
		}
		if first, dup := clientIDs[c.ID]; dup {
			d.add(p.at("id"), fmt.Sprintf("first defined at line %d; ids must be unique", first), "duplicate client id %q", c.ID)
			continue
		}
		clientIDs[c.ID] = c.Line
	}
	externalIDs := map[string]int{}
	for i := range cfg.ExternalAudiences {
		a, p := &cfg.ExternalAudiences[i], d.externals[i]
		switch {
		case a.ID == "":
			d.add(a.Line, "", "external audience without an id")
			continue
		case !validID(a.ID):
			d.add(p.at("id"), "the audience parameter is space-separated, so an id cannot contain spaces or control characters", "external audience %q contains whitespace or control characters", a.ID)
		}
		if first, dup := clientIDs[a.ID]; dup {
			d.add(p.at("id"), fmt.Sprintf("client %q is defined at line %d; a client is already an audience, so remove this entry or rename it", a.ID, first), "external audience %q has the same id as a client", a.ID)
			continue
		}
		if first, dup := externalIDs[a.ID]; dup {
			d.add(p.at("id"), fmt.Sprintf("first declared at line %d", first), "duplicate external audience %q", a.ID)
			continue
		}
		externalIDs[a.ID] = a.Line
	}
	known := make([]string, 0, len(clientIDs)+len(externalIDs))
	for id := range clientIDs {
		known = append(known, id)
	}
	for id := range externalIDs {
		known = append(known, id)
	}
	sort.Strings(known) // so suggestions are deterministic

	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		d.validateClient(c, d.clients[i], clientIDs, externalIDs, known)
		who := fmt.Sprintf("client %q", c.ID)
		if c.ID == "" {
			who = fmt.Sprintf("client at line %d", c.Line)
		}
		d.validateRoutes(who, c, d.clients[i], d.routes[i])
		d.validateIDTokenAlg(who, c, d.clients[i], cfg)
	}
	for i := range cfg.ExternalAudiences {
		a := &cfg.ExternalAudiences[i]
		d.validateTags(fmt.Sprintf("external audience %q", a.ID), a.Tags, d.externals[i])
	}
	d.validateUsers(cfg)
	d.validatePolicy(cfg, clientIDs, externalIDs, known)
	d.validateAdmins(cfg, clientIDs, known)
}

// validateAdmins checks that every admin is a confidential client: a
// public client authenticates with its id alone, so naming one would open
// the admin endpoints to anyone.
func (d *decoder) validateAdmins(cfg *Config, clientIDs map[string]int, known []string) {
	d.noDuplicates("admins", "admins", cfg.Admins, d.top)
	for i, id := range cfg.Admins {
		line := d.top.item("admins", i)
		if _, ok := clientIDs[id]; !ok {
			hint := "list client ids; an admin authenticates as that client"
			if s := suggest(id, known); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.add(line, hint, "admins: %q is not a client id", id)
			continue
		}
		if c := cfg.Client(id); c != nil && c.Public() {
			d.add(line, "give the client a secret, or remove it from admins", "admins: client %q is public (no secret), so it cannot authenticate as an admin", id)
		}
	}
}

// validateRoutes checks a client's routes the way the proxy will use them:
// every pattern is registered on one net/http.ServeMux, so a pattern that
// does not parse or two that conflict are found here, not when a proxy
// fetches them.
func (d *decoder) validateRoutes(who string, c *Client, p *pos, rps []*pos) {
	if len(c.Routes) > 0 && c.Public() {
		d.add(p.at("routes"), "give the client a secret: the proxy fetches the routes authenticated as the API", "%s: a public client (no secret) cannot declare routes", who)
	}
	mux := http.NewServeMux()
	for i := range c.Routes {
		r, rp := &c.Routes[i], rps[i]
		where := fmt.Sprintf("%s: route %q", who, r.Path)
		ok := true
		switch {
		case r.Path == "":
			d.add(r.Line, "write path: /orders/{id}", "%s: a route needs a path", who)
			ok = false
		case !strings.HasPrefix(r.Path, "/"):
			d.add(rp.at("path"), "a route path starts with /, e.g. /orders/{id}; methods go under methods:, and a host is not part of it", "%s: path must start with /", where)
			ok = false
		case strings.IndexFunc(r.Path, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			d.add(rp.at("path"), "write methods under methods:, not in the path", "%s: path contains whitespace or control characters", where)
			ok = false
		}
		d.noDuplicates(where, "methods", r.Methods, rp)
		for j, m := range r.Methods {
			if slices.Contains(httpMethods, m) {
				continue
			}
			hint := "methods are upper-case: " + strings.Join(httpMethods, ", ")
			if up := strings.ToUpper(m); slices.Contains(httpMethods, up) {
				hint = fmt.Sprintf("write %q", up)
			}
			d.add(rp.item("methods", j), hint, "%s: %q is not an HTTP method", where, m)
			ok = false
		}
		d.noDuplicates(where, "scopes", r.Scopes, rp)
		for j, s := range r.Scopes {
			if bad := badScopeChar(s); s == "" || bad != "" {
				d.add(rp.item("scopes", j), "RFC 6749 §3.3: a scope is printable ASCII without spaces, '\"' or '\\'", "%s: %q is not a valid scope", where, s)
			}
		}
		if !ok {
			continue
		}
		for _, pat := range r.Patterns() {
			if err := register(mux, pat); err != nil {
				d.add(rp.at("path"), "see the pattern syntax of net/http.ServeMux: /orders/{id}, /files/{path...}, /static/ (a prefix), /exact/{$}", "%s: %v", where, err)
				break
			}
		}
	}
}

// register adds pattern to mux, turning ServeMux's panic on a malformed or
// conflicting pattern into an error.
func register(mux *http.ServeMux, pattern string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	mux.Handle(pattern, http.NotFoundHandler())
	return nil
}

// validTag is the shape of a tag: short and plain, so that it reads the
// same in YAML, in a violation message and as a colour key in a picture.
var validTag = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

func (d *decoder) validateTags(who string, tags []string, p *pos) {
	d.noDuplicates(who, "tags", tags, p)
	for i, t := range tags {
		if !validTag.MatchString(t) {
			d.add(p.item("tags", i), "a tag is letters, digits, '-', '_', '.' and ':', starting with a letter or digit, e.g. hr-data", "%s: invalid tag %q", who, t)
		}
	}
}

// validatePolicy checks every rule's shape and that every ID and tag it
// names exists: a rule that selects nothing because of a typo would pass
// forever and protect nothing.
func (d *decoder) validatePolicy(cfg *Config, clientIDs, externalIDs map[string]int, known []string) {
	clientTags, externalTags := map[string]bool{}, map[string]bool{}
	for _, c := range cfg.Clients {
		for _, t := range c.Tags {
			clientTags[t] = true
		}
	}
	for _, a := range cfg.ExternalAudiences {
		for _, t := range a.Tags {
			externalTags[t] = true
		}
	}
	allTags := make([]string, 0, len(clientTags)+len(externalTags))
	for t := range clientTags {
		allTags = append(allTags, t)
	}
	for t := range externalTags {
		if !clientTags[t] {
			allTags = append(allTags, t)
		}
	}
	sort.Strings(allTags)
	clientList := make([]string, 0, len(clientIDs))
	for id := range clientIDs {
		clientList = append(clientList, id)
	}
	sort.Strings(clientList)

	names := map[string]int{}
	for i := range cfg.Policy {
		r, p := &cfg.Policy[i], d.rules[i]
		who := fmt.Sprintf("policy rule %q", r.Name)
		switch {
		case r.Name == "":
			d.add(r.Line, "add name: TEXT; a violation reports the rule by its name", "policy rule without a name")
			who = fmt.Sprintf("policy rule at line %d", r.Line)
		case names[r.Name] != 0:
			d.add(p.at("name"), fmt.Sprintf("first defined at line %d; names must be unique so a violation points at one rule", names[r.Name]), "duplicate policy rule name %q", r.Name)
		default:
			names[r.Name] = r.Line
		}

		var kinds []string
		for _, k := range ruleKinds {
			if _, ok := p.keys[k]; ok {
				kinds = append(kinds, k)
			}
		}
		switch {
		case len(kinds) == 0 && !d.kindless[r.Line]:
			d.add(r.Line, "add one of deny: {from_tags: [..], to_tags: [..]}, only: {to: ID, from: [ID]} or require: "+strings.Join(Requirements(), "|"), "%s has no rule kind", who)
		case len(kinds) > 1:
			d.add(p.at(kinds[1]), "split it into one rule per kind", "%s has more than one kind: %s", who, strings.Join(kinds, " and "))
		}

		for _, k := range []struct {
			name string
			m    *Match
		}{{RuleDeny, r.Deny}, {RuleOnly, r.Only}} {
			if k.m == nil {
				if _, written := p.keys[k.name]; written {
					d.add(p.at(k.name), fmt.Sprintf("write e.g. %s: {from_tags: [public], to_tags: [internal]}", k.name), "%s: %s is empty", who, k.name)
				}
				continue
			}
			d.validateMatch(who, k.name, k.m, p, clientIDs, externalIDs, clientList, known, clientTags, externalTags, allTags)
		}

		if _, written := p.keys["require"]; written && !slices.Contains(Requirements(), r.Require) {
			hint := "one of " + strings.Join(Requirements(), ", ")
			if s := suggest(r.Require, Requirements()); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.add(p.at("require"), hint, "%s: unknown requirement %q", who, r.Require)
		}
	}
}

func (d *decoder) validateMatch(who, kind string, m *Match, p *pos, clientIDs, externalIDs map[string]int, clientList, known []string, clientTags, externalTags map[string]bool, allTags []string) {
	if len(m.From)+len(m.FromTags) == 0 || len(m.To)+len(m.ToTags) == 0 {
		example := "{from_tags: [public], to_tags: [internal]}"
		if kind == RuleOnly {
			example = "{to: hr-api, from: [backoffice-portal]}"
		}
		d.add(p.at(kind), "from/from_tags select the clients, to/to_tags the audiences; e.g. "+kind+": "+example,
			"%s: %s needs both a from side and a to side", who, kind)
	}
	for _, key := range matchKeys {
		var list []string
		switch key {
		case "from":
			list = m.From
		case "from_tags":
			list = m.FromTags
		case "to":
			list = m.To
		case "to_tags":
			list = m.ToTags
		}
		d.noDuplicates(who, key, list, p)
		for i, v := range list {
			line := p.item(key, i)
			switch key {
			case "from":
				if _, ok := clientIDs[v]; ok {
					continue
				}
				if _, ok := externalIDs[v]; ok {
					d.add(line, "an external audience obtains no tokens from Gatehouse; list client ids under from", "%s: from names external audience %q", who, v)
					continue
				}
				hint := "from lists client ids"
				if s := suggest(v, clientList); s != "" {
					hint = fmt.Sprintf("did you mean %q?", s)
				}
				d.add(line, hint, "%s: from names %q, which is not a client id", who, v)
			case "to":
				if _, ok := clientIDs[v]; ok {
					continue
				}
				if _, ok := externalIDs[v]; ok {
					continue
				}
				hint := "to lists client ids or external audiences"
				if s := suggest(v, known); s != "" {
					hint = fmt.Sprintf("did you mean %q?", s)
				}
				d.add(line, hint, "%s: to names %q, which is not a client id or an external audience", who, v)
			case "from_tags":
				if clientTags[v] {
					continue
				}
				if externalTags[v] {
					d.add(line, "from_tags selects clients; tag a client with it, or move it to to_tags", "%s: tag %q is carried only by external audiences, which obtain no tokens", who, v)
					continue
				}
				d.add(line, tagHint(v, allTags), "%s: no client carries tag %q", who, v)
			case "to_tags":
				if clientTags[v] || externalTags[v] {
					continue
				}
				d.add(line, tagHint(v, allTags), "%s: no client or external audience carries tag %q", who, v)
			}
		}
	}
}

// tagHint suggests a tag in use, or says how tags are given.
func tagHint(tag string, inUse []string) string {
	if s := suggest(tag, inUse); s != "" {
		return fmt.Sprintf("did you mean %q? tags are compared exactly", s)
	}
	if len(inUse) == 0 {
		return "no entry has tags yet; add tags: [" + tag + "] to the clients or external audiences it should select"
	}
	return "add tags: [" + tag + "] to the entries it should select; tags in use: " + strings.Join(inUse, ", ")
}

func (d *decoder) validateServer(cfg *Config) {
	t := d.top
	if cfg.Issuer == "" {
		d.add(0, "add the public URL of this server, e.g. issuer: https://login.example.com", "issuer is required")
	} else {
		d.validateIssuer(cfg.Issuer, t.at("issuer"))
	}

	// Any host is fine, including none (all interfaces); the port must be
	// numeric so a typo is caught here rather than at bind time.
	if _, port, err := net.SplitHostPort(cfg.Listen); err != nil {
		d.add(t.at("listen"), "write host:port, e.g. 127.0.0.1:8080 or :8080", "listen %q is not host:port", cfg.Listen)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		d.add(t.at("listen"), "the port is a number from 0 to 65535", "listen %q has an invalid port %q", cfg.Listen, port)
	}

	d.validateStorage(cfg.Storage, t.at("storage"))

	if !slices.Contains(signingAlgs, cfg.SigningAlg) {
		hint := "one of " + strings.Join(signingAlgs, ", ")
		// Only a case slip earns a suggestion: HS256 is one edit from
		// ES256 but a different kind of algorithm, not a typo.
		for _, a := range signingAlgs {
			if strings.EqualFold(a, cfg.SigningAlg) {
				hint = fmt.Sprintf("did you mean %q? %s", a, hint)
			}
		}
		d.add(t.at("signing_alg"), hint, "unsupported signing_alg %q", cfg.SigningAlg)
	}
	if cfg.AccessTokenTTL < 0 {
		d.add(t.at("access_token_ttl"), "use a positive duration such as 10m", "access_token_ttl must be positive")
	}
	if cfg.RefreshTokenTTL < 0 {
		d.add(t.at("refresh_token_ttl"), "use a positive duration such as 720h", "refresh_token_ttl must be positive")
	}
}

func (d *decoder) validateIssuer(s string, line int) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		d.add(line, "write an absolute URL such as https://login.example.com", "issuer %q is not an absolute URL", s)
		return
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		d.add(line, "use https://", "issuer %q must use https", s)
		return
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		d.add(line, "http is allowed only for localhost, 127.0.0.1 and ::1, for development; use https://", "issuer %q must use https", s)
	}
	if u.User != nil {
		d.add(line, "remove the user:password@ part", "issuer %q must not contain credentials", s)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		d.add(line, "OpenID Connect Discovery §3: an issuer has no query or fragment", "issuer %q has a query or fragment", s)
	}
	if strings.HasSuffix(s, "/") {
		d.add(line, fmt.Sprintf("write %q: iss is compared exactly and discovery appends /.well-known/…", strings.TrimRight(s, "/")), "issuer %q ends with \"/\"", s)
	}
}

func (d *decoder) validateStorage(s string, line int) {
	const hint = "use sqlite:PATH, e.g. sqlite:gatehouse.db, or a postgres:// URL"
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		if strings.TrimPrefix(s, "sqlite:") == "" {
			d.add(line, hint, "storage %q has no database path", s)
		}
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			// Do not echo the value: it may hold a database password.
			d.add(line, "check the URL's escaping: special characters in the password need %XX", "storage is not a valid PostgreSQL URL")
		}
	default:
		d.add(line, hint, "unsupported storage %q", RedactStorage(s))
	}
}

func (d *decoder) validateClient(c *Client, p *pos, clientIDs, externalIDs map[string]int, known []string) {
	who := fmt.Sprintf("client %q", c.ID)
	if c.ID == "" {
		who = fmt.Sprintf("client at line %d", c.Line)
	}

	d.noDuplicates(who, "grant_types", c.GrantTypes, p)
	for i, g := range c.GrantTypes {
		line := p.item("grant_types", i)
		switch g {
		case "client_credentials", "authorization_code", "refresh_token":
		case "implicit":
			d.add(line, "Gatehouse does not support the implicit grant, which puts tokens in URLs; use authorization_code with PKCE", "%s: grant type %q is not supported", who, g)
		case "password":
			d.add(line, "Gatehouse does not support the resource owner password grant; use authorization_code so users sign in at Gatehouse", "%s: grant type %q is not supported", who, g)
		default:
			hint := "supported: " + strings.Join(grantTypes, ", ")
			if s := suggest(g, grantTypes); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.add(line, hint, "%s: unknown grant type %q", who, g)
		}
	}
	has := func(g string) bool { return slices.Contains(c.GrantTypes, g) }
	if has("client_credentials") && c.Public() {
		d.add(p.at("grant_types"), "give the client a secret, or remove client_credentials", "%s: a public client (no secret) cannot use client_credentials", who)
	}
	if has("authorization_code") && len(c.RedirectURIs) == 0 {
		d.add(p.at("grant_types"), "add redirect_uris: [https://app.example.com/callback]", "%s: authorization_code needs at least one redirect_uri", who)
	}
	if has("refresh_token") && !has("authorization_code") {
		d.add(p.at("grant_types"), "refresh tokens are issued only with authorization_code; add it or remove refresh_token", "%s: refresh_token requires authorization_code", who)
	}

	d.noDuplicates(who, "post_logout_redirect_uris", c.PostLogoutRedirectURIs, p)
	for i, r := range c.PostLogoutRedirectURIs {
		d.validateRedirect(who, r, p.item("post_logout_redirect_uris", i))
	}
	d.noDuplicates(who, "redirect_uris", c.RedirectURIs, p)
	for i, r := range c.RedirectURIs {
		d.validateRedirect(who, r, p.item("redirect_uris", i))
	}

	d.noDuplicates(who, "audience", c.Audience, p)
	for i, a := range c.Audience {
		if _, ok := clientIDs[a]; ok {
			continue
		}
		if _, ok := externalIDs[a]; ok {
			continue
		}
		hint := "list client ids, or declare it under external_audiences"
		if s := suggest(a, known); s != "" {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
		d.add(p.item("audience", i), hint, "%s: audience %q is not a client id or an external audience", who, a)
	}

	d.validateTags(who, c.Tags, p)

	d.noDuplicates(who, "scopes", c.Scopes, p)
	for i, s := range c.Scopes {
		if s == "" {
			d.add(p.item("scopes", i), "remove the empty entry", "%s: empty scope", who)
		} else if bad := badScopeChar(s); bad != "" {
			d.add(p.item("scopes", i), "RFC 6749 §3.3: a scope is printable ASCII without spaces, '\"' or '\\'; list several scopes as separate entries", "%s: scope %q contains %s", who, s, bad)
		}
	}

	if c.Secret != "" {
		line := p.at("secret")
		if LooksHashed(c.Secret) {
			if msg, hint := checkHash(c.Secret); msg != "" {
				d.add(line, hint, "%s: secret %s", who, msg)
			}
		} else if len(c.Secret) < minPlainSecret {
			d.add(line, fmt.Sprintf("use at least %d characters, or an argon2id/bcrypt hash; e.g. ${%s_SECRET} from the environment", minPlainSecret, envNameFor(c.ID)),
				"%s: secret is too short (%d characters)", who, len(c.Secret))
		}
	}
}

// validateIDTokenAlg checks id_token_signed_response_alg against what the
// key ring can sign ID tokens with: signing_alg and RS256.
func (d *decoder) validateIDTokenAlg(who string, c *Client, p *pos, cfg *Config) {
	alg := c.IDTokenSignedResponseAlg
	algs := cfg.IDTokenSigningAlgs()
	if alg == "" || slices.Contains(algs, alg) {
		return
	}
	line := p.at("id_token_signed_response_alg")
	hint := fmt.Sprintf("use %s (signing_alg, the default when the key is absent) or RS256", cfg.SigningAlg)
	if cfg.SigningAlg == "RS256" {
		hint = "use RS256 (signing_alg, the default when the key is absent)"
	}
	for _, a := range algs {
		if strings.EqualFold(a, alg) {
			d.add(line, fmt.Sprintf("did you mean %q? %s", a, hint), "%s: unsupported id_token_signed_response_alg %q", who, alg)
			return
		}
	}
	if slices.Contains(signingAlgs, alg) {
		// A real algorithm the ring holds no keys for: the key ring keeps
		// signing_alg's keys and RS256's, nothing else.
		d.add(line, fmt.Sprintf("%s; to sign ID tokens with %s, set signing_alg: %s (access tokens then use it too)", hint, alg, alg),
			"%s: id_token_signed_response_alg %q is not available while signing_alg is %s", who, alg, cfg.SigningAlg)
		return
	}
	d.add(line, hint, "%s: unsupported id_token_signed_response_alg %q", who, alg)
}

func (d *decoder) validateRedirect(who, r string, line int) {
	u, err := url.Parse(r)
	if err != nil || !u.IsAbs() {
		d.add(line, "write an absolute URI such as https://app.example.com/callback", "%s: redirect_uri %q is not an absolute URI", who, r)
		return
	}
	if u.Fragment != "" || strings.Contains(r, "#") {
		d.add(line, "RFC 6749 §3.1.2 forbids a fragment in a redirect URI; remove it", "%s: redirect_uri %q has a fragment", who, r)
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		if !isLoopback(u.Hostname()) {
			d.add(line, "http is allowed only for loopback hosts: localhost, 127.0.0.1, ::1; use https", "%s: redirect_uri %q must use https", who, r)
		}
	case "https":
		if u.Host == "" {
			d.add(line, "", "%s: redirect_uri %q has no host", who, r)
		}
	case "javascript", "data", "vbscript", "file":
		d.add(line, "use an https URL, or for a native app a private-use scheme as in RFC 8252 §7.1", "%s: redirect_uri %q uses a forbidden scheme", who, r)
	}
}

func (d *decoder) noDuplicates(who, key string, list []string, p *pos) {
	seen := map[string]int{}
	for i, v := range list {
		line := p.item(key, i)
		if first, dup := seen[v]; dup {
			hint := "remove one"
			if first != line {
				hint = fmt.Sprintf("already listed at line %d; remove one", first)
			}
			d.add(line, hint, "%s: %q appears twice in %s", who, v, key)
			continue
		}
		seen[v] = line
	}
}

func (d *decoder) validateUsers(cfg *Config) {
	seen := map[string]int{}
	for i := range cfg.Users {
		u, p := &cfg.Users[i], d.users[i]
		if u.Username == "" {
			d.add(u.Line, "", "user without a username")
		} else if strings.TrimSpace(u.Username) != u.Username || strings.IndexFunc(u.Username, unicode.IsControl) >= 0 {
			d.add(p.at("username"), "remove leading and trailing spaces and control characters", "username %q has surrounding whitespace or control characters", u.Username)
		} else if first, dup := seen[u.Username]; dup {
			d.add(p.at("username"), fmt.Sprintf("first defined at line %d", first), "duplicate username %q", u.Username)
		} else {
			seen[u.Username] = u.Line
		}
		if c := cfg.Client(u.Username); c != nil {
			// RFC 9068 §5: a user's sub must never equal a client's, or an
			// API could not tell the user's tokens from the client's own.
			d.add(p.at("username"), "rename the user or the client", "username %q is also a client id (line %d): their tokens would share one sub", u.Username, c.Line)
		}
		who := fmt.Sprintf("user %q", u.Username)
		if u.Username == "" {
			who = fmt.Sprintf("user at line %d", u.Line)
		}

		switch {
		case u.Password == "" && u.PasswordHash == "":
			d.add(u.Line, "add password_hash: with an argon2id or bcrypt hash, or password: for development", "%s has neither password nor password_hash", who)
		case u.Password != "" && u.PasswordHash != "":
			d.add(p.at("password"), "keep only password_hash", "%s has both password and password_hash", who)
		case u.Password != "" && LooksHashed(u.Password):
			d.add(p.at("password"), "a hash goes under password_hash:", "%s: password looks like a hash", who)
		case u.PasswordHash != "":
			if !LooksHashed(u.PasswordHash) {
				d.add(p.at("password_hash"), "give an argon2id PHC string $argon2id$v=19$m=…,t=…,p=…$SALT$HASH or a bcrypt hash $2b$…; a plain password goes under password:", "%s: password_hash is not an argon2id or bcrypt hash", who)
			} else if msg, hint := checkHash(u.PasswordHash); msg != "" {
				d.add(p.at("password_hash"), hint, "%s: password_hash %s", who, msg)
			}
		}

		keys := make([]string, 0, len(u.Claims))
		for k := range u.Claims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if slices.Contains(reservedClaims, k) {
				d.add(p.at("claims."+k), "Gatehouse sets "+strings.Join(reservedClaims, ", ")+" itself; remove it or use another name",
					"%s: claim %q is reserved", who, k)
			}
		}
	}
}

// checkHash checks a value that LooksHashed. It returns an empty message
// when the hash is well formed.
func checkHash(s string) (msg, hint string) {
	if strings.HasPrefix(s, "$argon2") {
		if !strings.HasPrefix(s, "$argon2id$") {
			return "uses an unsupported argon2 variant", "only argon2id is supported"
		}
		return checkArgon2id(s)
	}
	return checkBcrypt(s)
}

const argonHint = "expected $argon2id$v=19$m=MEMORY,t=TIME,p=THREADS$SALT$HASH with SALT and HASH in unpadded base64"

// checkArgon2id checks the PHC string format produced by the reference
// implementation and golang.org/x/crypto/argon2 users. Upper bounds on the
// cost keep a typo from making every login allocate gigabytes.
func checkArgon2id(s string) (msg, hint string) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 {
		return "is not a valid argon2id PHC string", argonHint
	}
	if parts[2] != "v=19" {
		return "has an unsupported argon2 version " + strconv.Quote(parts[2]), "only v=19, argon2 version 1.3, is supported"
	}
	// The reference implementation writes m,t,p; accept any order, each once.
	limits := map[string][2]uint64{"m": {8, 4 << 20}, "t": {1, 1 << 10}, "p": {1, 255}}
	vals := map[string]uint64{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		lim, known := limits[k]
		if _, dup := vals[k]; !ok || !known || dup {
			return "has malformed parameters " + strconv.Quote(parts[3]), argonHint
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n < lim[0] || n > lim[1] {
			return fmt.Sprintf("has %s=%s out of range", k, v), fmt.Sprintf("%s must be between %d and %d", k, lim[0], lim[1])
		}
		vals[k] = n
	}
	if len(vals) != len(limits) {
		return "has malformed parameters " + strconv.Quote(parts[3]), argonHint
	}
	if vals["m"] < 8*vals["p"] {
		return "has m smaller than 8×p", "argon2 needs at least 8 KiB of memory per thread"
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return "has an invalid salt", "the salt is at least 8 bytes in unpadded standard base64"
	}
	sum, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(sum) < 16 {
		return "has an invalid hash part", "the hash is at least 16 bytes in unpadded standard base64"
	}
	return "", ""
}

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// checkBcrypt checks the modular-crypt form $2b$CC$ + 22 salt + 31 hash
// characters.
func checkBcrypt(s string) (msg, hint string) {
	const hint60 = "a bcrypt hash is 60 characters: $2b$10$ followed by 53 characters of salt and hash"
	if len(s) < 4 || !strings.Contains("aby", s[2:3]) || s[3] != '$' {
		return "uses an unsupported bcrypt variant", "use $2a$, $2b$ or $2y$"
	}
	if len(s) != 60 || s[6] != '$' {
		return "is not a valid bcrypt hash", hint60
	}
	cost, err := strconv.Atoi(s[4:6])
	if err != nil || cost < 4 || cost > 31 {
		return "has an invalid cost " + strconv.Quote(s[4:6]), "the cost is two digits from 04 to 31"
	}
	for _, r := range s[7:] {
		if !strings.ContainsRune(bcryptAlphabet, r) {
			return "contains characters outside bcrypt's alphabet", hint60
		}
	}
	return "", ""
}

// badScopeChar describes the first character not allowed in an RFC 6749
// §3.3 scope-token (%x21 / %x23-5B / %x5D-7E), or returns "" if it has
// none (the caller rejects an empty scope separately).
func badScopeChar(s string) string {
	for _, r := range s {
		if r == 0x21 || (r >= 0x23 && r <= 0x5B) || (r >= 0x5D && r <= 0x7E) {
			continue
		}
		if r == ' ' {
			return "a space"
		}
		return fmt.Sprintf("the character %q", r)
	}
	return ""
}

// validID reports whether id can be carried in a space-separated audience
// parameter and printed without surprises.
func validID(id string) bool {
	return strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// envNameFor turns a client id into a plausible environment variable name
// for hints, e.g. "order-sync-job" → "ORDER_SYNC_JOB".
func envNameFor(id string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(id) {
		if ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "CLIENT_" + s
	}
	return s
}

// suggest returns the candidate closest to s: an exact case-insensitive
// match first, then a candidate that s abbreviates, otherwise the nearest by
// edit distance within roughly a third of the length. It returns "" when nothing is close.
func suggest(s string, candidates []string) string {
	if len(s) > maxSuggestInput {
		return ""
	}
	for _, c := range candidates {
		if c != s && strings.EqualFold(c, s) {
			return c
		}
	}
	best, bestDist := "", -1
	if len(s) >= 3 {
		for _, c := range candidates {
			if c != s && strings.HasPrefix(c, s) {
				return c
			}
		}
	}
	limit := max(1, len([]rune(s))/3)
	for _, c := range candidates {
		if c == s || len(c) > maxSuggestInput {
			continue
		}
		if dist := levenshtein(s, c); dist <= limit && (bestDist < 0 || dist < bestDist) {
			best, bestDist = c, dist
		}
	}
	return best
}

// levenshtein is the edit distance between a and b, by runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
