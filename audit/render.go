package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
)

// ErrUnknownFormat is wrapped by the error Write returns for a format it
// does not know, so a CLI can tell a usage mistake from a write failure.
var ErrUnknownFormat = errors.New("unknown audit format")

// formats maps each format name Write accepts to its renderer. It is the
// one place a new format is added;
// formatNames keeps the order help texts and errors list them in.
var (
	formats = map[string]func(*Report, io.Writer) error{
		"text":     (*Report).WriteText,
		"markdown": (*Report).WriteMarkdown,
		"json":     (*Report).WriteJSON,
		"dot":      (*Report).WriteDOT,
		"html":     (*Report).WriteHTML,
	}
	formatNames = []string{"text", "markdown", "json", "dot", "html"}
)

// Formats returns the format names Write accepts, for flag help and
// completion. The caller may modify the returned slice.
func Formats() []string { return append([]string(nil), formatNames...) }

// Write renders r to w in format: "text", "markdown", "json", "dot" or
// "html". Names are
// matched exactly. An unknown format is an error wrapping ErrUnknownFormat
// that lists the allowed names; nothing is written in that case.
func Write(w io.Writer, r *Report, format string) error {
	render, ok := formats[format]
	if !ok {
		return fmt.Errorf("%w %q (allowed: %s)", ErrUnknownFormat, format, strings.Join(formatNames, ", "))
	}
	return render(r, w)
}

// Marks used by the table renderers. A row for a client without grant
// types gets the configured mark in parentheses: the configuration names
// the recipient, but no token can be obtained today.
const (
	markYes        = "✓"
	markNo         = "-"
	markConfigured = "(✓)"
	// markExchange: reached by token exchange of a token issued for the
	// client (exchange_to), not named by its own tokens.
	markExchange = "⇒"
)

// WriteJSON writes r as the indented JSON document described in the
// package documentation, followed by a newline.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Audience values are often URLs; "&" and "<" are easier to read
	// unescaped, and the output is never embedded in HTML.
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteText writes r as aligned plain-text tables for a terminal: the
// clients, the client × audience matrix, and one "api  ← clients" line per
// API. Values that a terminal would not show faithfully (empty, control or
// other non-printable characters) are printed Go-quoted.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	line := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }

	if len(r.Clients) == 0 {
		fmt.Fprintln(ew, "No clients configured.")
		return ew.err
	}

	fmt.Fprintln(tw, "Clients")
	line("CLIENT", "NAME", "TYPE", "GRANT TYPES", "SCOPES")
	for _, c := range r.Clients {
		line(textValue(c.ID), textOr(c.Name), c.Type, grantsText(c), listText(c.Scopes, " "))
	}
	// Each section is flushed on its own so that its columns are aligned
	// independently of the next table's.
	tw.Flush()

	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "Access matrix ("+markYes+" = the client's default access token names the recipient in aud)")
	header := []string{`CLIENT \ AUD`}
	for _, a := range r.Audiences {
		header = append(header, textValue(a.ID))
	}
	line(header...)
	configuredOnly, exchanged := false, false
	for i, c := range r.Clients {
		cells := []string{textValue(c.ID)}
		for j, named := range r.names(i) {
			switch {
			case !named && r.exchanges(c.ID, r.Audiences[j].ID):
				cells = append(cells, markExchange)
				exchanged = true
			case !named:
				cells = append(cells, markNo)
			case c.CanObtainTokens:
				cells = append(cells, markYes)
			default:
				cells = append(cells, markConfigured)
				configuredOnly = true
			}
		}
		line(cells...)
	}
	tw.Flush()
	if configuredOnly {
		fmt.Fprintln(ew, markConfigured+" configured, but the client has no grant types and cannot obtain tokens")
	}
	if exchanged {
		fmt.Fprintln(ew, markExchange+" reached by token exchange of a token issued for the client (exchange_to)")
	}

	if len(r.Exchanges) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "Reached by token exchange (exchange_to: a token issued for the client, exchanged for one naming the API)")
		for _, x := range r.Exchanges {
			line(textValue(x.Client), "→ "+textValue(x.Audience))
		}
		tw.Flush()
	}

	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "Who can reach each API")
	if len(r.ReachableBy) == 0 {
		fmt.Fprintln(tw, "No client's audience names another client or an external audience.")
	}
	for _, a := range r.ReachableBy {
		who := "nobody"
		if len(a.Clients) > 0 {
			who = listText(a.Clients, ", ")
		}
		cells := []string{textValue(a.API), "← " + who}
		var notes []string
		// Only non-clients get a kind: for them the kind is the news.
		if a.Kind != KindClient {
			note := string(a.Kind)
			if more := r.apiNote(a); more != "" {
				note += ": " + more
			}
			notes = append(notes, note)
		}
		for _, g := range a.People {
			notes = append(notes, "for a person only in group "+listText(g.Groups, " or ")+" (rule "+strconv.Quote(g.Rule)+")")
		}
		if len(a.ByExchange) > 0 {
			notes = append(notes, markExchange+" by token exchange through "+listText(a.ByExchange, ", "))
		}
		if len(notes) > 0 {
			cells = append(cells, strings.Join(notes, "; "))
		}
		line(cells...)
	}
	tw.Flush()

	fmt.Fprintln(ew)
	fmt.Fprintln(ew, "Policy")
	if len(r.Rules) == 0 {
		fmt.Fprintln(ew, "No policy rules (add a policy: section; see examples/policy.yaml).")
	}
	for _, rule := range r.Rules {
		status := "PASS"
		if rule.Violations > 0 {
			status = "FAIL"
		}
		fmt.Fprintf(ew, "%s  %s: %s\n", status, textValue(rule.Name), textValue(rule.Summary))
		for _, v := range r.Violations {
			if v.Rule == rule.Name {
				fmt.Fprintf(ew, "      ✗ %s\n", textValue(pairText(v)+v.Message))
			}
		}
	}

	fmt.Fprintln(ew)
	fmt.Fprintln(ew, "Warnings")
	if len(r.Warnings) == 0 {
		fmt.Fprintln(ew, "None.")
	}
	for _, w := range r.Warnings {
		line(w.Check, textValue(w.Subject), textValue(w.Message))
	}
	tw.Flush()
	return ew.err
}

// pairText is the "client → audience: " prefix of a violation line, or
// what there is of it.
func pairText(v Violation) string {
	switch {
	case v.Client != "" && v.Audience != "":
		return v.Client + " → " + v.Audience + ": "
	case v.Client != "":
		return v.Client + ": "
	case v.Audience != "":
		return v.Audience + ": "
	}
	return ""
}

// WriteMarkdown writes r as GitHub-flavoured Markdown tables, for a pull
// request comment or a review document. Identifiers are code spans so that
// they are copied exactly; pipes and Markdown syntax in values are escaped.
func (r *Report) WriteMarkdown(w io.Writer) error {
	ew := &errWriter{w: w}
	row := func(cells ...string) { fmt.Fprintln(ew, "| "+strings.Join(cells, " | ")+" |") }
	rule := func(align string, n int) {
		cells := make([]string, n)
		for i := range cells {
			cells[i] = "---"
			if i > 0 {
				cells[i] = align
			}
		}
		row(cells...)
	}

	if len(r.Clients) == 0 {
		fmt.Fprintln(ew, "No clients configured.")
		return ew.err
	}

	fmt.Fprintln(ew, "## Clients")
	fmt.Fprintln(ew)
	row("Client", "Name", "Type", "Grant types", "Scopes")
	rule("---", 5)
	for _, c := range r.Clients {
		grants := "none (cannot obtain tokens)"
		if len(c.GrantTypes) > 0 {
			grants = codeList(c.GrantTypes)
		}
		scopes := ""
		if len(c.Scopes) > 0 {
			scopes = codeList(c.Scopes)
		}
		row(code(c.ID), mdText(c.Name), c.Type, grants, scopes)
	}

	fmt.Fprintln(ew)
	fmt.Fprintln(ew, "## Access matrix")
	fmt.Fprintln(ew)
	fmt.Fprintln(ew, markYes+" = the client's default access token names the recipient in `aud`.")
	header := []string{"Client"}
	for _, a := range r.Audiences {
		h := code(a.ID)
		if a.Kind != KindClient {
			h += " (" + string(a.Kind) + ")"
		}
		header = append(header, h)
	}
	configuredOnly, exchanged := false, false
	fmt.Fprintln(ew)
	row(header...)
	rule(":-:", len(header))
	for i, c := range r.Clients {
		cells := []string{code(c.ID)}
		for j, named := range r.names(i) {
			switch {
			case !named && r.exchanges(c.ID, r.Audiences[j].ID):
				cells = append(cells, markExchange)
				exchanged = true
			case !named:
				// Blank rather than a mark: in a rendered table the
				// checks stand out better against empty cells.
				cells = append(cells, "")
			case c.CanObtainTokens:
				cells = append(cells, markYes)
			default:
				cells = append(cells, markConfigured)
				configuredOnly = true
			}
		}
		row(cells...)
	}
	if configuredOnly {
		fmt.Fprintln(ew)
		fmt.Fprintln(ew, markConfigured+" configured, but the client has no grant types and cannot obtain tokens.")
	}
	if exchanged {
		fmt.Fprintln(ew)
		fmt.Fprintln(ew, markExchange+" reached by token exchange of a token issued for the client (`exchange_to`).")
	}

	fmt.Fprintln(ew)
	fmt.Fprintln(ew, "## Who can reach each API")
	fmt.Fprintln(ew)
	if len(r.ReachableBy) == 0 {
		fmt.Fprintln(ew, "No client's audience names another client or an external audience.")
	} else {
		row("API", "Kind", "Reachable by", "Notes")
		rule("---", 4)
		for _, a := range r.ReachableBy {
			who := "nobody"
			if len(a.Clients) > 0 {
				who = codeList(a.Clients)
			}
			note := mdText(r.apiNote(a))
			if len(a.ByExchange) > 0 {
				note = strings.TrimPrefix(note+"; "+markExchange+" by token exchange through "+codeList(a.ByExchange), "; ")
			}
			row(code(a.API), string(a.Kind), who, note)
		}
	}

	fmt.Fprintln(ew)
	fmt.Fprintln(ew, "## Policy")
	fmt.Fprintln(ew)
	if len(r.Rules) == 0 {
		fmt.Fprintln(ew, "No policy rules (add a `policy:` section; see `examples/policy.yaml`).")
	} else {
		row("Rule", "Kind", "Says", "Result")
		rule("---", 4)
		for _, ru := range r.Rules {
			result := "✅ pass"
			if ru.Violations > 0 {
				result = "❌ " + plural(ru.Violations, "violation", "violations")
			}
			row(mdText(ru.Name), ru.Kind, mdText(ru.Summary), result)
		}
		if len(r.Violations) > 0 {
			fmt.Fprintln(ew)
			fmt.Fprintln(ew, "### Violations")
			fmt.Fprintln(ew)
			for _, v := range r.Violations {
				pair := ""
				switch {
				case v.Client != "" && v.Audience != "":
					pair = code(v.Client) + " → " + code(v.Audience) + ": "
				case v.Client != "":
					pair = code(v.Client) + ": "
				case v.Audience != "":
					pair = code(v.Audience) + ": "
				}
				fmt.Fprintf(ew, "- **%s**: %s%s\n", mdText(v.Rule), pair, mdText(v.Message))
			}
		}
	}

	fmt.Fprintln(ew)
	fmt.Fprintln(ew, "## Warnings")
	fmt.Fprintln(ew)
	if len(r.Warnings) == 0 {
		fmt.Fprintln(ew, "None.")
		return ew.err
	}
	row("Check", "Subject", "Message")
	rule("---", 3)
	for _, w := range r.Warnings {
		row(code(w.Check), code(w.Subject), mdText(w.Message))
	}
	return ew.err
}

// apiNote is what an API's line says beyond its ID and kind: an external
// audience's description, or why an undeclared value needs attention.
func (r *Report) apiNote(a APIReach) string {
	switch a.Kind {
	case KindExternal:
		for _, col := range r.Audiences {
			if col.ID == a.API {
				return col.Description
			}
		}
	case KindUndeclared:
		return "neither a client nor a declared external audience"
	}
	return ""
}

// grantsText is the text renderer's grant-type cell; a pure API says so
// instead of showing an empty cell an auditor might misread.
func grantsText(c Client) string {
	if len(c.GrantTypes) == 0 {
		return "none (API only)"
	}
	return listText(c.GrantTypes, " ")
}

// listText joins values for the text renderer, "-" when there are none.
func listText(values []string, sep string) string {
	if len(values) == 0 {
		return "-"
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = textValue(v)
	}
	return strings.Join(out, sep)
}

// textOr is textValue, with "-" for an empty optional value.
func textOr(s string) string {
	if s == "" {
		return "-"
	}
	return textValue(s)
}

// textValue makes s safe and unambiguous on a terminal. An empty value, or
// one holding a tab, newline, escape sequence or other non-printable rune,
// is Go-quoted: the configuration is input, and an audit must neither
// break its own alignment nor let a value rewrite the screen. A value that
// starts with a quote is quoted too, so quoted output is never ambiguous.
func textValue(s string) string {
	if s == "" || s[0] == '"' || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// code renders an identifier as a Markdown code span, so it is shown and
// copied exactly. GitHub splits table cells on "|" before parsing code
// spans, so pipes are escaped even inside the span.
func code(s string) string {
	s = strings.ReplaceAll(textValue(s), "|", `\|`)
	if strings.Contains(s, "`") {
		// A double-backtick span with padding holds single backticks.
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

// codeList renders values as comma-separated code spans.
func codeList(values []string) string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = code(v)
	}
	return strings.Join(out, ", ")
}

// mdText escapes free text (names, descriptions) so that Markdown syntax in
// a value is shown literally and cannot break out of its table cell.
func mdText(s string) string {
	if s == "" {
		return ""
	}
	s = textValue(s)
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|#!~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// errWriter remembers the first write error so the renderers can write
// line by line and report failure once, instead of checking every call.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// exchanges reports whether client may exchange a token issued for it for
// one naming audience.
func (r *Report) exchanges(client, audience string) bool {
	for _, x := range r.Exchanges {
		if x.Client == client && x.Audience == audience {
			return true
		}
	}
	return false
}
