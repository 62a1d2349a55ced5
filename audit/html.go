package audit

import (
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// WriteHTML writes r as one self-contained HTML page: no external assets
// and no script, so it can be attached to a CI run, mailed to an auditor
// or opened from disk. It shows the policy result first, then the client →
// audience graph as inline SVG (laid out here, so Graphviz is not needed),
// the matrix with tags as coloured badges and violating cells in red, the
// lint warnings, who can reach each API, and the clients.
func (r *Report) WriteHTML(w io.Writer) error {
	ew := &errWriter{w: w}
	p := func(format string, args ...any) { fmt.Fprintf(ew, format, args...) }
	colors, _ := r.tagColors()
	badges := func(tags []string) string {
		var b strings.Builder
		for _, t := range tags {
			c := colors[t]
			fmt.Fprintf(&b, `<span class="tag" style="background:%s;color:%s;border-color:%s">%s</span>`, c.bg, c.fg, c.fg, esc(t))
		}
		return b.String()
	}

	apis := 0
	for _, a := range r.ReachableBy {
		if len(a.Clients) > 0 || a.Kind != KindUndeclared {
			apis++
		}
	}
	p("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	p("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	p("<title>Gatehouse audit</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", htmlCSS)
	p("<header>\n<h1>Gatehouse audience audit</h1>\n")
	p("<p class=\"facts\">%s · %s · %s</p>\n", plural(len(r.Clients), "client", "clients"), plural(apis, "API", "APIs"), plural(len(r.Rules), "policy rule", "policy rules"))
	switch {
	case len(r.Violations) > 0:
		p("<p class=\"status fail\">✗ %s of the policy · %s</p>\n", plural(len(r.Violations), "violation", "violations"), plural(len(r.Warnings), "warning", "warnings"))
	case len(r.Rules) == 0:
		p("<p class=\"status none\">No policy rules · %s</p>\n", plural(len(r.Warnings), "warning", "warnings"))
	default:
		p("<p class=\"status pass\">✓ every policy rule passes · %s</p>\n", plural(len(r.Warnings), "warning", "warnings"))
	}
	p("</header>\n")

	if len(r.Clients) == 0 {
		p("<p>No clients configured.</p>\n</main>\n</body>\n</html>\n")
		return ew.err
	}

	// Policy.
	p("<section>\n<h2>Policy</h2>\n")
	if len(r.Rules) == 0 {
		p("<p class=\"muted\">No policy rules. Add a <code>policy:</code> section (see <code>examples/policy.yaml</code>) so that <code>gatehouse audit</code> can fail a CI run.</p>\n")
	} else {
		p("<ul class=\"rules\">\n")
		for _, ru := range r.Rules {
			cls, mark, result := "pass", "✓", "passes"
			if ru.Violations > 0 {
				cls, mark, result = "fail", "✗", plural(ru.Violations, "violation", "violations")
			}
			p("<li class=\"%s\"><span class=\"mark\">%s</span> <strong>%s</strong> <span class=\"kind\">%s</span> <span class=\"result\">%s</span><br><span class=\"muted\">%s</span>",
				cls, mark, esc(ru.Name), esc(ru.Kind), result, esc(ru.Summary))
			if ru.Description != "" {
				p("<br><span class=\"muted\">%s</span>", esc(ru.Description))
			}
			var vs []Violation
			for _, v := range r.Violations {
				if v.Rule == ru.Name {
					vs = append(vs, v)
				}
			}
			if len(vs) > 0 {
				p("\n<ul class=\"violations\">\n")
				for _, v := range vs {
					p("<li><code>%s</code>%s</li>\n", esc(strings.TrimSuffix(pairText(v), ": ")), ": "+esc(v.Message))
				}
				p("</ul>\n")
			}
			p("</li>\n")
		}
		p("</ul>\n")
	}
	p("</section>\n")

	// Graph.
	p("<section>\n<h2>Who hands tokens to whom</h2>\n")
	p("<p class=\"muted\">An arrow from a client to a recipient means the client's access tokens name the recipient in <code>aud</code>. Dashed: configured, but the client has no grant types. Red: breaks a policy rule.</p>\n")
	p("<figure>\n")
	r.writeSVG(ew, colors)
	p("</figure>\n</section>\n")

	// Matrix.
	onPair := map[[2]string][]Violation{}
	for _, v := range r.Violations {
		if v.Client != "" && v.Audience != "" {
			k := [2]string{v.Client, v.Audience}
			onPair[k] = append(onPair[k], v)
		}
	}
	onEntry := r.entryViolations()
	p("<section>\n<h2>Access matrix</h2>\n")
	p("<p class=\"muted\">Rows are clients, columns are recipients. ✓ = the client's default access token names the recipient in <code>aud</code>; (✓) = configured, but the client has no grant types.</p>\n")
	p("<div class=\"scroll\"><table class=\"matrix\">\n<thead><tr><th class=\"corner\">client \\ aud</th>")
	for _, a := range r.Audiences {
		cls := ""
		if len(onEntry[a.ID]) > 0 && a.Kind != KindClient {
			cls = ` class="bad"`
		}
		kind := ""
		if a.Kind != KindClient {
			kind = `<span class="kind">` + esc(string(a.Kind)) + `</span>`
		}
		p("<th%s><code>%s</code>%s%s</th>", cls, esc(a.ID), kind, badgeBlock(badges(a.Tags)))
	}
	p("</tr></thead>\n<tbody>\n")
	for i, c := range r.Clients {
		cls := ""
		if len(onEntry[c.ID]) > 0 {
			cls = ` class="bad"`
		}
		p("<tr><th%s><code>%s</code>%s</th>", cls, esc(c.ID), badgeBlock(badges(c.Tags)))
		for j, named := range r.names(i) {
			a := r.Audiences[j]
			vs := onPair[[2]string{c.ID, a.ID}]
			switch {
			case len(vs) > 0:
				msgs := make([]string, len(vs))
				for k, v := range vs {
					msgs[k] = v.Rule + ": " + v.Message
				}
				p(`<td class="violation" title="%s">✗</td>`, esc(strings.Join(msgs, "\n")))
			case !named:
				p(`<td></td>`)
			case a.ID == c.ID && c.CanObtainTokens:
				p(`<td class="self" title="a client is always its own audience">✓</td>`)
			case c.CanObtainTokens:
				p(`<td class="yes">✓</td>`)
			default:
				p(`<td class="configured" title="configured, but the client has no grant types">(✓)</td>`)
			}
		}
		p("</tr>\n")
	}
	p("</tbody>\n</table></div>\n</section>\n")

	// Warnings.
	p("<section>\n<h2>Warnings</h2>\n")
	if len(r.Warnings) == 0 {
		p("<p class=\"muted\">None.</p>\n")
	} else {
		p("<ul class=\"warnings\">\n")
		for _, w := range r.Warnings {
			p("<li><span class=\"check\">%s</span> <code>%s</code> %s</li>\n", esc(w.Check), esc(w.Subject), esc(w.Message))
		}
		p("</ul>\n")
	}
	p("</section>\n")

	// Reach.
	p("<section>\n<h2>Who can reach each API</h2>\n")
	if len(r.ReachableBy) == 0 {
		p("<p class=\"muted\">No client's audience names another client or an external audience.</p>\n")
	} else {
		p("<table class=\"list\">\n<thead><tr><th>API</th><th>kind</th><th>reachable by</th><th>notes</th></tr></thead>\n<tbody>\n")
		for _, a := range r.ReachableBy {
			who := `<span class="muted">nobody</span>`
			if len(a.Clients) > 0 {
				parts := make([]string, len(a.Clients))
				for i, c := range a.Clients {
					parts[i] = "<code>" + esc(c) + "</code>"
				}
				who = strings.Join(parts, ", ")
			}
			p("<tr><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s</td></tr>\n", esc(a.API), esc(string(a.Kind)), who, esc(r.apiNote(a)))
		}
		p("</tbody>\n</table>\n")
	}
	p("</section>\n")

	// Clients.
	p("<section>\n<h2>Clients</h2>\n<table class=\"list\">\n<thead><tr><th>client</th><th>name</th><th>type</th><th>grant types</th><th>scopes</th><th>tags</th></tr></thead>\n<tbody>\n")
	for _, c := range r.Clients {
		grants := `<span class="muted">none (API only)</span>`
		if len(c.GrantTypes) > 0 {
			grants = esc(strings.Join(c.GrantTypes, " "))
		}
		p("<tr><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			esc(c.ID), esc(c.Name), esc(c.Type), grants, esc(strings.Join(c.Scopes, " ")), badges(c.Tags))
	}
	p("</tbody>\n</table>\n</section>\n")
	p("<footer>Generated by <code>gatehouse audit --format html</code> from the configuration alone.</footer>\n")
	p("</main>\n</body>\n</html>\n")
	return ew.err
}

// badgeBlock wraps badges in a line of their own, or returns "".
func badgeBlock(badges string) string {
	if badges == "" {
		return ""
	}
	return `<span class="tags">` + badges + `</span>`
}

// esc escapes text for HTML element content and quoted attributes, after
// replacing non-printable runes so values cannot disturb the page.
func esc(s string) string { return html.EscapeString(printable(s)) }

// SVG layout constants, in CSS pixels.
const (
	svgPad     = 16  // outer margin
	svgHeader  = 28  // column titles
	svgBoxW    = 264 // node width
	svgBoxH    = 46  // node height
	svgGapY    = 14  // vertical gap between nodes
	svgGapX    = 250 // horizontal gap between the columns
	svgMaxChar = 32  // longest ID drawn in full (an ellipsis beyond)
)

// svgNode is one box of the graph.
type svgNode struct {
	id     string
	sub    string // second line when there are no tags: name or kind
	tags   []string
	kind   Kind
	bad    bool // an entry-level violation (require rule)
	y      float64
	weight float64 // barycentre of its callers, for ordering
}

// writeSVG draws the client → audience graph as a two-layer drawing:
// token holders on the left, recipients on the right. A client that both
// calls and is called appears in both columns, which keeps every arrow
// pointing one way and avoids the crossings a general layout would need
// Graphviz to untangle. The right column is ordered by the average
// position of its callers (the barycentre heuristic), which removes most
// crossings in practice.
func (r *Report) writeSVG(w io.Writer, colors map[string]tagColor) {
	edges := r.edges()
	onEntry := r.entryViolations()
	names := map[string]string{}
	for _, c := range r.Clients {
		names[c.ID] = c.Name
	}

	var left, right []*svgNode
	leftAt, rightAt := map[string]*svgNode{}, map[string]*svgNode{}
	hasOut, hasIn := map[string]bool{}, map[string]bool{}
	for _, e := range edges {
		hasOut[e.from] = true
		hasIn[e.to] = true
	}
	for _, a := range r.Audiences {
		n := func() *svgNode {
			sub := names[a.ID]
			if a.Kind != KindClient {
				sub = string(a.Kind)
				if a.Description != "" {
					sub += ": " + a.Description
				}
			}
			return &svgNode{id: a.ID, sub: sub, tags: a.Tags, kind: a.Kind, bad: len(onEntry[a.ID]) > 0}
		}
		// Every client shows up at least once: on the left when it hands
		// tokens to anyone or to no one at all.
		if a.Kind == KindClient && (hasOut[a.ID] || !hasIn[a.ID]) {
			if _, dup := leftAt[a.ID]; !dup {
				nd := n()
				left = append(left, nd)
				leftAt[a.ID] = nd
			}
		}
		if hasIn[a.ID] || a.Kind == KindExternal {
			if _, dup := rightAt[a.ID]; !dup {
				nd := n()
				right = append(right, nd)
				rightAt[a.ID] = nd
			}
		}
	}
	for i, nd := range left {
		nd.y = float64(i)
	}
	for i, nd := range right {
		var sum, k float64
		for _, e := range edges {
			if e.to == nd.id {
				if from := leftAt[e.from]; from != nil {
					sum += from.y
					k++
				}
			}
		}
		nd.weight = float64(len(left)) + float64(i) // unreached: keep order, at the bottom
		if k > 0 {
			nd.weight = sum / k
		}
	}
	slices.SortStableFunc(right, func(a, b *svgNode) int {
		switch {
		case a.weight < b.weight:
			return -1
		case a.weight > b.weight:
			return 1
		}
		return 0
	})

	rows := max(len(left), len(right), 1)
	step := float64(svgBoxH + svgGapY)
	colH := float64(rows)*step - svgGapY
	place := func(col []*svgNode) {
		// The shorter column is centred against the taller one.
		off := (colH - (float64(len(col))*step - svgGapY)) / 2
		for i, nd := range col {
			nd.y = svgPad + svgHeader + off + float64(i)*step
		}
	}
	place(left)
	place(right)
	lx := float64(svgPad)
	rx := lx + svgBoxW + svgGapX
	width := rx + svgBoxW + svgPad
	height := svgPad + svgHeader + colH + svgPad

	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="client to audience graph" font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif">`+"\n", width, height, width, height)
	p(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>`, colorEdge)
	p(`<marker id="arrow-bad" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker></defs>`+"\n", colorViolation)
	p(`<text x="%g" y="%d" font-size="12" font-weight="600" fill="#475569">TOKEN HOLDERS (clients)</text>`+"\n", lx, svgPad+12)
	p(`<text x="%g" y="%d" font-size="12" font-weight="600" fill="#475569">RECIPIENTS (aud)</text>`+"\n", rx, svgPad+12)

	// Edges first, violations last, so red is drawn on top.
	drawEdge := func(e edge) {
		from, to := leftAt[e.from], rightAt[e.to]
		if from == nil || to == nil {
			return
		}
		x1, y1 := lx+svgBoxW, from.y+svgBoxH/2
		x2, y2 := rx-2, to.y+svgBoxH/2
		mid := (x1 + x2) / 2
		stroke, widthPx, marker, dash := colorEdge, 1.5, "arrow", ""
		if !e.live {
			dash = ` stroke-dasharray="5 4"`
		}
		if len(e.violations) > 0 {
			stroke, widthPx, marker = colorViolation, 2.5, "arrow-bad"
		}
		p(`<path d="M%g,%g C%g,%g %g,%g %g,%g" fill="none" stroke="%s" stroke-width="%g"%s marker-end="url(#%s)"><title>%s</title></path>`+"\n",
			x1, y1, mid, y1, mid, y2, x2, y2, stroke, widthPx, dash, marker, esc(edgeTitle(e)))
	}
	for _, e := range edges {
		if len(e.violations) == 0 {
			drawEdge(e)
		}
	}
	for _, e := range edges {
		if len(e.violations) > 0 {
			drawEdge(e)
		}
	}
	// Labels of violating edges after every path, so no arrow crosses one.
	for _, e := range edges {
		from, to := leftAt[e.from], rightAt[e.to]
		if len(e.violations) == 0 || from == nil || to == nil {
			continue
		}
		label := "✗ " + truncate(e.violations[0].Rule, 34)
		if n := len(e.violations); n > 1 {
			label = fmt.Sprintf("✗ %d rules broken", n)
		}
		// Just above the curve's midpoint, so the red arrow stays visible
		// below its label.
		x := (lx + svgBoxW + rx) / 2
		y := (from.y+to.y)/2 + svgBoxH/2 - 15
		wpx := float64(utf8.RuneCountInString(label))*6.1 + 14
		p(`<g><rect x="%g" y="%g" width="%g" height="18" rx="9" fill="%s" stroke="%s"/><text x="%g" y="%g" font-size="11" text-anchor="middle" fill="%s">%s</text><title>%s</title></g>`+"\n",
			x-wpx/2, y-9, wpx, colorViolationBg, colorViolation, x, y+4, colorViolation, esc(label), esc(edgeTitle(e)))
	}

	drawNode := func(nd *svgNode, x float64) {
		fill, stroke, sw := "#ffffff", colorBorder, 1.0
		if nd.kind != KindClient {
			fill = "#f1f5f9"
		}
		dash := ""
		if nd.kind == KindUndeclared {
			stroke, dash = colorViolation, ` stroke-dasharray="4 3"`
		}
		if nd.bad {
			stroke, sw = colorViolation, 2
		}
		corner := 8
		if nd.kind != KindClient {
			corner = 23 // a pill: recipients that are not clients look different
		}
		title := nd.id
		if nd.sub != "" {
			title += " — " + nd.sub
		}
		if len(nd.tags) > 0 {
			title += " — tags: " + strings.Join(nd.tags, ", ")
		}
		p(`<g><title>%s</title><rect x="%g" y="%g" width="%d" height="%d" rx="%d" fill="%s" stroke="%s" stroke-width="%g"%s/>`,
			esc(title), x, nd.y, svgBoxW, svgBoxH, corner, fill, stroke, sw, dash)
		p(`<text x="%g" y="%g" font-size="13" font-weight="600" fill="#0f172a" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace">%s</text>`,
			x+12, nd.y+19, esc(truncate(nd.id, svgMaxChar)))
		if len(nd.tags) == 0 {
			p(`<text x="%g" y="%g" font-size="11" fill="#64748b">%s</text>`, x+12, nd.y+36, esc(truncate(nd.sub, 36)))
		}
		bx := x + 12
		for _, t := range nd.tags {
			c := colors[t]
			label := truncate(t, 16)
			bw := float64(utf8.RuneCountInString(label))*6.2 + 12
			if bx+bw > x+svgBoxW-6 {
				break // no room: the title lists every tag
			}
			p(`<rect x="%g" y="%g" width="%g" height="15" rx="7.5" fill="%s" stroke="%s" stroke-width="0.8"/><text x="%g" y="%g" font-size="10.5" text-anchor="middle" fill="%s">%s</text>`,
				bx, nd.y+26, bw, c.bg, c.fg, bx+bw/2, nd.y+37, c.fg, esc(label))
			bx += bw + 5
		}
		p("</g>\n")
	}
	for _, nd := range left {
		drawNode(nd, lx)
	}
	for _, nd := range right {
		drawNode(nd, rx)
	}
	p("</svg>\n")
}

// edgeTitle is an arrow's tooltip.
func edgeTitle(e edge) string {
	t := e.from + " → " + e.to
	if !e.live {
		t += " (configured; no grant types)"
	}
	for _, v := range e.violations {
		t += "\n✗ " + v.Rule + ": " + v.Message
	}
	return t
}

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// htmlCSS is the page's whole stylesheet, inline so the file stands alone.
const htmlCSS = `:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f1f5f9; color: #0f172a; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 40px; }
header { margin-bottom: 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 10px; }
section { background: #fff; border: 1px solid #e2e8f0; border-radius: 10px; padding: 16px 18px; margin: 14px 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.muted { color: #64748b; }
.facts { margin: 0 0 8px; color: #475569; }
.status { display: inline-block; margin: 0; padding: 6px 12px; border-radius: 8px; font-weight: 600; }
.status.pass { background: #dcfce7; color: #166534; }
.status.fail { background: #fee2e2; color: #991b1b; }
.status.none { background: #e2e8f0; color: #334155; }
.tags { display: block; margin-top: 3px; }
.tag { display: inline-block; font-size: 11px; line-height: 16px; padding: 0 7px; margin: 0 4px 2px 0; border: 1px solid; border-radius: 9px; font-weight: 500; white-space: nowrap; }
.kind { display: inline-block; font-size: 11px; color: #475569; background: #f1f5f9; border-radius: 4px; padding: 0 5px; margin-left: 6px; }
ul.rules { list-style: none; margin: 0; padding: 0; }
ul.rules > li { padding: 8px 10px; border-radius: 8px; margin-bottom: 6px; border-left: 4px solid; }
ul.rules > li.pass { border-color: #16a34a; background: #f0fdf4; }
ul.rules > li.fail { border-color: #dc2626; background: #fef2f2; }
ul.rules .mark { font-weight: 700; }
li.pass .mark, li.pass .result { color: #166534; }
li.fail .mark, li.fail .result { color: #991b1b; font-weight: 600; }
.result { float: right; font-size: 12.5px; }
ul.violations { margin: 6px 0 0; padding-left: 20px; color: #7f1d1d; }
ul.warnings { margin: 0; padding-left: 20px; }
ul.warnings li { margin-bottom: 4px; }
.check { font-size: 11px; font-weight: 600; color: #92400e; background: #fef3c7; border-radius: 4px; padding: 1px 6px; }
figure { margin: 0; overflow-x: auto; }
figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; }
table.matrix th, table.matrix td { border: 1px solid #e2e8f0; padding: 6px 10px; }
table.matrix thead th { background: #f8fafc; vertical-align: bottom; text-align: center; font-weight: 500; }
table.matrix tbody th { background: #f8fafc; text-align: left; font-weight: 500; white-space: nowrap; }
table.matrix th.corner { color: #64748b; font-size: 12px; text-align: left; }
table.matrix th.bad { background: #fee2e2; box-shadow: inset 0 0 0 2px #dc2626; }
table.matrix td { text-align: center; min-width: 44px; font-size: 15px; }
td.yes { color: #166534; background: #f0fdf4; }
td.self { color: #94a3b8; background: #f8fafc; }
td.configured { color: #64748b; font-size: 12px; }
td.violation { color: #fff; background: #dc2626; font-weight: 700; }
table.list { width: 100%; }
table.list th, table.list td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
table.list td:first-child { white-space: nowrap; }
table.list th { font-size: 12px; color: #475569; font-weight: 600; }
footer { color: #94a3b8; font-size: 12px; text-align: center; margin-top: 18px; }
`
