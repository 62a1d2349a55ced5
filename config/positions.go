package config

import (
	"reflect"

	"go.yaml.in/yaml/v3"
)

// pos records where an entry and its values are in the file, so validation
// can point at the offending line.
type pos struct {
	line  int
	keys  map[string]int   // line of the value of each key present
	items map[string][]int // line of each list item, by key
	// unknownKeys is set when the entry had a key the schema does not
	// know; for a policy rule that key was its kind, misspelt, so "the
	// rule has no kind" would say the same thing twice.
	unknownKeys bool
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

// posOf returns where the struct that ptr points to (a *Client, a *Rule,
// the *Config ...) was written. A struct that was not decoded from the
// file, such as the Config of an empty one, is on no line.
func (d *decoder) posOf(ptr any) *pos {
	if p, ok := d.positions[ptr]; ok {
		return p
	}
	return newPos(0)
}

// locate records where each struct in v was written, and sets its Line
// field, by walking the checked tree n alongside the values the library
// decoded from it; line is the line of the entry (of the alias, for an
// entry written as one). The checked tree holds only known keys and the
// values that decoded, so its lists and the decoded slices match item
// for item.
func (d *decoder) locate(v reflect.Value, slot *yaml.Node, line int) {
	if d.positions == nil {
		d.positions = map[any]*pos{}
	}
	n := resolve(slot)
	p := newPos(line)
	p.unknownKeys = d.unknownKeys[n]
	d.positions[v.Addr().Interface()] = p
	if f := v.FieldByName("Line"); f.IsValid() && f.Kind() == reflect.Int {
		f.SetInt(int64(line))
	}
	fs := fieldsOf(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, vslot := n.Content[i].Value, n.Content[i+1]
		f, ok := lookup(fs, key)
		if !ok {
			continue
		}
		p.keys[key] = vslot.Line
		fv, c := v.Field(f.index), resolve(vslot)
		switch {
		case fv.Kind() == reflect.Slice && c.Kind == yaml.SequenceNode:
			_, entries := shapes[f.typ.Elem()]
			for j, item := range c.Content {
				p.items[key] = append(p.items[key], item.Line)
				if entries && j < fv.Len() {
					d.locate(fv.Index(j), item, item.Line)
				}
			}
		case fv.Kind() == reflect.Pointer && !fv.IsNil() && fv.Elem().Kind() == reflect.Struct:
			d.locate(fv.Elem(), vslot, c.Line)
		case fv.Kind() == reflect.Map && c.Kind == yaml.MappingNode:
			for j := 0; j+1 < len(c.Content); j += 2 {
				p.keys[key+"."+c.Content[j].Value] = c.Content[j].Line
			}
		}
	}
}
