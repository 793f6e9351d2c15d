package httpapi

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
)

// metrics is the service's Prometheus instrumentation, registered on an
// injected Registerer. The request path uses pre-resolved children so it
// does no label hashing for the common cases.
type metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	rows      prometheus.Counter
	batch     prometheus.Histogram
	modelTime prometheus.Histogram
	tiers     [6]prometheus.Counter // index 1..5
	rejects   *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	modelInfo *prometheus.GaugeVec

	// Variants (champion/challenger).
	variantLeads  *prometheus.CounterVec
	shadowScored  *prometheus.CounterVec
	shadowShed    *prometheus.CounterVec
	shadowFailed  *prometheus.CounterVec
	variantConfig *prometheus.GaugeVec

	routes [numRoutes]routeMetrics
}

// routeMetrics caches one route's children; codes[c-100] holds the request
// counter of status code c, created on first use.
type routeMetrics struct {
	duration prometheus.Observer
	codes    [500]atomic.Pointer[counterRef]
}

type counterRef struct{ c prometheus.Counter }

func newMetrics(reg prometheus.Registerer, inFlight *atomic.Int64) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "leadscore_http_request_duration_seconds",
			Help:    "Time from request start to response written, by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_rows_scored_total",
			Help: "Leads (rows) scored.",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "leadscore_batch_rows",
			Help:    "Rows per scoring request.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000},
		}),
		modelTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "leadscore_model_duration_seconds",
			Help:    "Time spent in the model per scoring request.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_http_rejections_total",
			Help: "Requests refused, by reason (the error code sent).",
		}, []string{"reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_model_reloads_total",
			Help: "Model reload attempts, by result (ok or rejected).",
		}, []string{"result"}),
		modelInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leadscore_model_info",
			Help: "The model being served (always 1), labelled with its name and version.",
		}, []string{"name", "version"}),
	}
	m.variantLeads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leadscore_variant_leads_total",
		Help: "Leads answered live, by variant (champion/challenger serving only).",
	}, []string{"variant"})
	m.shadowScored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leadscore_variant_shadow_scored_total",
		Help: "Leads scored off the request path by a variant that did not answer them (shadows, and the champion beside a weighted challenger).",
	}, []string{"variant"})
	m.shadowShed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leadscore_variant_shadow_shed_total",
		Help: "Leads not shadow-scored, by variant and reason: queue_full (the shadow queue was full) or no_spare_cpu (live work was waiting for the cores).",
	}, []string{"variant", "reason"})
	m.shadowFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leadscore_variant_shadow_failures_total",
		Help: "Leads a shadow scoring failed on, by variant (live answers are unaffected).",
	}, []string{"variant"})
	m.variantConfig = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "leadscore_variant_weight",
		Help: "Each variant's normalised share of live traffic (0 for shadows), labelled with its role, model and version.",
	}, []string{"variant", "role", "model", "version"})
	tiers := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leadscore_scores_total",
		Help: "Leads scored, by score tier (1 lowest to 5 highest).",
	}, []string{"score"})
	inflight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "leadscore_http_in_flight_requests",
		Help: "Scoring requests being served now.",
	}, func() float64 { return float64(inFlight.Load()) })
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.rows, m.batch, m.modelTime,
		m.rejects, m.reloads, m.modelInfo, tiers, inflight,
		m.variantLeads, m.shadowScored, m.shadowShed, m.shadowFailed, m.variantConfig} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	for t := 1; t <= 5; t++ {
		m.tiers[t] = tiers.WithLabelValues(strconv.Itoa(t))
	}
	for r := range m.routes {
		m.routes[r].duration = m.duration.WithLabelValues(routeNames[r])
	}
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("rejected")
	return m, nil
}

// observe records one answered request.
func (m *metrics) observe(r route, code int, seconds float64) {
	rm := &m.routes[r]
	rm.duration.Observe(seconds)
	if code < 100 || code >= 600 {
		m.requests.WithLabelValues(routeNames[r], strconv.Itoa(code)).Inc()
		return
	}
	slot := &rm.codes[code-100]
	ref := slot.Load()
	if ref == nil {
		ref = &counterRef{m.requests.WithLabelValues(routeNames[r], strconv.Itoa(code))}
		slot.Store(ref) // a racing store holds the same child
	}
	ref.c.Inc()
}

// scored records a scored batch.
func (m *metrics) scored(results []leadscore.Result, modelSeconds float64) {
	var counts [6]int
	for i := range results {
		if s := results[i].Score; s >= 1 && s <= 5 {
			counts[s]++
		}
	}
	for t := 1; t <= 5; t++ {
		if counts[t] > 0 {
			m.tiers[t].Add(float64(counts[t]))
		}
	}
	m.rows.Add(float64(len(results)))
	m.batch.Observe(float64(len(results)))
	m.modelTime.Observe(modelSeconds)
}

// setModel makes info the only model in leadscore_model_info.
func (m *metrics) setModel(info leadscore.ModelInfo) {
	m.modelInfo.Reset()
	m.modelInfo.WithLabelValues(info.Name, info.Version).Set(1)
}
