// Command gatehouse is an OpenID Connect provider and OAuth 2.0
// authorization server whose tokens are good only for the recipients named
// in their "aud" claim, with the resource-server side built in.
//
// This file holds flags and wiring only; the logic lives in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdout, os.Stderr, os.LookupEnv).ExecuteContext(ctx)
	stop()
	if err != nil {
		var ex exitError
		if errors.As(err, &ex) {
			os.Exit(int(ex))
		}
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(2)
	}
}

// exitError ends the process with a status and no further message: the
// command has already printed what the user needs.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// env looks up environment variables; injected so tests need not touch
// the process environment.
type env func(string) (string, bool)

func newRoot(stdout, stderr io.Writer, getenv env) *cobra.Command {
	root := &cobra.Command{
		Use:   "gatehouse",
		Short: "OpenID Connect provider where a token is good only for its audience",
		Long: `Gatehouse issues OAuth 2.0 / OpenID Connect tokens whose "aud" claim names exactly
the APIs a client may call, and helps every API check it.

Start here:
  gatehouse serve --config examples/shop.yaml     run the server
  gatehouse audit --config examples/shop.yaml     who can reach which API
  gatehouse keys rotate --config examples/shop.yaml

Configuration reference: README.md. Key encryption secret: GATEHOUSE_SECRET
(at least 32 characters; without it the server runs in development mode).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newServeCmd(getenv),
		newAuditCmd(),
		newKeysCmd(getenv),
		newUsersCmd(),
		newClientsCmd(),
		newTokenCmd(),
		newProxyCmd(getenv),
		newMigrateCmd(),
		newHashCmd(),
		newVersionCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the VCS revision it was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, ok := debug.ReadBuildInfo()
			if !ok {
				info = nil
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionLine(version, info))
			return err
		},
	}
}

// versionLine describes the build: the version, then the VCS revision,
// commit time and "modified" when the tree was dirty. The version is the
// one set with -ldflags -X main.version when there is one, else the
// module version go install records (v1.2.3, or a pseudo-version), else
// "(devel)" for a build inside the repository. The revision is missing
// when the build had no VCS stamp (-buildvcs=false, as CI builds, or a
// tree without .git, as in a container build context): then the line
// says so instead of failing, because a binary must always say what it is.
func versionLine(ldflagsVersion string, info *debug.BuildInfo) string {
	v := ldflagsVersion
	if v == "" || v == "dev" {
		v = "(devel)"
		if info != nil && info.Main.Version != "" {
			v = info.Main.Version
		}
	}
	var rev, at string
	modified := false
	if info != nil {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	line := "gatehouse " + v
	if rev == "" {
		line += " (no VCS revision recorded)"
	} else {
		line += " revision " + rev
		if at != "" {
			line += " " + at
		}
		if modified {
			line += " modified"
		}
	}
	if info != nil && info.GoVersion != "" {
		line += " " + info.GoVersion
	}
	return line
}
