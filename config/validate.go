package config

import (
	"fmt"
	"github.com/gatehouse/gatehouse/oauth"
	"net"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// validate checks the decoded values section by section: the server
// settings, the clients and external audiences, users, policy and admins.
// Each check says where the problem is through the positions locate
// recorded.
func (d *decoder) validate(cfg *Config) {
	d.validateServer(cfg)

	// Known audience values, with the line each was declared on.
	clientIDs := map[string]int{}
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		p := d.posOf(c)
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
		d.canonical(fmt.Sprintf("client id %q", c.ID), c.ID, p.at("id"))
		clientIDs[c.ID] = c.Line
	}
	// Resource URIs are further names of their clients as audiences.
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		if c.ResourceURI == "" {
			continue
		}
		line := d.posOf(c).at("resource_uri")
		switch {
		case !oauth.IsResourceURI(c.ResourceURI):
			d.add(line, "write the API's https:// URI, e.g. https://mcp.example.com/mcp", "client %q: resource_uri %q is not an http(s) URI", c.ID, c.ResourceURI)
		case !d.canonical(fmt.Sprintf("client %q: resource_uri", c.ID), c.ResourceURI, line):
		case clientIDs[c.ResourceURI] != 0:
			d.add(line, "an audience value names one recipient", "client %q: resource_uri %q is another client's id", c.ID, c.ResourceURI)
		default:
			clientIDs[c.ResourceURI] = c.Line
		}
	}
	externalIDs := map[string]int{}
	for i := range cfg.ExternalAudiences {
		a := &cfg.ExternalAudiences[i]
		p := d.posOf(a)
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
		d.canonical(fmt.Sprintf("external audience %q", a.ID), a.ID, p.at("id"))
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
		p := d.posOf(c)
		d.validateClient(c, p, clientIDs, externalIDs, known)
		who := fmt.Sprintf("client %q", c.ID)
		if c.ID == "" {
			who = fmt.Sprintf("client at line %d", c.Line)
		}
		d.validateRoutes(who, c, p)
		d.validateIDTokenAlg(who, c, p, cfg)
	}
	for i := range cfg.ExternalAudiences {
		a := &cfg.ExternalAudiences[i]
		d.validateTags(fmt.Sprintf("external audience %q", a.ID), a.Tags, d.posOf(a))
	}
	d.validateUsers(cfg)
	d.validateConnectors(cfg)
	d.validateMetadataClients(cfg, clientIDs, externalIDs)
	d.validateDynamicRegistration(cfg, clientIDs, externalIDs)
	d.validatePolicy(cfg, clientIDs, externalIDs, known)
	d.validateAdmins(cfg, clientIDs, known)
}

// canonical reports whether an audience value is in its canonical form
// (oauth.CanonicalResource), and says how to write it when not: the
// configuration holds canonical forms only, so requests, tokens and the
// audit compare one spelling.
func (d *decoder) canonical(who, v string, line int) bool {
	c, err := oauth.CanonicalResource(v)
	switch {
	case err != nil:
		d.add(line, "an audience URI has a host, no fragment, no user information and no . or .. segments", "%s: %v", who, err)
		return false
	case c != v:
		d.add(line, fmt.Sprintf("write %q: scheme and host in lower case, no default port, no trailing slash", c), "%s is not in canonical form", who)
		return false
	}
	return true
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
