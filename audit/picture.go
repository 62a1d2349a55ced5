package audit

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Graph facts shared by the DOT and HTML renderers, so both pictures show
// the same nodes, edges, colours and violations.

// tagColor is the palette entry of one tag: a light fill and a dark text
// and border colour that is readable on it. Red is left out on purpose:
// it means a violation.
type tagColor struct{ bg, fg string }

var palette = []tagColor{
	{"#dbeafe", "#1e40af"}, // blue
	{"#dcfce7", "#166534"}, // green
	{"#fef3c7", "#92400e"}, // amber
	{"#ede9fe", "#5b21b6"}, // violet
	{"#cffafe", "#155e75"}, // cyan
	{"#fce7f3", "#9d174d"}, // pink
	{"#ffedd5", "#9a3412"}, // orange
	{"#ecfccb", "#3f6212"}, // lime
	{"#e0e7ff", "#3730a3"}, // indigo
	{"#ccfbf1", "#115e59"}, // teal
}

// Colours with a fixed meaning in both pictures.
const (
	colorViolation   = "#dc2626"
	colorViolationBg = "#fee2e2"
	colorEdge        = "#64748b"
	colorBorder      = "#94a3b8"
)

// tagColors assigns palette entries to tags in order of first appearance
// (clients, then external audiences, in configuration order), so a tag
// keeps its colour as long as the configuration's order does.
func (r *Report) tagColors() (map[string]tagColor, []string) {
	colors := map[string]tagColor{}
	var order []string
	for _, a := range r.Audiences {
		for _, t := range a.Tags {
			if _, ok := colors[t]; !ok {
				colors[t] = palette[len(order)%len(palette)]
				order = append(order, t)
			}
		}
	}
	return colors, order
}

// edge is one client → audience arrow: a pair of the matrix other than a
// client's own ID.
type edge struct {
	from, to string
	// live is false when the client has no grant types: configured, but
	// no token can be obtained today (drawn dashed).
	live bool
	// violations are the rule violations of this exact pair.
	violations []Violation
	// exchange: the client reaches the audience by RFC 8693 token
	// exchange of a token issued for it (exchange_to), not directly.
	exchange bool
}

// edges lists every arrow in matrix order.
func (r *Report) edges() []edge {
	var out []edge
	for i, row := range r.Matrix {
		for _, a := range row.Audience {
			if a == row.Client {
				continue
			}
			e := edge{from: row.Client, to: a, live: r.Clients[i].CanObtainTokens}
			for _, v := range r.Violations {
				if v.Client == row.Client && v.Audience == a {
					e.violations = append(e.violations, v)
				}
			}
			out = append(out, e)
		}
	}
	for _, x := range r.Exchanges {
		e := edge{from: x.Client, to: x.Audience, live: true, exchange: true}
		for _, v := range r.Violations {
			if v.Client == x.Client && v.Audience == x.Audience {
				e.violations = append(e.violations, v)
			}
		}
		out = append(out, e)
	}
	return out
}

// colorExchange draws exchange edges.
const colorExchange = "#7c3aed"

// entryViolations are the violations that concern one entry alone (a
// require rule), keyed by client or audience ID.
func (r *Report) entryViolations() map[string][]Violation {
	out := map[string][]Violation{}
	for _, v := range r.Violations {
		switch {
		case v.Client != "" && v.Audience == "":
			out[v.Client] = append(out[v.Client], v)
		case v.Client == "" && v.Audience != "":
			out[v.Audience] = append(out[v.Audience], v)
		}
	}
	return out
}

// ruleNames joins the distinct rule names of vs, for an edge label.
func ruleNames(vs []Violation, sep string) string {
	var names []string
	for _, v := range vs {
		if !slices.Contains(names, v.Rule) {
			names = append(names, v.Rule)
		}
	}
	return strings.Join(names, sep)
}

// printable replaces control and other non-printable runes with U+FFFD, so
// a configuration value cannot smuggle layout or escapes into a picture.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '\uFFFD'
	}, s)
}

// plural is "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
