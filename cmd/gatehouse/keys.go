package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/secret"
)

func newKeysCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the signing key ring",
	}
	var cfgPath, auditLog string
	rotate := &cobra.Command{
		Use:   "rotate --config FILE",
		Short: "Rotate the signing key now (safe against a running deployment)",
		Long: `Promote the published next key to active, retire the active key (it stays in
JWKS until every token it signed has expired) and publish a new next key, for
each algorithm the key ring keeps (signing_alg, and RS256 for ID tokens).

Works against a running deployment: it changes the key ring in the store, and
every running instance picks the change up within a minute. Needs the same
GATEHOUSE_SECRET as the servers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			st, err := openStore(cmd.Context(), cfg.Storage)
			if err != nil {
				return err
			}
			defer st.Close()
			sink, closeAudit, err := openAuditLog(auditLog, cmd.OutOrStdout(), logger)
			if err != nil {
				return err
			}
			defer closeAudit()
			ring, err := keys.Open(cmd.Context(), st, withRotationEvents(keyOptions(cfg, getenv, logger), sink))
			if err != nil {
				return err
			}
			before := ring.Signer().KID
			if err := ring.Rotate(cmd.Context()); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "rotated: %s retired, %s now signs\n", before, ring.Signer().KID)
			return err
		},
	}
	rotate.Flags().StringVar(&cfgPath, "config", "", "configuration file (YAML)")
	auditLogFlag(rotate, &auditLog)
	_ = rotate.MarkFlagRequired("config")
	cmd.AddCommand(rotate)
	return cmd
}

func newHashCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hash [SECRET]",
		Short: "Print an argon2id hash for a client secret or password_hash",
		Long: `Print an argon2id PHC string for the given secret (or one line read from
standard input) to paste into "secret:" or "password_hash:" in the configuration.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var s string
			if len(args) == 1 {
				s = args[0]
			} else if _, err := fmt.Fscanln(cmd.InOrStdin(), &s); err != nil {
				return fmt.Errorf("reading the secret from standard input: %w", err)
			}
			h, err := secret.HashArgon2id(s)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), h)
			return err
		},
	}
}
