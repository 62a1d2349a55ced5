package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/keys"
)

// auditLogFlag adds --audit-log to cmd: where the audit trail's JSON lines
// go. Every line carries "stream":"audit", so on standard output (the
// default, while the operational log is on standard error) it can still
// be told apart from anything else there.
func auditLogFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVar(path, "audit-log", "-", `audit trail destination: a file (appended to, created 0600) or "-" for standard output`)
}

// openAuditLog returns the sink --audit-log names and a function that
// closes it. A failed write is logged: the request that caused the event
// has nothing to do with it and must not fail.
func openAuditLog(path string, stdout io.Writer, logger *slog.Logger) (events.Sink, func() error, error) {
	out, closeFn := stdout, func() error { return nil }
	if path != "-" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("--audit-log: %w", err)
		}
		out, closeFn = f, f.Close
	}
	w := events.NewWriter(out)
	w.OnError = func(err error) { logger.Error("writing the audit trail failed", "error", err) }
	return w, closeFn, nil
}

// withRotationEvents makes the key ring report its rotations to sink as
// key.rotation events.
func withRotationEvents(o keys.Options, sink events.Sink) keys.Options {
	if sink == nil {
		return o
	}
	o.OnRotate = func(alg, retired, active string) {
		sink.Emit(context.Background(), events.Event{Type: events.KeyRotation, Alg: alg, RetiredKeyID: retired, KeyID: active})
	}
	return o
}
