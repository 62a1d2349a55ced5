package main

import (
	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/config"
)

func newAuditCmd() *cobra.Command {
	var cfgPath, format string
	cmd := &cobra.Command{
		Use:   "audit --config FILE [--format text|markdown|json]",
		Short: "Print which client can reach which API (the client × audience matrix)",
		Long: `Read the configuration and print the client × audience matrix: for every client,
the audience its access tokens carry by default (the client itself plus its
configured audience), and for every API the clients that can obtain a token
naming it. Nothing is contacted; only the file is read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			return audit.Write(cmd.OutOrStdout(), audit.Build(cfg), format)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, markdown or json")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
