package server

// DisableUsage turns issuance counting off, for the benchmark that
// measures what counting costs.
func DisableUsage(s *Server) { s.usage = nil }
