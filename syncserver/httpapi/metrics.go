package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowlytix/licensing/syncserver"
)

// metrics are the server's Prometheus series, on a registry of its own so
// that several servers in one test process do not collide.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	JobRuns  *prometheus.CounterVec
	JobTime  *prometheus.HistogramVec
}

func newMetrics(svc *syncserver.Service) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "licensed_http_requests_total", Help: "HTTP requests by method, route pattern and status.",
	}, []string{"method", "route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "licensed_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	m.JobRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "licensed_job_runs_total", Help: "Scheduled job runs by job and result (ok, error, skipped: another replica held it).",
	}, []string{"job", "result"})
	m.JobTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "licensed_job_duration_seconds", Help: "Scheduled job run time.",
	}, []string{"job"})
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(m.requests, m.latency, m.JobRuns, m.JobTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		counter("licensed_activations_total", "Activations that took a new seat.", func() float64 { return float64(svc.Activations.Load()) }),
		counter("licensed_syncs_total", "Syncs answered.", func() float64 { return float64(svc.Syncs.Load()) }),
		counter("licensed_usage_events_ingested_total", "Usage events stored (duplicates excluded).", func() float64 { return float64(svc.Events.Load()) }),
		counter("licensed_signatures_total", "License files signed.", func() float64 { return float64(svc.Signatures.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "licensed_token_cache_entries", Help: "Verified app tokens remembered."},
			func() float64 { return float64(svc.CachedTokens()) }),
	)
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// JobObserver returns the hook the scheduler reports job runs to.
func (a *API) JobObserver() func(job, result string, d time.Duration) {
	return func(job, result string, d time.Duration) {
		a.metrics.JobRuns.WithLabelValues(job, result).Inc()
		if result != "skipped" {
			a.metrics.JobTime.WithLabelValues(job).Observe(d.Seconds())
		}
	}
}
