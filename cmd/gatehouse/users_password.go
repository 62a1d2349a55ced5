package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
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
