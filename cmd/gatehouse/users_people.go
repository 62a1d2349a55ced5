package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/store"
)

// The `gatehouse users` commands on the people of the store (store.Person):
// local users, managed here, and the people identity sources vouched for.

// usersEnv is what every people command opens: the configuration, the
// store it names and the audit trail.
type usersEnv struct {
	cfg   *config.Config
	st    store.Store
	sink  events.Sink
	close func()
}

// usersFlags adds --config and --audit-log to cmd.
func usersFlags(cmd *cobra.Command, cfgPath, auditLog *string) {
	cmd.Flags().StringVar(cfgPath, "config", "", "configuration file (YAML)")
	auditLogFlag(cmd, auditLog)
	_ = cmd.MarkFlagRequired("config")
}

func openUsersEnv(cmd *cobra.Command, cfgPath, auditLog string) (*usersEnv, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	sink, closeAudit, err := openAuditLog(auditLog, cmd.OutOrStdout(), logger)
	if err != nil {
		return nil, err
	}
	st, err := openStore(cmd.Context(), cfg.Storage)
	if err != nil {
		_ = closeAudit()
		return nil, err
	}
	return &usersEnv{cfg: cfg, st: st, sink: sink, close: func() { _ = st.Close(); _ = closeAudit() }}, nil
}

// emit writes a user event naming the subject.
func (e *usersEnv) emit(ctx context.Context, typ, subject string) {
	e.sink.Emit(ctx, events.Event{Type: typ, Username: subject, Source: "cli"})
}

// person returns the person with subject, or an error that says why not.
func (e *usersEnv) person(ctx context.Context, subject string) (store.Person, error) {
	p, err := e.st.GetPerson(ctx, subject)
	switch {
	case errors.Is(err, store.ErrNotFound) && e.yamlUser(subject):
		return store.Person{}, fmt.Errorf("%q is a user of %s, not of the store: change it in the file", subject, e.cfg.Path)
	case errors.Is(err, store.ErrNotFound):
		return store.Person{}, fmt.Errorf("no person with subject %q in the store (see gatehouse users list)", subject)
	case err != nil:
		return store.Person{}, err
	}
	return p, nil
}

func (e *usersEnv) yamlUser(username string) bool {
	return slices.ContainsFunc(e.cfg.Users, func(u config.User) bool { return u.Username == username })
}

// checkNewUsername applies the configuration's rules for usernames to a
// new local user, and more: no ':' (the subjects of people from identity
// sources are "source:sub", so a local name with a colon could take one),
// not a client id (their tokens would share a sub), and not a user of the
// configuration file (who would shadow the store's user at sign-in).
func (e *usersEnv) checkNewUsername(username string) error {
	switch {
	case username == "":
		return errors.New("empty username")
	case strings.TrimSpace(username) != username || strings.IndexFunc(username, unicode.IsControl) >= 0:
		return fmt.Errorf("username %q has surrounding whitespace or control characters", username)
	case strings.Contains(username, ":"):
		return fmt.Errorf("username %q contains ':', which is reserved for people from identity sources (source:sub)", username)
	case e.cfg.Client(username) != nil:
		return fmt.Errorf("username %q is also a client id in %s: their tokens would share one sub", username, e.cfg.Path)
	case e.yamlUser(username):
		return fmt.Errorf("username %q is a user of %s, which would shadow a store user of that name", username, e.cfg.Path)
	}
	return nil
}

// checkGroups refuses group names that could not be meant: empty, or
// with surrounding whitespace or control characters.
func checkGroups(groups []string) error {
	for _, g := range groups {
		if g == "" || strings.TrimSpace(g) != g || strings.IndexFunc(g, unicode.IsControl) >= 0 {
			return fmt.Errorf("group %q is empty or has surrounding whitespace or control characters", g)
		}
	}
	return nil
}

func newUsersAddCmd() *cobra.Command {
	var cfgPath, auditLog, name, email string
	var groups []string
	cmd := &cobra.Command{
		Use:   "add USERNAME --config FILE [--name N] [--email E] [--group G ...]",
		Short: "Add a local user to the store",
		Long: `Add a local user, kept in the store (SQLite or PostgreSQL) rather than the
configuration file; their subject ("sub") is USERNAME.

The password is never an argument. On a terminal it is asked for twice,
without echo; otherwise the first line of standard input is the password,
for scripts:

  printf '%s\n' "$PASSWORD" | gatehouse users add alice --config FILE

It is stored as an argon2id hash only. Empty passwords and passwords longer
than 1024 bytes are refused. USERNAME may not contain ':' or surrounding
whitespace, and may not be a client id or a user of the configuration file.
Writes a "user.added" event to the audit trail.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			username := args[0]
			env, err := openUsersEnv(cmd, cfgPath, auditLog)
			if err != nil {
				return err
			}
			defer env.close()
			if err := env.checkNewUsername(username); err != nil {
				return err
			}
			if err := checkGroups(groups); err != nil {
				return err
			}
			ctx := cmd.Context()
			if _, err := env.st.GetPerson(ctx, username); err == nil {
				return fmt.Errorf("%q already exists in the store", username)
			}
			var claims []byte
			if name != "" || email != "" {
				m := map[string]string{}
				if name != "" {
					m["name"] = name
				}
				if email != "" {
					m["email"] = email
				}
				claims, _ = json.Marshal(m)
			}
			pw, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			hash, err := secret.HashArgon2id(pw)
			if err != nil {
				return fmt.Errorf("hashing the password: %w", err)
			}
			now := time.Now()
			p := store.Person{Subject: username, Username: username, PasswordHash: hash, Claims: claims,
				Groups: groups, CreatedAt: now, UpdatedAt: now}
			if err := env.st.CreatePerson(ctx, p); errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%q already exists in the store", username)
			} else if err != nil {
				return err
			}
			env.emit(ctx, events.UserAdded, username)
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "added: %s\n", username)
			return err
		},
	}
	usersFlags(cmd, &cfgPath, &auditLog)
	cmd.Flags().StringVar(&name, "name", "", `the user's "name" claim`)
	cmd.Flags().StringVar(&email, "email", "", `the user's "email" claim`)
	cmd.Flags().StringArrayVar(&groups, "group", nil, "a group of the user (repeat for several)")
	return cmd
}

// newUsersSetDisabledCmd is `users disable` (disable true) or `users
// enable`.
func newUsersSetDisabledCmd(disable bool) *cobra.Command {
	var cfgPath, auditLog string
	verb, done, typ := "enable", "enabled", events.UserEnabled
	short := "Let a disabled person of the store sign in again"
	if disable {
		verb, done, typ = "disable", "disabled", events.UserDisabled
		short = "Stop a person of the store (local or from a source) from signing in or refreshing"
	}
	cmd := &cobra.Command{
		Use:   verb + " SUBJECT --config FILE",
		Short: short,
		Long: short + `.
SUBJECT is the subject users list shows: a local user's username, or
"source:sub" for a person from an identity source. Writes a "` + typ + `"
event to the audit trail.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openUsersEnv(cmd, cfgPath, auditLog)
			if err != nil {
				return err
			}
			defer env.close()
			ctx := cmd.Context()
			p, err := env.person(ctx, args[0])
			if err != nil {
				return err
			}
			if p.Disabled != disable {
				p.Disabled, p.UpdatedAt = disable, time.Now()
				if err := env.st.UpdatePerson(ctx, p); err != nil {
					return err
				}
			}
			env.emit(ctx, typ, p.Subject)
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", done, p.Subject)
			return err
		},
	}
	usersFlags(cmd, &cfgPath, &auditLog)
	return cmd
}

func newUsersSetGroupsCmd() *cobra.Command {
	var cfgPath, auditLog string
	cmd := &cobra.Command{
		Use:   "set-groups SUBJECT [GROUP ...] --config FILE",
		Short: "Replace a local user's groups (none: no groups)",
		Long: `Replace the groups of a local user of the store. People from identity
sources get their groups from the source at every sign-in, so theirs are not
set here. Writes a "user.groups_set" event to the audit trail.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openUsersEnv(cmd, cfgPath, auditLog)
			if err != nil {
				return err
			}
			defer env.close()
			ctx := cmd.Context()
			p, err := env.person(ctx, args[0])
			if err != nil {
				return err
			}
			if p.Source != "" {
				return fmt.Errorf("%q comes from the identity source %q, which sets their groups at each sign-in", p.Subject, p.Source)
			}
			if err := checkGroups(args[1:]); err != nil {
				return err
			}
			p.Groups, p.UpdatedAt = args[1:], time.Now()
			if err := env.st.UpdatePerson(ctx, p); err != nil {
				return err
			}
			env.emit(ctx, events.UserGroupsSet, p.Subject)
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "groups set: %s [%s]\n", p.Subject, strings.Join(p.Groups, ", "))
			return err
		},
	}
	usersFlags(cmd, &cfgPath, &auditLog)
	return cmd
}

func newUsersDeleteCmd() *cobra.Command {
	var cfgPath, auditLog string
	cmd := &cobra.Command{
		Use:   "delete SUBJECT --config FILE",
		Short: "Delete a person from the store",
		Long: `Delete a person, local or from an identity source, from the store. A person
from a source is created again at their next sign-in unless disabled
instead (see users disable). Writes a "user.deleted" event to the audit
trail.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openUsersEnv(cmd, cfgPath, auditLog)
			if err != nil {
				return err
			}
			defer env.close()
			ctx := cmd.Context()
			if _, err := env.person(ctx, args[0]); err != nil {
				return err
			}
			if err := env.st.DeletePerson(ctx, args[0]); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no person with subject %q in the store", args[0])
			} else if err != nil {
				return err
			}
			env.emit(ctx, events.UserDeleted, args[0])
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "deleted: %s\n", args[0])
			return err
		},
	}
	usersFlags(cmd, &cfgPath, &auditLog)
	return cmd
}
