package audit

import (
	"fmt"
	"io"
	"strings"
)

// WriteDOT writes r as a Graphviz DOT digraph: one node per client and
// external audience (clients left, recipients right), one edge per client →
// audience pair of the matrix (a client's own ID is left out), node colours
// from the first tag with every tag in the label, dashed edges for clients
// without grant types, and violations in red, labelled with the rule. Render
// it with e.g. `dot -Tsvg audit.dot > audit.svg`; the HTML format draws
// the same graph without Graphviz.
func (r *Report) WriteDOT(w io.Writer) error {
	ew := &errWriter{w: w}
	p := func(format string, args ...any) { fmt.Fprintf(ew, format+"\n", args...) }
	colors, order := r.tagColors()
	onEntry := r.entryViolations()

	p("// gatehouse audit --format dot; render with: dot -Tsvg audit.dot > audit.svg")
	p("digraph gatehouse_audit {")
	p(`  rankdir=LR;`)
	p(`  graph [fontname="Helvetica", fontsize=11, nodesep=0.25, ranksep=1.4];`)
	p(`  node [fontname="Helvetica", fontsize=11, shape=box, style="rounded,filled", fillcolor="#ffffff", color=%s];`, dotQuote(colorBorder))
	p(`  edge [fontname="Helvetica", fontsize=9, color=%s, arrowsize=0.7];`, dotQuote(colorEdge))

	node := func(a Audience, extra []string) {
		label := a.ID
		if len(a.Tags) > 0 {
			label += "\n" + strings.Join(a.Tags, " · ")
		}
		attrs := []string{"label=" + dotQuote(label)}
		if len(a.Tags) > 0 {
			attrs = append(attrs, "fillcolor="+dotQuote(colors[a.Tags[0]].bg))
		}
		attrs = append(attrs, extra...)
		if vs := onEntry[a.ID]; len(vs) > 0 {
			attrs = append(attrs, "color="+dotQuote(colorViolation), "penwidth=2", "tooltip="+dotQuote(ruleNames(vs, "; ")))
		}
		p("  %s [%s];", dotQuote(a.ID), strings.Join(attrs, ", "))
	}
	if len(r.Clients) > 0 {
		p("")
		p("  // clients")
	}
	for _, a := range r.Audiences {
		if a.Kind == KindClient {
			node(a, nil)
		}
	}
	first := true
	for _, a := range r.Audiences {
		if a.Kind == KindClient {
			continue
		}
		if first {
			p("")
			p("  // external and undeclared audiences")
			first = false
		}
		extra := []string{"shape=ellipse", `style="filled"`, `fillcolor="#f1f5f9"`}
		if len(a.Tags) > 0 {
			extra = extra[:2]
		}
		if a.Kind == KindUndeclared {
			extra = []string{"shape=ellipse", `style="dashed"`, "color=" + dotQuote(colorViolation), "tooltip=" + dotQuote("undeclared: neither a client nor a declared external audience")}
		}
		node(a, extra)
	}

	edges := r.edges()
	if len(edges) > 0 {
		p("")
		p("  // client -> audience (the default aud; a client's own ID is left out);")
		p("  // dashed \"exchange\": reached by RFC 8693 token exchange (exchange_to)")
	}
	for _, e := range edges {
		var attrs []string
		if e.exchange {
			attrs = append(attrs, `style="dashed"`, "color="+dotQuote(colorExchange), "fontcolor="+dotQuote(colorExchange),
				`label="exchange"`, "tooltip="+dotQuote(e.from+" may exchange a token issued for it for one naming "+e.to+" (RFC 8693)"))
		}
		if !e.live {
			attrs = append(attrs, `style="dashed"`, "tooltip="+dotQuote("configured, but "+e.from+" has no grant types"))
		}
		if len(e.violations) > 0 {
			attrs = append(attrs, "color="+dotQuote(colorViolation), "fontcolor="+dotQuote(colorViolation), "penwidth=2.5",
				"label="+dotQuote(ruleNames(e.violations, "\n")))
		}
		line := fmt.Sprintf("  %s -> %s", dotQuote(e.from), dotQuote(e.to))
		if len(attrs) > 0 {
			line += " [" + strings.Join(attrs, ", ") + "]"
		}
		p("%s;", line)
	}

	if len(order) > 0 {
		p("")
		p("  // legend: one colour per tag")
		p("  subgraph cluster_legend {")
		p(`    label="tags"; fontsize=10; color=%s; style="rounded";`, dotQuote(colorBorder))
		for i, t := range order {
			p("    %s [label=%s, fillcolor=%s, fontsize=9];", dotQuote(fmt.Sprintf("legend:%d", i)), dotQuote(t), dotQuote(colors[t].bg))
		}
		p("  }")
	}
	p("}")
	return ew.err
}

// dotQuote makes s a DOT double-quoted string. Backslashes are doubled so
// that a value cannot use DOT's label escapes (\N, \G, \l); a newline
// becomes DOT's \n line break; other non-printable runes are replaced.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteString(printable(string(r)))
		}
	}
	b.WriteByte('"')
	return b.String()
}
