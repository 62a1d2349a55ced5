package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/config"
)

func newAuditCmd() *cobra.Command {
	var cfgPath, format string
	var strict bool
	cmd := &cobra.Command{
		Use:   "audit --config FILE [--format " + strings.Join(audit.Formats(), "|") + "] [--strict]",
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
with the graph, the matrix, the violations and the warnings.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
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
