package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/oauth"
)

// writeJSON writes a JSON body with the headers RFC 6749 §5.1 requires of
// any response carrying tokens or credentials-related answers.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h["Pragma"] = noCache
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Pre-allocated header values: the token endpoint sets them on every
// response, and Header().Set would canonicalise and allocate each time.
var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
	noCache         = []string{"no-cache"}
)

// writeError is the one place a protocol error becomes a response. The
// cause of a server_error is logged here and never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		oe = oauth.ServerError(err)
	}
	if oe.Cause != nil || oe.Code == oauth.CodeServerError {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("path", r.URL.Path), slog.String("error", oe.Error()))
	}
	status := oe.StatusOrDefault()
	if status == http.StatusUnauthorized {
		// RFC 6749 §5.2 and RFC 9110 §11.6.1: a 401 carries a challenge.
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
	}
	if oe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(oe.RetryAfter))
	}
	body, _ := json.Marshal(oe)
	setOutcome(w, oe.Code)
	s.metrics.rejected.WithLabelValues(r.URL.Path, oe.Code).Inc()
	writeJSON(w, status, body)
}
