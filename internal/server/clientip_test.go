package server

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse/config"
)

func TestClientIP(t *testing.T) {
	s := &Server{cfg: &config.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	none := &Server{cfg: &config.Config{}}
	tests := []struct {
		name, peer string
		xff        []string
		srv        *Server
		want       string
	}{
		{"no proxies configured: header ignored", "10.1.1.1:5", []string{"203.0.113.9"}, none, "10.1.1.1"},
		{"untrusted peer: header ignored", "198.51.100.7:5", []string{"203.0.113.9"}, s, "198.51.100.7"},
		{"trusted peer: rightmost entry", "10.1.1.1:5", []string{"203.0.113.9"}, s, "203.0.113.9"},
		{"spoofed left entries ignored", "10.1.1.1:5", []string{"1.2.3.4, 203.0.113.9"}, s, "203.0.113.9"},
		{"chain of trusted proxies skipped", "10.1.1.1:5", []string{"203.0.113.9, 10.2.2.2"}, s, "203.0.113.9"},
		{"several header lines", "10.1.1.1:5", []string{"1.2.3.4", "203.0.113.9, 10.3.3.3"}, s, "203.0.113.9"},
		{"only proxies: the peer", "10.1.1.1:5", []string{"10.2.2.2"}, s, "10.1.1.1"},
		{"no header: the peer", "10.1.1.1:5", nil, s, "10.1.1.1"},
		{"one spelling: mapped", "10.1.1.1:5", []string{"::ffff:203.0.113.9"}, s, "203.0.113.9"},
		{"one spelling: IPv6", "10.1.1.1:5", []string{"2001:DB8:0::1"}, s, "2001:db8::1"},
		{"one spelling: mapped peer", "[::ffff:198.51.100.7]:5", nil, none, "198.51.100.7"},
		{"not an address: as written", "10.1.1.1:5", []string{"unknown"}, s, "unknown"},
	}
	for _, tc := range tests {
		r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := tc.srv.clientIP(r); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
