package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// /metrics shows a latency series only for a route and status class that
// has answered a request: no empty histograms for routes nobody called.
func TestLatencySeriesAppearWhenObserved(t *testing.T) {
	m := newMetrics()
	ok := m.instrument("GET /called", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("fail") {
			http.Error(w, "no", http.StatusBadRequest)
		}
	}))
	_ = m.instrument("GET /never", http.NotFoundHandler())

	scrape := func() string {
		rec := httptest.NewRecorder()
		m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	if out := scrape(); strings.Contains(out, "gatehouse_http_request_duration_seconds_bucket") {
		t.Fatalf("latency series before any request:\n%s", grepLines(out, "gatehouse_http_request_duration_seconds"))
	}

	ok.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/called", nil))
	ok.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/called", nil))
	ok.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/called?fail", nil))
	out := scrape()
	for _, want := range []string{
		`gatehouse_http_request_duration_seconds_count{route="GET /called",status="2xx"} 2`,
		`gatehouse_http_request_duration_seconds_count{route="GET /called",status="4xx"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in:\n%s", want, grepLines(out, "gatehouse_http_request_duration_seconds_count"))
		}
	}
	for _, absent := range []string{`route="GET /never"`, `status="1xx"`, `status="3xx"`, `status="5xx"`} {
		if strings.Contains(out, absent) {
			t.Errorf("a series with %s was never observed but is exported:\n%s", absent, grepLines(out, absent))
		}
	}
}

// grepLines returns the lines of s that contain substr, for short messages.
func grepLines(s, substr string) string {
	var keep []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, substr) {
			keep = append(keep, strings.TrimRight(l, "\n"))
		}
	}
	return strings.Join(keep, "\n")
}
