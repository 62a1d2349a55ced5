package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// ruleKinds are the kind keys of a policy rule, in the order problems
// name them. Read-only.
var ruleKinds = []string{RuleDeny, RuleOnly, RuleRequire, RuleOnlyGroups}

// selectable is what a rule's match can name: client ids, external
// audiences and the tags each carries, with sorted lists for hints.
type selectable struct {
	clientIDs, externalIDs   map[string]int
	clientList, known        []string // client ids; every audience id
	clientTags, externalTags map[string]bool
	allTags                  []string
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
	if m := cfg.ClientMetadataDocuments; m != nil {
		for _, t := range m.MetadataClientTags() {
			clientTags[t] = true
		}
	}
	if r := cfg.DynamicRegistration; r != nil {
		for _, t := range r.RegisteredClientTags() {
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
	sel := &selectable{clientIDs, externalIDs, clientList, known, clientTags, externalTags, allTags}

	names := map[string]int{}
	for i := range cfg.Policy {
		r := &cfg.Policy[i]
		p := d.posOf(r)
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
		case len(kinds) == 0 && !p.unknownKeys:
			d.add(r.Line, "add one of deny: {from_tags: [..], to_tags: [..]}, only: {to: ID, from: [ID]}, only_groups: {to: ID, groups: [GROUP]} or require: "+strings.Join(Requirements(), "|"), "%s has no rule kind", who)
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
			d.validateMatch(who, k.name, k.m, p, d.posOf(k.m), sel)
		}

		if r.OnlyGroups != nil {
			d.validateGroupMatch(who, r.OnlyGroups, p, d.posOf(r.OnlyGroups), sel)
		} else if _, written := p.keys[RuleOnlyGroups]; written {
			d.add(p.at(RuleOnlyGroups), "write e.g. only_groups: {to: hr-api, groups: [hr]}", "%s: only_groups is empty", who)
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

// validateMatch checks the deny: or only: match m of a rule; p is where
// the rule is, mp where the match is.
func (d *decoder) validateMatch(who, kind string, m *Match, p, mp *pos, sel *selectable) {
	if len(m.From)+len(m.FromTags) == 0 || len(m.To)+len(m.ToTags) == 0 {
		example := "{from_tags: [public], to_tags: [internal]}"
		if kind == RuleOnly {
			example = "{to: hr-api, from: [backoffice-portal]}"
		}
		d.add(p.at(kind), "from/from_tags select the clients, to/to_tags the audiences; e.g. "+kind+": "+example,
			"%s: %s needs both a from side and a to side", who, kind)
	}
	for _, side := range []struct {
		key  string
		list []string
	}{{"from", m.From}, {"from_tags", m.FromTags}, {"to", m.To}, {"to_tags", m.ToTags}} {
		d.checkSide(who, side.key, side.list, mp, sel)
	}
}

// checkSide checks the IDs or tags one side of a match lists (key is
// from, from_tags, to or to_tags).
func (d *decoder) checkSide(who, key string, list []string, mp *pos, sel *selectable) {
	d.noDuplicates(who, key, list, mp)
	for i, v := range list {
		line := mp.item(key, i)
		switch key {
		case "from":
			if _, ok := sel.clientIDs[v]; ok {
				continue
			}
			if _, ok := sel.externalIDs[v]; ok {
				d.add(line, "an external audience obtains no tokens from Gatehouse; list client ids under from", "%s: from names external audience %q", who, v)
				continue
			}
			hint := "from lists client ids"
			if s := suggest(v, sel.clientList); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.add(line, hint, "%s: from names %q, which is not a client id", who, v)
		case "to":
			if _, ok := sel.clientIDs[v]; ok {
				continue
			}
			if _, ok := sel.externalIDs[v]; ok {
				continue
			}
			hint := "to lists client ids or external audiences"
			if s := suggest(v, sel.known); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.add(line, hint, "%s: to names %q, which is not a client id or an external audience", who, v)
		case "from_tags":
			if sel.clientTags[v] {
				continue
			}
			if sel.externalTags[v] {
				d.add(line, "from_tags selects clients; tag a client with it, or move it to to_tags", "%s: tag %q is carried only by external audiences, which obtain no tokens", who, v)
				continue
			}
			d.add(line, tagHint(v, sel.allTags), "%s: no client carries tag %q", who, v)
		case "to_tags":
			if sel.clientTags[v] || sel.externalTags[v] {
				continue
			}
			d.add(line, tagHint(v, sel.allTags), "%s: no client or external audience carries tag %q", who, v)
		}
	}
}

// validateGroupMatch checks an only_groups rule: a to side that names
// known audiences and at least one group. Groups themselves cannot be
// checked: they come from directories and upstream providers too.
func (d *decoder) validateGroupMatch(who string, m *GroupMatch, p, mp *pos, sel *selectable) {
	if len(m.To)+len(m.ToTags) == 0 || len(m.Groups) == 0 {
		d.add(p.at(RuleOnlyGroups), "to/to_tags select the audiences, groups the people who may reach them; e.g. only_groups: {to: hr-api, groups: [hr]}",
			"%s: only_groups needs a to side and groups", who)
	}
	d.noDuplicates(who, "groups", m.Groups, mp)
	for i, g := range m.Groups {
		if strings.TrimSpace(g) != g || g == "" {
			d.add(mp.item("groups", i), "group names are compared exactly", "%s: group %q has surrounding spaces or is empty", who, g)
		}
	}
	d.checkSide(who, "to", m.To, mp, sel)
	d.checkSide(who, "to_tags", m.ToTags, mp, sel)
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
