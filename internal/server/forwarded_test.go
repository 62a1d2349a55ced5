package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

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

// TestClientAuthThrottleSurvivesFlood is the attack of the security
// review: throttle one (address, client) pair, then fail with thousands of
// made-up client ids — from the same address and from many others, more
// keys than the limiter holds. The throttled pair must stay throttled (an
// earlier version evicted it and gave the guesser a fresh burst), and one
// address must not hold more than its share of the limiter.
func TestClientAuthThrottleSurvivesFlood(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	srv, s := behindProxy(t, server.Options{Now: clock.Now})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	t.Cleanup(client.CloseIdleConnections)
	post := func(from, id, secret string) int {
		t.Helper()
		clock.Add(100 * time.Microsecond)
		req, _ := http.NewRequest("POST", srv.URL+"/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", basic(id, secret))
		req.Header.Set("X-Forwarded-For", from)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	const attacker = "203.0.113.9"
	for i := range 10 {
		if got := post(attacker, "order-sync-job", "guess"); got != 401 {
			t.Fatalf("guess %d: %d, want 401", i+1, got)
		}
	}
	if got := post(attacker, "order-sync-job", "guess"); got != 429 {
		t.Fatalf("11th guess: %d, want 429", got)
	}
	// 6,000 made-up ids from the attacker's address and 6,000 more from
	// 200 other addresses: 12,000 keys against a table of 10,000.
	for i := range 6000 {
		if got := post(attacker, fmt.Sprintf("made-up-%d", i), "x"); got != 401 && got != 429 {
			t.Fatalf("made-up id: %d", got)
		}
		if got := post(fmt.Sprintf("198.51.100.%d", i%200), fmt.Sprintf("other-%d", i), "x"); got != 401 && got != 429 {
			t.Fatalf("made-up id: %d", got)
		}
	}
	if got := post(attacker, "order-sync-job", "sync-job-secret-change-me"); got != 429 {
		t.Fatalf("throttled pair answered %d after the flood, want 429 until its bucket refills", got)
	}
	total, forAttacker := server.ClientAuthBuckets(s, attacker)
	if forAttacker > 65 || total > 10_000 {
		t.Errorf("limiter holds %d buckets, %d for the attacker's address; want at most 10,000 and 65", total, forAttacker)
	}
	// Another address is not held back by the attacker's flood.
	if got := post("192.0.2.7", "order-sync-job", "sync-job-secret-change-me"); got != 200 {
		t.Errorf("another address with the right secret: %d, want 200", got)
	}
	// The throttle is a delay, not a lockout.
	clock.Add(time.Minute)
	if got := post(attacker, "order-sync-job", "sync-job-secret-change-me"); got != 200 {
		t.Errorf("after the bucket refilled: %d, want 200", got)
	}
}
