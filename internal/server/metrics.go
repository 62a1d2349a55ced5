package server

import (
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/oauth"
)

// metrics are the Prometheus series of one server. Label values come from
// the configuration (client ids, audiences, routes) or from the fixed set
// of RFC error codes, so cardinality is bounded by the configuration.
type metrics struct {
	reg       *prometheus.Registry
	issued    *prometheus.CounterVec
	rejected  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	storeErrs *prometheus.CounterVec
	signins   *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tokens_issued_total",
			Help: "Access tokens issued, by client, grant type and audience (space-joined aud).",
		}, []string{"client", "grant", "audience"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_rejections_total",
			Help: "Requests answered with an OAuth error, by endpoint and error code.",
		}, []string{"endpoint", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "Time to answer a request, by route and status class.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"route", "status"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_store_errors_total",
			Help: "Store operations that failed for a reason other than not-found, expired, conflict or reuse.",
		}, []string{"op"}),
		signins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_signins_total",
			Help: "Sign-in attempts on the login form, by outcome: success, failure (wrong username or password) or locked.",
		}, []string{"outcome"}),
	}
	// Every outcome is exported from the start, so a rate over it works
	// before the first failure.
	for _, o := range []string{"success", "failure", "locked"} {
		m.signins.WithLabelValues(o)
	}
	m.reg.MustRegister(m.issued, m.rejected, m.latency, m.storeErrs, m.signins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

var statusClasses = [...]string{"1xx", "1xx", "2xx", "3xx", "4xx", "5xx"}

// instrument records the latency of one route. The status is read from
// the logWriter when the access log is on, else from a small recorder.
//
// A series is created when its first request is observed, not when the
// route is registered: pre-creating every route × status class filled
// /metrics with empty histograms (a dozen buckets each) for answers never
// given. Each class's observer is looked up once and then kept, so the
// label hashing stays off the request path.
func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	var observers [len(statusClasses)]func() prometheus.Observer
	for i, c := range statusClasses {
		observers[i] = sync.OnceValue(func() prometheus.Observer { return m.latency.WithLabelValues(route, c) })
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw, ok := w.(*logWriter)
		if !ok {
			sw = &logWriter{ResponseWriter: w}
		}
		h.ServeHTTP(sw, r)
		st := sw.status
		if st == 0 {
			st = http.StatusOK
		}
		cls := 5 // 5xx for a status outside 100-599
		if i := st / 100; i >= 1 && i <= 5 {
			cls = i
		}
		observers[cls]().Observe(time.Since(start).Seconds())
	})
}

// audLabel is the audience as a metric label: sorted, so that the order of
// resource parameters cannot multiply the label sets.
func audLabel(aud oauth.Audience) string {
	if len(aud) <= 1 {
		return aud.String()
	}
	sorted := slices.Clone(aud)
	slices.Sort(sorted)
	return sorted.String()
}

// loopbackOnly answers only callers on this host: on the main listener the
// metrics (client ids, audiences, counts) are not for the public. The
// caller is the resolved client address (clientIP), the one the rate
// limits and the access log use: behind a proxy on this host the
// TCP peer is always loopback, and judging by it served every forwarded
// outside caller. The peer must be loopback as well, because a trusted
// proxy on another host that forwards for its own loopback is not
// forwarding for this host.
func (s *Server) loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isLoopback(s.clientIP(r)) || !isLoopback(remoteIP(r)) {
			http.Error(w, "metrics are served to loopback callers only; use --metrics-listen", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func isLoopback(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && a.Unmap().IsLoopback()
}

// Metrics returns the handler for /metrics, for serving on another
// listener than the protocol endpoints. It makes no per-address decision:
// whoever can connect to that listener may read the metrics, so its
// address (or a firewall) is the access control, and forwarding headers
// play no part there.
func (s *Server) Metrics() http.Handler { return s.metrics.handler() }
