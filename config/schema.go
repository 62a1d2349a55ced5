package config

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// The schema is the tagged structs of types.go. The YAML library decodes
// the file into them; before it does, check walks the node tree against
// the same structs, once, and reports what does not fit in the file's own
// words: unknown keys with a "did you mean", repeated keys, a list where
// one value goes, and so on, each at its line. The library's own errors
// for these name Go types instead of keys ("field redirect_uri not found
// in type config.Client", "cannot unmarshal !!seq into string"), give no
// hint, and some of them abandon the whole decode; nor can it refuse
// unknown keys when it decodes a node tree, which it must, since ${NAME}
// is expanded in the tree first.
//
// check returns a copy of the tree that decodes without error: problems
// are dropped from it (so every problem is reported, not only the first),
// scalars carry the tag they decode as (the text as written for strings,
// so "secret: 0123" keeps its leading zero), and the two shorthands — an
// external audience given as its bare id, and from:/to: given one value
// instead of a list — are written out. Apart from locate (positions.go),
// which reads lines off the checked tree, nothing outside this file knows
// about YAML shapes.

// shape is what problems say about a struct type of the schema: an entry
// of a list, the top level, or the value of a key (a policy rule's deny:).
// In its texts, {key} stands for the key whose value it is.
type shape struct {
	where      string // ends "unknown key %q in ..."
	notMapping string // the problem when it is not a mapping
	hint       string // how to write it instead
	// short, when set, is the key that a plain value stands for.
	short string
	// unknown is the hint for an unknown key that no known key is close
	// to; by default it lists the known keys.
	unknown string
}

func (s shape) text(t, key string) string { return strings.ReplaceAll(t, "{key}", key) }

// shapes covers every struct type of the schema; a type not listed here
// is a scalar (netip.Prefix).
var shapes = map[reflect.Type]shape{
	reflect.TypeFor[Config](): {
		where: "the top level", notMapping: "the top level of the file must be a mapping",
		hint: "start with keys such as issuer: and clients:",
	},
	reflect.TypeFor[TLS](): {
		where: "tls", notMapping: "tls must be a mapping of cert_file and key_file",
		hint: "write tls: {cert_file: PATH, key_file: PATH}",
	},
	reflect.TypeFor[Client](): {
		where: "client", notMapping: "a client must be a mapping",
		hint: "write - id: NAME followed by its settings",
	},
	reflect.TypeFor[Route](): {
		where: "route", notMapping: "a route must be a mapping",
		hint: "write - {path: /orders/{id}, methods: [GET], scopes: [orders:read]}",
	},
	reflect.TypeFor[ExternalAudience](): {
		where: "external audience", notMapping: "an external audience must be an id or a mapping",
		hint: "write - ID or - {id: ID, description: TEXT, tags: [TAG]}", short: "id",
	},
	reflect.TypeFor[User](): {
		where: "user", notMapping: "a user must be a mapping",
		hint: "write - username: NAME followed by its settings",
	},
	// The kind keys (deny, only, require) are ordinary keys, so a
	// misspelt kind is an unknown key, and this hint explains kinds.
	reflect.TypeFor[Rule](): {
		where: "policy rule", notMapping: "a policy rule must be a mapping",
		hint:    "write - name: TEXT followed by one of deny:, only: or require:",
		unknown: "a rule is name: plus one of deny: {from…, to…}, only: {to…, from…} or require: " + strings.Join(Requirements(), "|"),
	},
	reflect.TypeFor[DPoP](): {
		where: "dpop", notMapping: "dpop must be a mapping",
		hint: "write dpop: {require_nonce: true}",
	},
	reflect.TypeFor[MetadataClients](): {
		where: "client_metadata_documents", notMapping: "client_metadata_documents must be a mapping",
		hint: "write client_metadata_documents: {allowed_hosts: [HOST], audience: [API], scopes: [SCOPE]}",
	},
	reflect.TypeFor[DynamicRegistration](): {
		where: "dynamic_registration", notMapping: "dynamic_registration must be a mapping",
		hint: "write dynamic_registration: {audience: [API], scopes: [SCOPE]}",
	},
	reflect.TypeFor[GroupMatch](): {
		where: "{key}", notMapping: "{key} must be a mapping of to, to_tags and groups",
		hint: "write e.g. {key}: {to: hr-api, groups: [hr]}",
	},
	reflect.TypeFor[Connector](): {
		where: "connector", notMapping: "a connector must be a mapping",
		hint: "write - id: NAME, name: TEXT and one of oidc: or ldap:",
	},
	reflect.TypeFor[OIDCConnector](): {
		where: "oidc", notMapping: "oidc must be a mapping",
		hint: "write oidc: {issuer: URL, client_id: ID, client_secret: ${NAME}}",
	},
	reflect.TypeFor[ClaimMapping](): {
		where: "claims", notMapping: "claims must be a mapping of claim names",
		hint: "write claims: {username: email, groups: roles}",
	},
	reflect.TypeFor[LDAPConnector](): {
		where: "ldap", notMapping: "ldap must be a mapping",
		hint: "write ldap: {url: ldaps://HOST, bind_dn: DN, bind_password: ${NAME}, user_base_dn: DN}",
	},
	reflect.TypeFor[Match](): {
		where: "{key}", notMapping: "{key} must be a mapping of from, from_tags, to and to_tags",
		hint: "write e.g. {key}: {from_tags: [public], to_tags: [internal]}",
	},
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
	intType      = reflect.TypeFor[int]()
)

// field is one key of a struct type, read from its yaml tag.
type field struct {
	key   string
	index int
	typ   reflect.Type
	// oneOrMany marks a list that may also be written as a single value
	// (tag config:"one_or_many"), so "to: hr-api" reads naturally.
	oneOrMany bool
}

var fieldCache sync.Map // reflect.Type → []field

// fieldsOf lists the keys of struct type t in declaration order, which is
// the order hints list them in.
func fieldsOf(t reflect.Type) []field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		fs = append(fs, field{key: key, index: i, typ: f.Type, oneOrMany: f.Tag.Get("config") == "one_or_many"})
	}
	fieldCache.Store(t, fs)
	return fs
}

func lookup(fs []field, key string) (field, bool) {
	for _, f := range fs {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

func keysOf(fs []field) []string {
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	return keys
}

// checkKey identifies one check of a node: by the node an alias leads to,
// the type it is checked as, and the key it is under (messages name it).
type checkKey struct {
	n   *yaml.Node
	t   reflect.Type
	key string
}

// check walks the document's root against Config. It returns the tree to
// decode, or nil when there is nothing to decode.
func (d *decoder) check(root *yaml.Node) *yaml.Node {
	d.checked = map[checkKey]*yaml.Node{}
	d.unknownKeys = map[*yaml.Node]bool{}
	t := reflect.TypeFor[Config]()
	n := resolve(root)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, shapes[t].hint, "%s", shapes[t].notMapping)
		return nil
	}
	return d.once(root, t, "", func(n *yaml.Node) *yaml.Node { return d.mapping(n, t, "") })
}

// once runs check on the node slot leads to, once per type and key
// however many aliases lead there, so that an alias bomb costs this walk
// no more than its text. When slot is an alias, the result is an alias
// too: the library then counts each expansion as it decodes and refuses
// excessive aliasing, which is what bounds a bomb's cost. A node reached
// again while it is being checked (an anchor inside itself) is dropped.
func (d *decoder) once(slot *yaml.Node, t reflect.Type, key string, check func(n *yaml.Node) *yaml.Node) *yaml.Node {
	n := resolve(slot)
	k := checkKey{n, t, key}
	out, done := d.checked[k]
	if !done {
		d.checked[k] = nil
		out = check(n)
		d.checked[k] = out
	}
	if out == nil || slot.Kind != yaml.AliasNode {
		return out
	}
	return &yaml.Node{Kind: yaml.AliasNode, Value: slot.Value, Alias: out, Line: slot.Line, Column: slot.Column}
}

// mapping checks the keys of mapping n against struct type t, which is
// under key (for the {key} of its shape), and returns the mapping with
// only the known keys, each once, and their checked values.
func (d *decoder) mapping(n *yaml.Node, t reflect.Type, key string) *yaml.Node {
	s := shapes[t]
	where := s.text(s.where, key)
	fs := fieldsOf(t)
	known := keysOf(fs)
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kslot, vslot := n.Content[i], n.Content[i+1]
		k := resolve(kslot)
		if k.Kind != yaml.ScalarNode {
			d.add(kslot.Line, "keys are plain names such as "+known[0], "a key in %s is not a plain name", where)
			continue
		}
		name := k.Value
		if first, dup := seen[name]; dup {
			d.add(k.Line, fmt.Sprintf("it is first set at line %d; keep one", first), "key %q is repeated in %s", name, where)
			continue
		}
		seen[name] = k.Line
		f, ok := lookup(fs, name)
		if !ok {
			d.unknownKeys[out] = true
			hint := "known keys: " + strings.Join(known, ", ")
			if s.unknown != "" {
				hint = s.unknown
			}
			if name == "<<" {
				hint = "YAML merge keys are not supported; write the keys out"
			} else if sug := suggest(name, known); sug != "" {
				hint = fmt.Sprintf("did you mean %q?", sug)
			}
			d.add(k.Line, hint, "unknown key %q in %s", name, where)
			continue
		}
		var v *yaml.Node
		if !isNull(resolve(vslot)) {
			v = d.value(vslot, f)
		}
		if v == nil {
			// "key:" with no value is the same as leaving it out, and so
			// is a value already reported; the key stays, for its line.
			v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: vslot.Line, Column: vslot.Column}
		}
		out.Content = append(out.Content, scalarNode("!!str", name, k), v)
	}
	return out
}

// value checks the value of key f, which is not null. It returns the
// checked value, or nil to leave the key without one.
func (d *decoder) value(slot *yaml.Node, f field) *yaml.Node {
	n, t, key := resolve(slot), f.typ, f.key
	switch {
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Bool:
		return d.scalar(n, t.Elem(), key, slot.Line)

	case t.Kind() == reflect.Pointer:
		s := shapes[t.Elem()]
		if n.Kind != yaml.MappingNode {
			d.add(n.Line, s.text(s.hint, key), "%s", s.text(s.notMapping, key))
			// An empty mapping, not nothing: the key was written, and for
			// a policy rule it says the rule's kind even when broken.
			return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: slot.Line, Column: slot.Column}
		}
		return d.once(slot, t.Elem(), key, func(n *yaml.Node) *yaml.Node { return d.mapping(n, t.Elem(), key) })

	case t.Kind() == reflect.Slice:
		if f.oneOrMany && n.Kind == yaml.ScalarNode {
			item := d.text(n, t.Elem(), key, n.Line)
			if item == nil {
				return nil
			}
			return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: slot.Line, Column: slot.Column, Content: []*yaml.Node{item}}
		}
		if _, entries := shapes[t.Elem()]; entries {
			if n.Kind != yaml.SequenceNode {
				d.add(n.Line, "start each entry with \"- \"", "%s must be a list", key)
				return nil
			}
			return d.once(slot, t, key, func(n *yaml.Node) *yaml.Node { return d.entries(n, t.Elem()) })
		}
		if n.Kind != yaml.SequenceNode {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf("write a YAML list, e.g. %s: [%s]", key, strings.Join(strings.Fields(n.Value), ", "))
			}
			d.add(n.Line, hint, "%s must be a list", key)
			return nil
		}
		return d.once(slot, t, key, func(n *yaml.Node) *yaml.Node { return d.values(n, t.Elem(), key) })

	case t.Kind() == reflect.Map:
		// A free-form mapping (a user's claims): the library decodes it
		// as it is, and a trial decode here catches what it refuses.
		if n.Kind != yaml.MappingNode {
			d.add(n.Line, fmt.Sprintf("write %s as a mapping, e.g. %s: {name: Alice}", key, key), "%s must be a mapping", key)
			return nil
		}
		m := reflect.New(t)
		if err := n.Decode(m.Interface()); err != nil {
			d.add(n.Line, "", "%s: %s", key, strings.TrimPrefix(err.Error(), "yaml: "))
			return nil
		}
		// Claims end up in JSON tokens and userinfo responses; nested
		// mappings with non-string keys cannot be encoded there.
		if _, err := json.Marshal(m.Interface()); err != nil {
			d.add(n.Line, "use string keys in nested mappings", "%s cannot be encoded as JSON: %v", key, err)
			return nil
		}
		return slot
	}
	return d.scalar(n, t, key, slot.Line)
}

// entries checks each entry of a list of structs, dropping those that are
// not entries at all.
func (d *decoder) entries(n *yaml.Node, t reflect.Type) *yaml.Node {
	s := shapes[t]
	out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: n.Line, Column: n.Column}
	for _, item := range n.Content {
		e := resolve(item)
		switch {
		case e.Kind == yaml.MappingNode:
			if c := d.once(item, t, "", func(e *yaml.Node) *yaml.Node { return d.mapping(e, t, "") }); c != nil {
				out.Content = append(out.Content, c)
			}
		case s.short != "" && e.Kind == yaml.ScalarNode && !isNull(e):
			// The shorthand "- ID": the id is where the entry is.
			out.Content = append(out.Content, &yaml.Node{
				Kind: yaml.MappingNode, Tag: "!!map", Line: item.Line, Column: item.Column,
				Content: []*yaml.Node{scalarNode("!!str", s.short, item), scalarNode("!!str", e.Value, item)},
			})
		default:
			d.add(item.Line, s.hint, "%s", s.notMapping)
		}
	}
	return out
}

// values checks each item of a list of scalars, dropping the bad ones.
func (d *decoder) values(n *yaml.Node, t reflect.Type, key string) *yaml.Node {
	var items []*yaml.Node
	for _, item := range n.Content {
		v := resolve(item)
		if v.Kind != yaml.ScalarNode || isNull(v) {
			d.add(item.Line, "", "each entry of %s must be a single non-empty value", key)
			continue
		}
		items = append(items, item)
	}
	// Values are checked once every entry is known to be one, so that a
	// line holding both kinds of mistake lists them in that order.
	out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: n.Line, Column: n.Column}
	for _, item := range items {
		if c := d.text(resolve(item), t, key, item.Line); c != nil {
			out.Content = append(out.Content, c)
		}
	}
	return out
}

// scalar checks the single value n of key, of type t.
func (d *decoder) scalar(n *yaml.Node, t reflect.Type, key string, line int) *yaml.Node {
	if t.Kind() == reflect.Bool {
		// YAML 1.1 spellings such as "yes" are refused because they
		// surprise people reading the file (the library accepts them).
		if n.Kind == yaml.ScalarNode && (n.Value == "true" || n.Value == "false") {
			return scalarNode("!!bool", n.Value, &yaml.Node{Line: line, Column: n.Column})
		}
		d.add(n.Line, "write "+key+": true or "+key+": false", "%s must be true or false", key)
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		d.add(n.Line, "", "%s must be a single value, not a %s", key, kindName(n))
		return nil
	}
	return d.text(n, t, key, line)
}

// text checks the text of scalar n as a value of type t, and returns it as
// the string the library decodes into t. line is where n is referred to;
// the checked value keeps it, so positions are where the file says them.
func (d *decoder) text(n *yaml.Node, t reflect.Type, key string, line int) *yaml.Node {
	at := &yaml.Node{Line: line, Column: n.Column}
	switch t {
	case durationType:
		if n.Value == "" || d.unexpanded[n.Line] {
			return nil // absent, or its ${NAME} problem is already reported
		}
		if _, err := time.ParseDuration(n.Value); err != nil {
			d.add(n.Line, "use a Go duration such as 10m, 1h30m or 720h", "%s: %q is not a duration", key, n.Value)
			return nil
		}
	case intType:
		if d.unexpanded[n.Line] {
			return nil
		}
		v, err := strconv.Atoi(n.Value)
		if err != nil || v < 0 {
			d.add(n.Line, "write a whole number such as 4", "%s: %q is not a non-negative whole number", key, n.Value)
			return nil
		}
		return scalarNode("!!int", strconv.Itoa(v), at)
	case prefixType:
		p, err := parseCIDR(n.Value)
		if err != nil {
			d.add(line, "write an address or a CIDR prefix, e.g. 10.0.0.0/8 or 127.0.0.1", "%s: %q is not an IP address or prefix", key, n.Value)
			return nil
		}
		return scalarNode("!!str", p.String(), at)
	}
	return scalarNode("!!str", n.Value, at)
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

// scalarNode is a new scalar with this tag and value, placed at at.
func scalarNode(tag, value string, at *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value, Line: at.Line, Column: at.Column}
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
