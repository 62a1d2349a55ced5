package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/store"
)

// auditQuery holds the flags of the audit's question modes.
type auditQuery struct {
	explain   string
	grant     string
	resources []string
	audience  string
	scopes    []string
	user      string
	groups    []string
	whoCan    string
	api       string
	usage     bool
	days      int
}

func newAuditCmd() *cobra.Command {
	var cfgPath, format string
	var strict bool
	var q auditQuery
	cmd := &cobra.Command{
		Use: "audit --config FILE [--format " + strings.Join(audit.Formats(), "|") + "] [--strict]\n" +
			"  gatehouse audit --config FILE --explain CLIENT [--resource R]... [--audience A] [--scope S]... [--user U | --groups G,...] [--format text|json]\n" +
			"  gatehouse audit --config FILE --who-can 'METHOD /path' --api API [--format text|json]\n" +
			"  gatehouse audit --config FILE --usage [--days N] [--format text|json]",
		Short: "Print which client can reach which API and check the policy rules",
		Long: `Read the configuration and print the client × audience matrix: for every client,
the audience its access tokens carry by default (the client itself plus its
configured audience), and for every API the clients that can obtain a token
naming it. Nothing is contacted; only the file is read.

The configuration's policy: rules are checked against that matrix, and lint
warnings point at suspicious but legal settings. The exit status is made for
CI over a configuration repository:

  0  every rule passes (warnings are printed but do not fail the run)
  1  a policy rule is violated, or --strict and there are warnings
  2  the configuration cannot be read or is invalid

--format dot writes a Graphviz graph; --format html one self-contained page
with the graph, the matrix, the violations and the warnings.

Questions, answered instead of the report:

  --explain CLIENT   the exact aud, azp and scope a token request of CLIENT
                     with these --resource, --audience and --scope parameters
                     gets, or the exact OAuth error, and why. It runs the
                     endpoint's own decision. --grant client_credentials (a
                     token request) or authorization_code (an authorization
                     request: what the access token from its code carries);
                     default: client_credentials when CLIENT may use it, else
                     authorization_code. Exit 0 granted, 1 refused, 2 no such
                     client. --user NAME or --groups G1,G2 explain it for a
                     person (an authorization request): only_groups rules
                     then keep or drop audiences by the person's groups, as
                     at sign-in, the code's redemption and each refresh.
  --who-can 'GET /orders/{id}' --api API
                     the route of API the request matches (routes: on the
                     client, matched like gatehouse proxy does) and the
                     clients whose default audience names API and whose
                     allowed scopes cover the route's scopes.
  --usage [--days N] per client and audience, how many access tokens were
                     issued and when last (from the store named by storage:,
                     which gatehouse serve fills every minute), and the
                     audiences granted but not requested in the last N days
                     (default 30): candidates to remove.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			if done, err := q.run(cmd, cfg, format); done {
				return err
			}
			r := audit.Build(cfg)
			if err := audit.Write(cmd.OutOrStdout(), r, format); err != nil {
				return err
			}
			// The report already lists every finding (in any format); one
			// line on stderr says why a CI step failed even when stdout is
			// redirected to an artifact.
			failed := len(r.Violations) > 0 || (strict && len(r.Warnings) > 0)
			if failed {
				fmt.Fprintf(cmd.ErrOrStderr(), "gatehouse audit: %s: %s, %s\n", cfgPath,
					count(len(r.Violations), "policy violation"), count(len(r.Warnings), "warning"))
				for _, v := range r.Violations {
					fmt.Fprintln(cmd.ErrOrStderr(), "  ✗", v)
				}
				return exitError(1)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: "+strings.Join(audit.Formats(), ", "))
	cmd.Flags().BoolVar(&strict, "strict", false, "exit 1 on lint warnings too, not only on policy violations")
	cmd.Flags().StringVar(&q.explain, "explain", "", "explain the token a client_credentials request of this client gets")
	cmd.Flags().StringVar(&q.grant, "grant", "", "with --explain: client_credentials, authorization_code or token_exchange (default: what the client may use)")
	cmd.Flags().StringArrayVar(&q.resources, "resource", nil, "with --explain: an RFC 8707 resource parameter (repeat for several)")
	cmd.Flags().StringVar(&q.audience, "audience", "", "with --explain: the audience parameter (space-separated targets)")
	cmd.Flags().StringArrayVar(&q.scopes, "scope", nil, "with --explain: a requested scope (repeat for several)")
	cmd.Flags().StringVar(&q.user, "user", "", "with --explain: the person the token is for (their groups decide only_groups rules); a YAML user, or a subject in the store")
	cmd.Flags().StringSliceVar(&q.groups, "groups", nil, "with --explain: the groups of the person the token is for (comma-separated)")
	cmd.Flags().StringVar(&q.whoCan, "who-can", "", "list the clients that can call 'METHOD /path' on --api")
	cmd.Flags().StringVar(&q.api, "api", "", "with --who-can: the API's client id")
	cmd.Flags().BoolVar(&q.usage, "usage", false, "list issuance counts and audiences granted but not requested in --days")
	cmd.Flags().IntVar(&q.days, "days", 30, "with --usage: the window in days")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// count is "1 thing" or "n things".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// run answers the question the flags ask, if any; done is false when
// they ask none and the full report is wanted.
func (q *auditQuery) run(cmd *cobra.Command, cfg *config.Config, format string) (done bool, err error) {
	fl := cmd.Flags()
	modes := 0
	for _, on := range []bool{q.explain != "", q.whoCan != "", q.usage} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		return true, errors.New("--explain, --who-can and --usage are separate questions: ask one at a time")
	}
	explainOnly := fl.Changed("resource") || fl.Changed("audience") || fl.Changed("scope") || fl.Changed("grant") ||
		fl.Changed("user") || fl.Changed("groups")
	switch {
	case explainOnly && q.explain == "":
		return true, errors.New("--grant, --resource, --audience, --scope, --user and --groups go with --explain CLIENT")
	case fl.Changed("user") && fl.Changed("groups"):
		return true, errors.New("give --user or --groups, not both")
	case fl.Changed("api") && q.whoCan == "":
		return true, errors.New("--api goes with --who-can 'METHOD /path'")
	case fl.Changed("days") && !q.usage:
		return true, errors.New("--days goes with --usage")
	case modes == 0:
		return false, nil
	}
	out := cmd.OutOrStdout()
	switch {
	case q.explain != "":
		req := policy.Request{Resources: q.resources, Audience: q.audience}
		if fl.Changed("scope") {
			req.Scope, req.ScopeGiven = strings.Join(q.scopes, " "), true
		}
		person, err := q.person(cmd, cfg)
		if err != nil {
			return true, err
		}
		x, ok, err := audit.Explain(cfg, q.explain, q.grant, req, person)
		if err != nil {
			return true, err
		}
		if !ok {
			return true, fmt.Errorf("--explain: there is no client %q in %s", q.explain, cfg.Path)
		}
		if err := audit.WriteExplanation(out, x, req, format); err != nil {
			return true, err
		}
		if !x.Granted {
			return true, exitError(1)
		}
		return true, nil
	case q.whoCan != "":
		if q.api == "" {
			return true, errors.New("--who-can needs --api: the client id of the API whose routes to match")
		}
		rep, err := audit.WhoCan(cfg, q.api, q.whoCan)
		if err != nil {
			return true, err
		}
		return true, audit.WriteWhoCan(out, rep, format)
	default:
		if q.days < 1 {
			return true, errors.New("--days must be at least 1")
		}
		rows, err := readUsage(cmd.Context(), cfg.Storage)
		if err != nil {
			return true, err
		}
		return true, audit.WriteUsage(out, audit.Usage(cfg, rows, time.Now(), q.days), format)
	}
}

// readUsage reads the usage counts from the store the configuration names.
// A SQLite file that does not exist is an error rather than a new empty
// database: the audit must not create state, and "no usage" would be a
// wrong answer.
func readUsage(ctx context.Context, storage string) ([]store.UsageRow, error) {
	if path, ok := strings.CutPrefix(storage, "sqlite:"); ok {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("--usage: storage %s: %w (run the audit where gatehouse serve keeps its database)", storage, err)
		}
	}
	st, err := openStore(ctx, storage)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Usage(ctx)
}

// person is who --user or --groups name, or nil. A --user not in the
// configuration file is looked up in the store (local users of
// `gatehouse users`, and people from identity sources with the groups of
// their last sign-in).
func (q *auditQuery) person(cmd *cobra.Command, cfg *config.Config) (*audit.Person, error) {
	fl := cmd.Flags()
	switch {
	case fl.Changed("groups"):
		return &audit.Person{Groups: q.groups}, nil
	case !fl.Changed("user"):
		return nil, nil
	}
	for _, u := range cfg.Users {
		if u.Username == q.user {
			return &audit.Person{Name: q.user, Groups: u.Groups}, nil
		}
	}
	st, err := openStore(cmd.Context(), cfg.Storage)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	p, err := st.GetPerson(cmd.Context(), q.user)
	if err != nil {
		return nil, fmt.Errorf("--user: %q is neither a user of %s nor a person in the store (%v)", q.user, cfg.Path, err)
	}
	return &audit.Person{Name: q.user, Groups: p.Groups}, nil
}
