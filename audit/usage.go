package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// UsageReport sets what each client is granted (its default audience)
// against what it was issued (the store's per (client, audience) counts):
// the audiences granted but not requested within the window are
// candidates to remove for least privilege.
type UsageReport struct {
	// Days is the window; Since is now minus Days.
	Days  int       `json:"days"`
	Since time.Time `json:"since"`
	// Pairs are every client that can obtain tokens × every value of its
	// default audience, in configuration order.
	Pairs []UsagePair `json:"pairs"`
	// Candidates are the Pairs with Unused set: configured audience
	// entries (never the client itself) not requested since Since.
	Candidates []UsagePair `json:"candidates"`
	// Stale are counted pairs the configuration no longer grants.
	Stale []UsagePair `json:"stale"`
}

// UsagePair is one (client, audience) with its counts.
type UsagePair struct {
	Client   string `json:"client"`
	Audience string `json:"audience"`
	// Count is every access token naming Audience issued to Client since
	// counting began (all time, all instances).
	Count int64 `json:"count"`
	// LastIssued is zero when never issued.
	LastIssued time.Time `json:"last_issued,omitzero"`
	// Self marks the client's own id, which every token of it may carry
	// and which cannot be removed.
	Self bool `json:"self"`
	// Unused is true for a configured audience entry not requested since
	// the report's Since.
	Unused bool `json:"unused"`
}

// Usage builds the report from cfg and the store's rows at now.
func Usage(cfg *config.Config, rows []store.UsageRow, now time.Time, days int) *UsageReport {
	since := now.Add(-time.Duration(days) * 24 * time.Hour).UTC()
	rep := &UsageReport{Days: days, Since: since, Pairs: []UsagePair{}, Candidates: []UsagePair{}, Stale: []UsagePair{}}
	type key struct{ client, aud string }
	counted := make(map[key]store.UsageRow, len(rows))
	for _, r := range rows {
		counted[key{r.ClientID, r.Audience}] = r
	}
	granted := map[key]bool{}
	model := cfg.PolicyModel()
	for _, c := range cfg.Clients {
		if len(c.GrantTypes) == 0 {
			continue // obtains no tokens: nothing to count
		}
		for _, a := range model.DefaultAudience(c.ID) {
			k := key{c.ID, a}
			granted[k] = true
			r := counted[k]
			p := UsagePair{Client: c.ID, Audience: a, Count: r.Count, LastIssued: r.LastIssued, Self: a == c.ID}
			p.Unused = !p.Self && r.LastIssued.Before(since)
			rep.Pairs = append(rep.Pairs, p)
			if p.Unused {
				rep.Candidates = append(rep.Candidates, p)
			}
		}
	}
	for _, r := range rows {
		if !granted[key{r.ClientID, r.Audience}] {
			rep.Stale = append(rep.Stale, UsagePair{Client: r.ClientID, Audience: r.Audience, Count: r.Count, LastIssued: r.LastIssued})
		}
	}
	return rep
}

// WriteUsage renders the report as text or json.
func WriteUsage(w io.Writer, rep *UsageReport, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "text":
	default:
		return fmt.Errorf("--usage writes text or json, not %s", strconv.Quote(format))
	}
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "Access tokens issued per client and audience (counts since counting began; window: last %d days, since %s)\n\n",
		rep.Days, rep.Since.Format("2006-01-02 15:04 UTC"))
	cw, aw := len("CLIENT"), len("AUDIENCE")
	for _, p := range rep.Pairs {
		cw = max(cw, len(textValue(p.Client)))
		aw = max(aw, len(textValue(p.Audience)))
	}
	row := func(c, a, n, last, note string) {
		line := fmt.Sprintf("%-*s  %-*s  %8s  %-20s  %s", cw, c, aw, a, n, last, note)
		fmt.Fprintln(ew, strings.TrimRight(line, " "))
	}
	row("CLIENT", "AUDIENCE", "TOKENS", "LAST ISSUED", "")
	for _, p := range rep.Pairs {
		note := ""
		switch {
		case p.Self:
			note = "(itself)"
		case p.Unused:
			note = "UNUSED: candidate to remove"
		}
		row(textValue(p.Client), textValue(p.Audience), strconv.FormatInt(p.Count, 10), lastText(p.LastIssued), note)
	}
	fmt.Fprintf(ew, "\nCandidates to remove (granted, not requested in the last %d days): %d\n", rep.Days, len(rep.Candidates))
	for _, p := range rep.Candidates {
		when := "never requested"
		if !p.LastIssued.IsZero() {
			when = "last requested " + lastText(p.LastIssued)
		}
		fmt.Fprintf(ew, "  %s → %s: %s\n", textValue(p.Client), textValue(p.Audience), when)
	}
	if len(rep.Stale) > 0 {
		fmt.Fprintf(ew, "\nCounted but no longer granted by the configuration:\n")
		for _, p := range rep.Stale {
			fmt.Fprintf(ew, "  %s → %s: %d tokens, last %s\n", textValue(p.Client), textValue(p.Audience), p.Count, lastText(p.LastIssued))
		}
	}
	return ew.err
}

func lastText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
