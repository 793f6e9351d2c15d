package httpapi

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/leadscore/leadscore"
)

// GET /v1/stats is the live console's view of the service: the model, uptime,
// traffic totals and rates, server latency percentiles, errors by class,
// shed requests and the data lake's health. Every figure is read from the
// same Prometheus registry /metrics serves, so the two always agree; the
// request path does no extra work for it. Rates and percentiles come from
// differences between snapshots of the registry, taken every
// StatsInterval by SampleStats and at every /v1/stats request.

// Stats history bounds: snapshots kept, and the span they cover.
const (
	DefaultStatsInterval = 5 * time.Second
	statsHistory         = 10 * time.Minute
	statsMaxSamples      = 240
	// statsLatencyWindow is the span of the headline latency percentiles.
	statsLatencyWindow = time.Minute
)

// scoringRoutes are the routes counted as traffic: the ones that score.
var scoringRoutes = map[string]bool{
	routeNames[routeScore]:       true,
	routeNames[routeInvocations]: true,
	routeNames[routeV2Infer]:     true,
}

// statsSample is one snapshot of the registry's cumulative counters.
type statsSample struct {
	at         time.Time
	requests   float64            // scoring requests answered
	rows       float64            // leads scored
	clientErrs float64            // scoring requests answered 4xx
	serverErrs float64            // scoring requests answered 5xx
	rejections map[string]float64 // every refusal, by error code
	tiers      [6]float64         // leads by tier 1..5
	// latency buckets of the scoring routes: upper bounds and cumulative
	// counts (the last bound is +Inf).
	bounds []float64
	counts []float64
	lake   map[string]float64 // leadscore_capture_* gauges and counters
	alerts []statsAlert       // checks whose alert is active
	// drift is each feature's baseline distance (leadscore_monitor_feature_distance),
	// and the score's under driftScore.
	drift map[string]float64
}

// driftScore keys the score's distance in statsSample.drift.
const driftScore = "\x00score"

// statsDriftPoints is the most points of each drift sparkline.
const statsDriftPoints = 40

// statsRecorder keeps the snapshot history.
type statsRecorder struct {
	gather   func() ([]*dto.MetricFamily, error)
	interval time.Duration
	started  time.Time

	mu         sync.Mutex
	samples    []statsSample
	lastUpload time.Time // when the uploads counter was last seen rising
}

// sample takes a fresh snapshot and returns the history, oldest first,
// ending with it (never empty). The fresh snapshot replaces the newest one
// when that was taken less than an interval after the one before it, so
// totals are always current while the history keeps about one snapshot
// per interval.
func (st *statsRecorder) sample(now time.Time) ([]statsSample, error) {
	mfs, err := st.gather()
	if err != nil && len(mfs) == 0 {
		return nil, err
	}
	s := readSample(mfs)
	s.at = now
	st.mu.Lock()
	defer st.mu.Unlock()
	n := len(st.samples)
	if n > 0 && s.lake["leadscore_capture_uploads_total"] > st.samples[n-1].lake["leadscore_capture_uploads_total"] {
		st.lastUpload = now
	}
	if n >= 2 && now.Sub(st.samples[n-2].at) < st.interval {
		st.samples[n-1] = s
		return st.samples, nil
	}
	cut := 0
	for cut < n && (now.Sub(st.samples[cut].at) > statsHistory || n-cut >= statsMaxSamples) {
		cut++
	}
	st.samples = append(st.samples[cut:], s)
	return st.samples, nil
}

// readSample reads the figures the console shows out of gathered families.
func readSample(mfs []*dto.MetricFamily) statsSample {
	s := statsSample{rejections: map[string]float64{}, lake: map[string]float64{}, drift: map[string]float64{}}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			switch {
			case name == "leadscore_http_requests_total":
				if !scoringRoutes[label(m, "route")] {
					continue
				}
				v := m.GetCounter().GetValue()
				s.requests += v
				code, _ := strconv.Atoi(label(m, "code"))
				switch {
				case code >= 500:
					s.serverErrs += v
				case code >= 400:
					s.clientErrs += v
				}
			case name == "leadscore_rows_scored_total":
				s.rows += m.GetCounter().GetValue()
			case name == "leadscore_scores_total":
				if t, err := strconv.Atoi(label(m, "score")); err == nil && t >= 1 && t <= 5 {
					s.tiers[t] += m.GetCounter().GetValue()
				}
			case name == "leadscore_http_rejections_total":
				s.rejections[label(m, "reason")] += m.GetCounter().GetValue()
			case name == "leadscore_http_request_duration_seconds":
				if scoringRoutes[label(m, "route")] {
					s.addHistogram(m.GetHistogram())
				}
			case name == "leadscore_monitor_feature_distance":
				s.drift[label(m, "feature")] = m.GetGauge().GetValue()
			case name == "leadscore_monitor_prediction_distance":
				s.drift[driftScore] = m.GetGauge().GetValue()
			case name == "leadscore_monitor_alert_active":
				if m.GetGauge().GetValue() > 0 {
					s.alerts = append(s.alerts, statsAlert{Feature: label(m, "feature"), Check: label(m, "check")})
				}
			case len(name) > len("leadscore_capture_") && name[:len("leadscore_capture_")] == "leadscore_capture_":
				switch {
				case m.GetGauge() != nil:
					s.lake[name] += m.GetGauge().GetValue()
				case m.GetCounter() != nil:
					s.lake[name] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return s
}

// addHistogram adds a histogram's cumulative buckets to the sample's
// (the scoring routes share one bucket layout).
func (s *statsSample) addHistogram(h *dto.Histogram) {
	bs := h.GetBucket()
	if s.bounds == nil {
		s.bounds = make([]float64, len(bs)+1)
		s.counts = make([]float64, len(bs)+1)
		for i, b := range bs {
			s.bounds[i] = b.GetUpperBound()
		}
		s.bounds[len(bs)] = math.Inf(1)
	}
	if len(bs)+1 != len(s.bounds) {
		return
	}
	for i, b := range bs {
		s.counts[i] += float64(b.GetCumulativeCount())
	}
	s.counts[len(bs)] += float64(h.GetSampleCount())
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// quantile estimates the q-quantile in seconds of the requests between
// two samples from their bucket counts, interpolating linearly inside a
// bucket as Prometheus's histogram_quantile does; NaN without requests.
func quantile(q float64, from, to *statsSample) float64 {
	if to.bounds == nil {
		return math.NaN()
	}
	diff := make([]float64, len(to.counts))
	for i := range diff {
		diff[i] = to.counts[i]
		if from != nil && len(from.counts) == len(diff) {
			diff[i] -= from.counts[i]
		}
	}
	total := diff[len(diff)-1]
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	i := sort.Search(len(diff), func(i int) bool { return diff[i] >= rank })
	if i >= len(diff)-1 { // in the +Inf bucket: the largest finite bound
		return to.bounds[len(to.bounds)-2]
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = to.bounds[i-1], diff[i-1]
	}
	inBucket := diff[i] - below
	if inBucket <= 0 {
		return to.bounds[i]
	}
	return lower + (to.bounds[i]-lower)*(rank-below)/inBucket
}

// statsJSON is the body of GET /v1/stats.
type statsJSON struct {
	GeneratedAt   time.Time    `json:"generated_at"`
	StartedAt     time.Time    `json:"started_at"`
	UptimeSeconds float64      `json:"uptime_seconds"`
	Version       string       `json:"version"`
	Model         statsModel   `json:"model"`
	Totals        statsTotals  `json:"totals"`
	Latency       statsLatency `json:"latency"`
	Series        []statsPoint `json:"series"`
	Lake          *statsLake   `json:"lake"`
	// Alerts are the monitoring checks whose webhook alert is active.
	Alerts []statsAlert `json:"alerts"`
	// Routes says which optional routes this server has, so the console
	// asks only for those.
	Routes statsRoutes `json:"routes"`
	// Drift is the history of each feature's baseline distance, for
	// sparklines; null when drift monitoring is off.
	Drift *statsDrift `json:"drift_history"`
}

type statsRoutes struct {
	Monitoring bool `json:"monitoring"`
	Feedback   bool `json:"feedback"`
	// Variants: champion/challenger variants are configured (/v1/variants).
	Variants bool `json:"variants"`
}

type statsDrift struct {
	Times    []int64               `json:"t"`
	Score    []*float64            `json:"score"`
	Features map[string][]*float64 `json:"features"`
}

type statsAlert struct {
	Feature string `json:"feature"`
	Check   string `json:"check"`
}

type statsModel struct {
	Name     string         `json:"name"`
	Version  string         `json:"version"`
	Source   string         `json:"source"`
	Features []statsFeature `json:"features"`
	// TierCutoffs are the probabilities where tiers 2..5 start.
	TierCutoffs []float64 `json:"tier_cutoffs"`
}

type statsFeature struct {
	Name string   `json:"name"`
	Min  *float64 `json:"min"`
	Max  *float64 `json:"max"`
}

type statsTotals struct {
	Requests     int64            `json:"requests"`
	Leads        int64            `json:"leads"`
	ClientErrors int64            `json:"client_errors"`
	ServerErrors int64            `json:"server_errors"`
	Shed         int64            `json:"shed"`
	RateLimited  int64            `json:"rate_limited"`
	Rejections   map[string]int64 `json:"rejections"`
	Tiers        [5]int64         `json:"tiers"`
}

type statsLatency struct {
	WindowSeconds float64  `json:"window_seconds"`
	Requests      int64    `json:"requests"`
	P50ms         *float64 `json:"p50_ms"`
	P90ms         *float64 `json:"p90_ms"`
	P99ms         *float64 `json:"p99_ms"`
}

type statsPoint struct {
	Time              int64    `json:"t"`
	Seconds           float64  `json:"seconds"`
	RequestsPerSecond float64  `json:"requests_per_second"`
	LeadsPerSecond    float64  `json:"leads_per_second"`
	ErrorsPerSecond   float64  `json:"errors_per_second"`
	ShedPerSecond     float64  `json:"shed_per_second"`
	P50ms             *float64 `json:"p50_ms"`
	P90ms             *float64 `json:"p90_ms"`
	P99ms             *float64 `json:"p99_ms"`
}

type statsLake struct {
	Healthy          bool       `json:"healthy"`
	QueueDepth       int64      `json:"queue_depth"`
	QueueCapacity    int64      `json:"queue_capacity"`
	BacklogFiles     int64      `json:"backlog_files"`
	BacklogBytes     int64      `json:"backlog_bytes"`
	RecordsWritten   int64      `json:"records_written"`
	Dropped          int64      `json:"dropped"`
	Uploads          int64      `json:"uploads"`
	UploadFailures   int64      `json:"upload_failures"`
	LastUploadSeenAt *time.Time `json:"last_upload_seen_at"`
}

// finite returns a pointer to v, or nil (JSON null) when v is NaN or
// infinite.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func ms(seconds float64) *float64 { return finite(seconds * 1000) }

// SampleStats snapshots the registry for /v1/stats every interval until
// ctx is done, so rates and latency cover the last minutes even while no
// console is open. Without it /v1/stats still answers, from the snapshots
// its own requests take.
func (s *Server) SampleStats(ctx context.Context) {
	t := time.NewTicker(s.stats.interval)
	defer t.Stop()
	for {
		if _, err := s.stats.sample(time.Now()); err != nil {
			s.log.Warn("stats: cannot read the metrics registry", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// serveStats answers GET /v1/stats.
func (s *Server) serveStats(ex *exchange, r *http.Request) {
	if !s.allowMethod(ex, r, http.MethodGet) || !s.admit(ex, r) {
		return
	}
	now := time.Now()
	samples, err := s.stats.sample(now)
	if err != nil {
		s.fail(ex, newError(http.StatusInternalServerError, codeInternal, "cannot read the metrics registry"))
		return
	}
	s.stats.mu.Lock()
	body := s.buildStats(now, samples)
	s.stats.mu.Unlock()
	out, err := json.Marshal(body)
	if err != nil {
		s.fail(ex, newError(http.StatusInternalServerError, codeInternal, "cannot encode the stats"))
		return
	}
	ex.w.Header()["Cache-Control"] = noStore
	ex.out = append(append(ex.out[:0], out...), '\n')
	s.write(ex, http.StatusOK, ctJSON, ex.out)
}

// buildStats assembles the /v1/stats body; st.mu is held.
func (s *Server) buildStats(now time.Time, samples []statsSample) statsJSON {
	info := s.model.Load().info
	last := &samples[len(samples)-1]
	out := statsJSON{
		GeneratedAt:   now.UTC(),
		StartedAt:     s.stats.started.UTC(),
		UptimeSeconds: now.Sub(s.stats.started).Seconds(),
		Version:       s.version,
		Model: statsModel{
			Name: info.Name, Version: info.Version,
			Features:    make([]statsFeature, len(info.Features)),
			TierCutoffs: info.Tiers[:],
		},
		Totals: statsTotals{
			Requests:     int64(last.requests),
			Leads:        int64(last.rows),
			ClientErrors: int64(last.clientErrs),
			ServerErrors: int64(last.serverErrs),
			Shed:         int64(last.rejections[codeOverloaded]),
			RateLimited:  int64(last.rejections[codeRateLimited]),
			Rejections:   map[string]int64{},
		},
		Series: make([]statsPoint, 0, len(samples)),
		Alerts: append([]statsAlert{}, last.alerts...),
	}
	if s.source != nil {
		out.Model.Source = s.source()
	}
	for i, f := range info.Features {
		out.Model.Features[i] = statsFeature{Name: f.Name, Min: finite(f.Min), Max: finite(f.Max)}
		if f.Min == 0 && f.Max == 0 { // no range known
			out.Model.Features[i].Min, out.Model.Features[i].Max = nil, nil
		}
	}
	for code, v := range last.rejections {
		if v > 0 {
			out.Totals.Rejections[code] = int64(v)
		}
	}
	for t := 1; t <= 5; t++ {
		out.Totals.Tiers[t-1] = int64(last.tiers[t])
	}
	// Headline latency: the last minute, or since the first snapshot.
	var from *statsSample
	for i := len(samples) - 2; i >= 0; i-- {
		from = &samples[i]
		if last.at.Sub(samples[i].at) >= statsLatencyWindow {
			break
		}
	}
	out.Latency.WindowSeconds = now.Sub(s.stats.started).Seconds()
	if from != nil {
		out.Latency.WindowSeconds = last.at.Sub(from.at).Seconds()
	}
	if last.bounds != nil {
		n := last.counts[len(last.counts)-1]
		if from != nil && len(from.counts) == len(last.counts) {
			n -= from.counts[len(from.counts)-1]
		}
		out.Latency.Requests = int64(n)
	}
	out.Latency.P50ms = ms(quantile(0.5, from, last))
	out.Latency.P90ms = ms(quantile(0.9, from, last))
	out.Latency.P99ms = ms(quantile(0.99, from, last))
	for i := 1; i < len(samples); i++ {
		a, b := &samples[i-1], &samples[i]
		dt := b.at.Sub(a.at).Seconds()
		if dt <= 0 {
			continue
		}
		out.Series = append(out.Series, statsPoint{
			Time:              b.at.Unix(),
			Seconds:           dt,
			RequestsPerSecond: (b.requests - a.requests) / dt,
			LeadsPerSecond:    (b.rows - a.rows) / dt,
			ErrorsPerSecond:   (b.clientErrs + b.serverErrs - a.clientErrs - a.serverErrs) / dt,
			ShedPerSecond:     (b.rejections[codeOverloaded] - a.rejections[codeOverloaded]) / dt,
			P50ms:             ms(quantile(0.5, a, b)),
			P90ms:             ms(quantile(0.9, a, b)),
			P99ms:             ms(quantile(0.99, a, b)),
		})
	}
	out.Routes = statsRoutes{Monitoring: s.monitoring != nil, Feedback: s.feedback != nil, Variants: s.comparison != nil}
	if len(last.drift) > 0 {
		out.Drift = driftHistory(samples, info)
	}
	if _, ok := last.lake["leadscore_capture_queue_capacity"]; ok {
		l := last.lake
		out.Lake = &statsLake{
			Healthy:        l["leadscore_capture_healthy"] == 1,
			QueueDepth:     int64(l["leadscore_capture_queue_depth"]),
			QueueCapacity:  int64(l["leadscore_capture_queue_capacity"]),
			BacklogFiles:   int64(l["leadscore_capture_backlog_files"]),
			BacklogBytes:   int64(l["leadscore_capture_backlog_bytes"]),
			RecordsWritten: int64(l["leadscore_capture_records_written_total"]),
			Dropped:        int64(l["leadscore_capture_dropped_total"]),
			Uploads:        int64(l["leadscore_capture_uploads_total"]),
			UploadFailures: int64(l["leadscore_capture_upload_failures_total"]),
		}
		if !s.stats.lastUpload.IsZero() {
			t := s.stats.lastUpload.UTC()
			out.Lake.LastUploadSeenAt = &t
		}
	}
	return out
}

// driftHistory picks up to statsDriftPoints snapshots, evenly spread and
// ending with the newest, and lists each feature's distance in them (null
// before the first evaluation).
func driftHistory(samples []statsSample, info leadscore.ModelInfo) *statsDrift {
	n := min(len(samples), statsDriftPoints)
	d := &statsDrift{Times: make([]int64, n), Score: make([]*float64, n), Features: make(map[string][]*float64, len(info.Features))}
	for _, f := range info.Features {
		d.Features[f.Name] = make([]*float64, n)
	}
	for j := 0; j < n; j++ {
		i := len(samples) - 1 - (n-1-j)*(len(samples)-1)/max(n-1, 1)
		sm := &samples[i]
		d.Times[j] = sm.at.Unix()
		if v, ok := sm.drift[driftScore]; ok {
			d.Score[j] = finite(v)
		}
		for name, vs := range d.Features {
			if v, ok := sm.drift[name]; ok {
				vs[j] = finite(v)
			}
		}
	}
	return d
}
