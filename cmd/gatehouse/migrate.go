package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/config"
)

func newMigrateCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "migrate --config FILE",
		Short: "Apply the store's schema migrations and print the schema version",
		Long: `Open the store named by "storage:" and apply any pending migrations, then exit.
serve does the same on start; run migrate first when you want schema changes to
happen in a deployment step of their own. Safe with several instances: on
PostgreSQL migrations run under an advisory lock, on SQLite in one transaction each.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), cfg.Storage)
			if err != nil {
				return err
			}
			defer st.Close()
			if v, ok := st.(interface {
				SchemaVersion(ctx context.Context) (int, error)
			}); ok {
				n, err := v.SchemaVersion(cmd.Context())
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: schema version %d\n", config.RedactStorage(cfg.Storage), n)
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), "migrations applied")
			return err
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "configuration file (YAML)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
