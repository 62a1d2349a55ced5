package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/store"
)

// `gatehouse users list`: the people of the store, as a table or JSON.

// personJSON is one person as `users list --json` prints it: never the
// password hash.
type personJSON struct {
	Subject    string          `json:"subject"`
	Source     string          `json:"source"`
	Username   string          `json:"username"`
	Claims     json.RawMessage `json:"claims,omitempty"`
	Groups     []string        `json:"groups"`
	Disabled   bool            `json:"disabled"`
	CreatedAt  time.Time       `json:"created_at"`
	LastSignIn *time.Time      `json:"last_sign_in,omitempty"`
}

func newUsersListCmd() *cobra.Command {
	var cfgPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list --config FILE [--json]",
		Short: "List the people of the store, local and from identity sources",
		Long: `List every person of the store: local users (source "local") and the people
identity sources vouched for at their last sign-in. Users of the
configuration file are not listed. --json prints a JSON array instead of a
table; password hashes are never printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Listing changes nothing, so it writes no audit event.
			env, err := openUsersEnv(cmd, cfgPath, "-")
			if err != nil {
				return err
			}
			defer env.close()
			ps, err := env.st.ListPeople(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writePeopleJSON(cmd.OutOrStdout(), ps)
			}
			return writePeopleTable(cmd.OutOrStdout(), ps)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "configuration file (YAML)")
	_ = cmd.MarkFlagRequired("config")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func writePeopleJSON(w io.Writer, ps []store.Person) error {
	out := make([]personJSON, 0, len(ps))
	for _, p := range ps {
		j := personJSON{Subject: p.Subject, Source: sourceName(p.Source), Username: p.Username,
			Claims: p.Claims, Groups: p.Groups, Disabled: p.Disabled, CreatedAt: p.CreatedAt}
		if j.Groups == nil {
			j.Groups = []string{}
		}
		if !json.Valid(j.Claims) {
			j.Claims = nil
		}
		if !p.LastSignIn.IsZero() {
			j.LastSignIn = &p.LastSignIn
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writePeopleTable(w io.Writer, ps []store.Person) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tSOURCE\tUSERNAME\tGROUPS\tDISABLED\tLAST SIGN-IN")
	for _, p := range ps {
		groups, last, disabled := "-", "never", "no"
		if len(p.Groups) > 0 {
			groups = strings.Join(p.Groups, ",")
		}
		if !p.LastSignIn.IsZero() {
			last = p.LastSignIn.UTC().Format(time.RFC3339)
		}
		if p.Disabled {
			disabled = "yes"
		}
		// printable keeps a name with spaces or odd characters on its line.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", printable(p.Subject), sourceName(p.Source),
			printable(p.Username), printable(groups), disabled, last)
	}
	return tw.Flush()
}

// printable quotes s when it has characters that would break the table.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return fmt.Sprintf("%q", s)
	}
	return s
}

func sourceName(source string) string {
	if source == "" {
		return "local"
	}
	return source
}
