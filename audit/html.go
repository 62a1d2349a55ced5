package audit

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// The page is an html/template so that every configuration value is
// escaped for the context it lands in (text, attribute, CSS) by the
// template engine rather than by hand at each call site.
//
//go:embed templates/*.html
var templateFS embed.FS

// pageTemplate is parsed once; the templates are part of the binary, so a
// parse error is a programming error that any test run reports.
var pageTemplate = template.Must(template.New("page.html").
	Funcs(template.FuncMap{"plural": plural}).
	ParseFS(templateFS, "templates/*.html"))

// WriteHTML writes r as one self-contained HTML page: no external assets
// and no script, so it can be attached to a CI run, mailed to an auditor
// or opened from disk. It shows the policy result first, then the client →
// audience graph as inline SVG (laid out here, so Graphviz is not needed),
// the matrix with tags as coloured badges and violating cells in red, the
// lint warnings, who can reach each API, and the clients.
func (r *Report) WriteHTML(w io.Writer) error {
	return pageTemplate.Execute(w, r.htmlView())
}

// htmlView is what templates/page.html shows. Every string in it has been
// through printable: html/template escapes markup but would keep control
// characters, which a configuration value must not carry into the page.
// The template decides nothing beyond which markup to use.
type htmlView struct {
	Clients    []htmlClient // also the "Clients" section's rows
	APIs       int          // how many APIs the facts line counts
	Violations int
	Warnings   []Warning
	Rules      []htmlRule
	Graph      svgView
	Columns    []htmlColumn
	Rows       []htmlRow
	Reach      []htmlReach
}

// htmlRule is one policy rule with the violations listed under it.
type htmlRule struct {
	Name, Kind, Summary, Description string
	// Failed is the rule's own count (RuleResult.Violations), which sets
	// its colour and result; Violations are the entries listed.
	Failed     int
	Violations []htmlViolation
}

type htmlViolation struct{ Subject, Message string }

// htmlTag is one badge: the tag and its palette colours.
type htmlTag struct{ Name, BG, FG string }

// htmlColumn is a matrix column header: a recipient.
type htmlColumn struct {
	ID   string
	Kind string // empty for a client, which needs no label
	Bad  bool   // an entry-level violation, and not a client (its row shows it)
	Tags []htmlTag
}

// htmlRow is a matrix row: a client and one cell per column.
type htmlRow struct {
	ID    string
	Bad   bool
	Tags  []htmlTag
	Cells []matrixCell
}

// matrixCell is one matrix cell. Kind is "violation" (Title lists the
// broken rules), "self", "yes", "configured" or "" (not named).
type matrixCell struct{ Kind, Title string }

// htmlReach is one API of "Who can reach each API"; no Clients is nobody.
type htmlReach struct {
	API, Kind, Note string
	Clients         []string
}

// htmlClient is one row of the clients table; Scopes is space-separated,
// and no Grants means an API that only receives tokens.
type htmlClient struct {
	ID, Name, Type, Scopes string
	Grants                 []string
	Tags                   []htmlTag
}

// htmlView computes the page's content from r.
func (r *Report) htmlView() htmlView {
	colors, _ := r.tagColors()
	tags := func(ts []string) []htmlTag {
		var out []htmlTag
		for _, t := range ts {
			c := colors[t]
			out = append(out, htmlTag{Name: printable(t), BG: c.bg, FG: c.fg})
		}
		return out
	}
	v := htmlView{Violations: len(r.Violations)}
	for _, a := range r.ReachableBy {
		if len(a.Clients) > 0 || a.Kind != KindUndeclared {
			v.APIs++
		}
	}
	for _, w := range r.Warnings {
		v.Warnings = append(v.Warnings, Warning{Check: printable(w.Check), Subject: printable(w.Subject), Message: printable(w.Message)})
	}
	for _, c := range r.Clients {
		v.Clients = append(v.Clients, htmlClient{
			ID: printable(c.ID), Name: printable(c.Name), Type: printable(c.Type),
			Grants: printAll(c.GrantTypes), Scopes: printable(strings.Join(c.Scopes, " ")),
			Tags: tags(c.Tags),
		})
	}
	if len(r.Clients) == 0 {
		return v // the page says so and shows nothing else
	}

	for _, ru := range r.Rules {
		hr := htmlRule{Name: printable(ru.Name), Kind: printable(ru.Kind), Summary: printable(ru.Summary),
			Description: printable(ru.Description), Failed: ru.Violations}
		for _, vi := range r.Violations {
			if vi.Rule == ru.Name {
				hr.Violations = append(hr.Violations, htmlViolation{
					Subject: printable(strings.TrimSuffix(pairText(vi), ": ")), Message: printable(vi.Message)})
			}
		}
		v.Rules = append(v.Rules, hr)
	}

	v.Graph = r.svgView(colors)

	onPair := map[[2]string][]Violation{}
	for _, vi := range r.Violations {
		if vi.Client != "" && vi.Audience != "" {
			k := [2]string{vi.Client, vi.Audience}
			onPair[k] = append(onPair[k], vi)
		}
	}
	onEntry := r.entryViolations()
	for _, a := range r.Audiences {
		col := htmlColumn{ID: printable(a.ID), Tags: tags(a.Tags)}
		if a.Kind != KindClient {
			col.Kind = printable(string(a.Kind))
			col.Bad = len(onEntry[a.ID]) > 0
		}
		v.Columns = append(v.Columns, col)
	}
	for i, c := range r.Clients {
		row := htmlRow{ID: printable(c.ID), Bad: len(onEntry[c.ID]) > 0, Tags: tags(c.Tags)}
		for j, named := range r.names(i) {
			a := r.Audiences[j]
			var cell matrixCell
			switch vs := onPair[[2]string{c.ID, a.ID}]; {
			case len(vs) > 0:
				msgs := make([]string, len(vs))
				for k, vi := range vs {
					msgs[k] = vi.Rule + ": " + vi.Message
				}
				cell = matrixCell{Kind: "violation", Title: printable(strings.Join(msgs, "\n"))}
			case !named:
			case a.ID == c.ID && c.CanObtainTokens:
				cell.Kind = "self"
			case c.CanObtainTokens:
				cell.Kind = "yes"
			default:
				cell.Kind = "configured"
			}
			row.Cells = append(row.Cells, cell)
		}
		v.Rows = append(v.Rows, row)
	}

	for _, a := range r.ReachableBy {
		v.Reach = append(v.Reach, htmlReach{API: printable(a.API), Kind: printable(string(a.Kind)),
			Note: printable(r.apiNote(a)), Clients: printAll(a.Clients)})
	}
	return v
}

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

// svgView is the laid-out graph that templates/graph.html draws: every
// coordinate and colour is decided here, every string is printable.
type svgView struct {
	Width, Height, LeftX, RightX float64
	HeadY                        int // baseline of the column titles
	EdgeColor, BadColor          string
	Edges                        []svgEdge  // plain first, violations last, so red is on top
	Labels                       []svgLabel // after every edge, so no arrow crosses one
	Nodes                        []svgBox
}

// svgEdge is one arrow, a cubic curve from (X1,Y1) to (X2,Y2) whose
// control points share the x coordinate Mid.
type svgEdge struct {
	X1, Y1, Mid, X2, Y2 float64
	Stroke              string
	Width               float64
	Dashed              bool   // configured, but the client has no grant types
	Marker              string // id of the arrowhead in <defs>
	Title               string
}

// svgLabel names the rule a red arrow breaks, on a pill above it.
type svgLabel struct {
	X, Y, W, TextX, TextY float64
	Fill, Stroke          string
	Text, Title           string
}

// svgBox is one node: a box with the ID and either its second line (Sub)
// or its tag badges.
type svgBox struct {
	X, Y, StrokeWidth float64
	W, H, Corner      int
	Fill, Stroke      string
	Dashed            bool
	Title, Label, Sub string
	ShowSub           bool
	TextX, IDY, SubY  float64
	Badges            []svgBadge
}

// svgBadge is one tag drawn inside a node.
type svgBadge struct {
	X, Y, W, TextX, TextY float64
	BG, FG, Label         string
}

// svgNode is one box of the graph while it is laid out.
type svgNode struct {
	id     string
	sub    string // second line when there are no tags: name or kind
	tags   []string
	kind   Kind
	bad    bool // an entry-level violation (require rule)
	y      float64
	weight float64 // barycentre of its callers, for ordering
}

// svgView lays out the client → audience graph as a two-layer drawing:
// token holders on the left, recipients on the right. A client that both
// calls and is called appears in both columns, which keeps every arrow
// pointing one way and avoids the crossings a general layout would need
// Graphviz to untangle. The right column is ordered by the average
// position of its callers (the barycentre heuristic), which removes most
// crossings in practice.
func (r *Report) svgView(colors map[string]tagColor) svgView {
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

	g := svgView{Width: width, Height: height, LeftX: lx, RightX: rx, HeadY: svgPad + 12,
		EdgeColor: colorEdge, BadColor: colorViolation}

	addEdge := func(e edge) {
		from, to := leftAt[e.from], rightAt[e.to]
		if from == nil || to == nil {
			return
		}
		x1, y1 := lx+svgBoxW, from.y+svgBoxH/2
		x2, y2 := rx-2, to.y+svgBoxH/2
		se := svgEdge{X1: x1, Y1: y1, Mid: (x1 + x2) / 2, X2: x2, Y2: y2,
			Stroke: colorEdge, Width: 1.5, Marker: "arrow", Dashed: !e.live, Title: printable(edgeTitle(e))}
		if e.exchange {
			se.Stroke, se.Dashed = colorExchange, true
		}
		if len(e.violations) > 0 {
			se.Stroke, se.Width, se.Marker = colorViolation, 2.5, "arrow-bad"
		}
		g.Edges = append(g.Edges, se)
	}
	for _, e := range edges {
		if len(e.violations) == 0 {
			addEdge(e)
		}
	}
	for _, e := range edges {
		if len(e.violations) > 0 {
			addEdge(e)
		}
	}
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
		g.Labels = append(g.Labels, svgLabel{X: x - wpx/2, Y: y - 9, W: wpx, TextX: x, TextY: y + 4,
			Fill: colorViolationBg, Stroke: colorViolation, Text: printable(label), Title: printable(edgeTitle(e))})
	}

	addNode := func(nd *svgNode, x float64) {
		b := svgBox{X: x, Y: nd.y, W: svgBoxW, H: svgBoxH, Corner: 8, StrokeWidth: 1,
			Fill: "#ffffff", Stroke: colorBorder, TextX: x + 12, IDY: nd.y + 19, SubY: nd.y + 36,
			Label: printable(truncate(nd.id, svgMaxChar)), Sub: printable(truncate(nd.sub, 36)), ShowSub: len(nd.tags) == 0}
		if nd.kind != KindClient {
			b.Fill = "#f1f5f9"
			b.Corner = 23 // a pill: recipients that are not clients look different
		}
		if nd.kind == KindUndeclared {
			b.Stroke, b.Dashed = colorViolation, true
		}
		if nd.bad {
			b.Stroke, b.StrokeWidth = colorViolation, 2
		}
		title := nd.id
		if nd.sub != "" {
			title += " — " + nd.sub
		}
		if len(nd.tags) > 0 {
			title += " — tags: " + strings.Join(nd.tags, ", ")
		}
		b.Title = printable(title)
		bx := x + 12
		for _, t := range nd.tags {
			c := colors[t]
			label := truncate(t, 16)
			bw := float64(utf8.RuneCountInString(label))*6.2 + 12
			if bx+bw > x+svgBoxW-6 {
				break // no room: the title lists every tag
			}
			b.Badges = append(b.Badges, svgBadge{X: bx, Y: nd.y + 26, W: bw, TextX: bx + bw/2, TextY: nd.y + 37,
				BG: c.bg, FG: c.fg, Label: printable(label)})
			bx += bw + 5
		}
		g.Nodes = append(g.Nodes, b)
	}
	for _, nd := range left {
		addNode(nd, lx)
	}
	for _, nd := range right {
		addNode(nd, rx)
	}
	return g
}

// printAll is printable over a list.
func printAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = printable(s)
	}
	return out
}

// edgeTitle is an arrow's tooltip.
func edgeTitle(e edge) string {
	t := e.from + " → " + e.to
	if e.exchange {
		t = e.from + " ⇒ " + e.to + " by token exchange (RFC 8693) of a token issued for " + e.from
	}
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
