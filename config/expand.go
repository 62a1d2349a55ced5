package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// ${NAME} expansion happens on the node tree, before the schema pass and
// before decoding, so that a duration or an id can come from the
// environment too, while keys and non-string scalars are never touched.

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
				if v != n.Value && strings.Contains(n.Value, "${") {
					if d.fromEnv == nil {
						d.fromEnv = map[int]bool{}
					}
					d.fromEnv[n.Line] = true
				}
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
