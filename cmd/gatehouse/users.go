package main

import (
	"fmt"
	"log/slog"
	"slices"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/server"
)

func newUsersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage the people who sign in",
		Long: `Manage the people who sign in: local users kept in the store (add, set-password,
set-groups), and every person of the store, local or from an identity source
(list, disable, enable, delete). Users of the configuration file are managed
in the file; unlock works for every user.`,
	}
	var cfgPath, auditLog string
	unlock := &cobra.Command{
		Use:   "unlock USERNAME --config FILE",
		Short: "Lift a sign-in lockout now (on every instance sharing the store)",
		Long: `Clear the failed sign-ins counted against USERNAME, so a user locked out by
too many wrong passwords can sign in again without waiting for the lockout
window to pass.

The count lives in the store, so on PostgreSQL this lifts the lock on every
instance at once. Each instance also paces guesses in memory (one try a
minute after five quick failures); that pace is not a lock and lets the next
try through within a minute. Writes an "unlock" event to the audit trail.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			username := args[0]
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			sink, closeAudit, err := openAuditLog(auditLog, cmd.OutOrStdout(), logger)
			if err != nil {
				return err
			}
			defer closeAudit()
			st, err := openStore(cmd.Context(), cfg.Storage)
			if err != nil {
				return err
			}
			defer st.Close()
			// The same key the server counts under (one function computes
			// it for both), so the unlock hits the count the server reads.
			if err := st.ClearLoginFailures(cmd.Context(), server.LoginThrottleKey(cfg.Issuer, username)); err != nil {
				return fmt.Errorf("clearing the failed sign-ins of %q: %w", username, err)
			}
			sink.Emit(cmd.Context(), events.Event{Type: events.Unlock, Username: username, Source: "cli"})
			if !slices.ContainsFunc(cfg.Users, func(u config.User) bool { return u.Username == username }) {
				// Unknown names are counted too (the lock must not reveal
				// who exists), so clearing one is not an error; a typo is
				// the likelier reason, though.
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %q is not a user in %s\n", username, cfg.Path)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "unlocked: %s\n", username)
			return err
		},
	}
	unlock.Flags().StringVar(&cfgPath, "config", "", "configuration file (YAML)")
	auditLogFlag(unlock, &auditLog)
	_ = unlock.MarkFlagRequired("config")
	cmd.AddCommand(unlock)
	cmd.AddCommand(newUsersAddCmd(), newUsersListCmd(), newUsersSetDisabledCmd(true), newUsersSetDisabledCmd(false),
		newUsersSetPasswordCmd(), newUsersSetGroupsCmd(), newUsersDeleteCmd())
	return cmd
}
