package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server"
)

// behindProxy starts a server that believes X-Forwarded-For from
// 127.0.0.1, as one behind nginx on the same host does, so a test over
// loopback can speak for any client address.
func behindProxy(t *testing.T, o server.Options) (*httptest.Server, *server.Server) {
	t.Helper()
	e := start(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	o.Config = parseTestConfig(t, e.srv.URL)
	o.Config.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	o.Keys, o.Store = e.ring, e.store
	s, err := server.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", s.Handler())
	return srv, s
}

// forwardedGet sends GET path with X-Forwarded-For set to from (none when
// empty) and returns the status.
func forwardedGet(t *testing.T, base, path, from string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if from != "" {
		req.Header.Set("X-Forwarded-For", from)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestMetricsBehindProxy: /metrics on the main listener answers callers on
// this host only, judged by the same resolved address as rate limits and
// the access log: behind a trusted proxy on loopback, a forwarded outside
// caller is refused.
func TestMetricsBehindProxy(t *testing.T) {
	srv, _ := behindProxy(t, server.Options{MetricsOnMainListener: true})
	for _, tc := range []struct {
		from string
		want int
	}{
		{"", 200},                       // the proxy host itself
		{"203.0.113.9", 403},            // an outside caller through the proxy
		{"127.0.0.1, 203.0.113.9", 403}, // with a spoofed loopback entry on the left
		{"::1", 200},                    // a local caller through the proxy
		{"203.0.113.9, 127.0.0.1", 403}, // trusted hops on the right are skipped
		{"not-an-address", 403},         // an unparsable forwarded address is not loopback
		{"::ffff:203.0.113.9", 403},     // nor is a mapped outside address
		{"::ffff:127.0.0.1", 200},       // a mapped loopback address is
		{"10.9.0.1", 403},               // nor is a private address
		{"203.0.113.9, ::ffff:127.0.0.1", 403},
	} {
		if got := forwardedGet(t, srv.URL, "/metrics", tc.from); got != tc.want {
			t.Errorf("X-Forwarded-For %q: %d, want %d", tc.from, got, tc.want)
		}
	}
}
