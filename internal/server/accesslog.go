package server

import (
	"log/slog"
	"net/http"
	"time"
)

// logWriter records what the access log needs. Handlers annotate it with
// setClient and setOutcome through a type assertion rather than the request
// context, which would cost a context and request copy per request.
type logWriter struct {
	http.ResponseWriter
	status  int
	client  string
	outcome string
}

func (l *logWriter) WriteHeader(code int) {
	if l.status == 0 {
		l.status = code
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l *logWriter) Write(b []byte) (int, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	return l.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (l *logWriter) Unwrap() http.ResponseWriter { return l.ResponseWriter }

func setClient(w http.ResponseWriter, id string) {
	if l, ok := w.(*logWriter); ok {
		l.client = id
	}
}

func setOutcome(w http.ResponseWriter, o string) {
	if l, ok := w.(*logWriter); ok {
		l.outcome = o
	}
}

// logRequests writes one structured line per request: method, path,
// status, duration, client and outcome (an OAuth error code or the audience
// granted). It never logs a header, body, token or secret.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		level := slog.LevelInfo
		if isMetadata(r) {
			// Discovery and JWKS are fetched by every verifier, often and
			// cacheably; at Info they would drown the log and cost a third
			// of such a request. They are logged at Debug.
			level = slog.LevelDebug
			if !s.accessLogger.Enabled(r.Context(), level) {
				next.ServeHTTP(w, r)
				return
			}
		}
		start := time.Now()
		lw := &logWriter{ResponseWriter: w}
		next.ServeHTTP(lw, r)
		attrs := [...]slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", lw.status),
			slog.Duration("dur", time.Since(start)),
			slog.String("client", lw.client),
			slog.String("outcome", lw.outcome),
			slog.String("remote", s.clientIP(r)),
		}
		s.accessLogger.LogAttrs(r.Context(), level, "request", attrs[:]...)
	})
}

// isMetadata reports a GET of discovery or JWKS.
func isMetadata(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", pathJWKS:
		return true
	}
	return false
}
