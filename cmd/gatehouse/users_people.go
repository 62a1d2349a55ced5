package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
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

// localUser returns the local user with username, or an error that says
// why not.
func (e *usersEnv) localUser(ctx context.Context, username string) (store.Person, error) {
	p, err := e.st.LocalUser(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound) && e.yamlUser(username):
		return store.Person{}, fmt.Errorf("%q is a user of %s, not of the store: change it in the file", username, e.cfg.Path)
	case errors.Is(err, store.ErrNotFound):
		return store.Person{}, fmt.Errorf("no local user %q in the store (see gatehouse users list)", username)
	}
	return p, err
}

func newUsersSetPasswordCmd() *cobra.Command {
	var cfgPath, auditLog string
	cmd := &cobra.Command{
		Use:   "set-password USERNAME --config FILE",
		Short: "Set a local user's password",
		Long: `Set the password of a local user of the store, read as users add reads it
(twice without echo on a terminal, else the first line of standard input).
Writes a "user.password_set" event to the audit trail, without the password.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openUsersEnv(cmd, cfgPath, auditLog)
			if err != nil {
				return err
			}
			defer env.close()
			ctx := cmd.Context()
			p, err := env.localUser(ctx, args[0])
			if err != nil {
				return err
			}
			pw, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if p.PasswordHash, err = secret.HashArgon2id(pw); err != nil {
				return fmt.Errorf("hashing the password: %w", err)
			}
			p.UpdatedAt = time.Now()
			if err := env.st.UpdatePerson(ctx, p); err != nil {
				return err
			}
			env.emit(ctx, events.UserPasswordSet, p.Subject)
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "password set: %s\n", p.Username)
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
