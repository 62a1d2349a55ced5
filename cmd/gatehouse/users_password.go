package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/store"
)

// maxPasswordBytes bounds a local user's password: argon2id hashes any
// length, but a megabyte pasted by mistake is not a password.
const maxPasswordBytes = 1024

// readPassword reads a new password for `users add` and `users
// set-password`. It is never a command-line argument (the process list
// and shell history would show it). When standard input is a terminal it
// is asked for twice without echo; otherwise standard input gives it as
// its first line (the trailing newline, CRLF too, is not part of it), for
// scripts: printf '%s\n' "$PW" | gatehouse users add alice --config FILE.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptPassword(int(f.Fd()), prompt)
	}
	// One byte more than a line may hold, to tell a long line.
	r := bufio.NewReaderSize(io.LimitReader(in, maxPasswordBytes+3), maxPasswordBytes+3)
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	hadNewline := strings.HasSuffix(line, "\n")
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if !hadNewline && len(line) > maxPasswordBytes {
		return "", fmt.Errorf("the password is longer than %d bytes", maxPasswordBytes)
	}
	return line, checkPassword(line)
}

func promptPassword(fd int, prompt io.Writer) (string, error) {
	fmt.Fprint(prompt, "Password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if err := checkPassword(string(first)); err != nil {
		return "", err
	}
	fmt.Fprint(prompt, "Repeat password: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if string(first) != string(second) {
		return "", errors.New("the passwords do not match")
	}
	return string(first), nil
}

// checkPassword refuses what cannot be a password.
func checkPassword(pw string) error {
	switch {
	case pw == "":
		return errors.New("empty password refused")
	case len(pw) > maxPasswordBytes:
		return fmt.Errorf("the password is longer than %d bytes", maxPasswordBytes)
	}
	return nil
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
