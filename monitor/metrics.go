package monitor

import (
	"fmt"
	"math"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the monitor's Prometheus series.
type metrics struct {
	records, dropped, rejected prometheus.Counter
	windowRows                 prometheus.Gauge
	distance, psi              *prometheus.GaugeVec
	completeness, outOfRange   *prometheus.GaugeVec
	predDistance, predPSI      prometheus.Gauge
	violations                 *prometheus.GaugeVec
	auc, labeled               prometheus.Gauge
	feedback                   *prometheus.CounterVec
	evaluations                prometheus.Counter
	lastEval                   prometheus.Gauge
	bias                       *prometheus.GaugeVec
	ndcg                       prometheus.Gauge
	attribution                *prometheus.GaugeVec
	explained, shed, limited   prometheus.Gauge
}

// register registers every collector on reg.
func register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register monitor metrics: %w", err)
		}
	}
	return nil
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	feature := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"feature"})
	}
	m := &metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_monitor_records_total", Help: "Scored records handed to the drift monitor."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_monitor_records_dropped_total", Help: "Scored records the drift monitor dropped because its queue was full."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_monitor_records_rejected_total", Help: "Scored records refused for not having the model's feature count."}),
		windowRows: gauge("leadscore_monitor_window_rows", "Rows in the live monitoring window."),
		distance: feature("leadscore_monitor_feature_distance",
			"Largest gap between the baseline and the window's cumulative distribution of a feature (Model Monitor's baseline drift distance)."),
		psi:          feature("leadscore_monitor_feature_psi", "Population stability index of a feature over the baseline's buckets."),
		completeness: feature("leadscore_monitor_feature_completeness", "Share of the window's rows where a feature is present."),
		outOfRange:   feature("leadscore_monitor_feature_out_of_range_ratio", "Share of a feature's present values outside the baseline's range."),
		predDistance: gauge("leadscore_monitor_prediction_distance", "Baseline drift distance of the predicted probability."),
		predPSI:      gauge("leadscore_monitor_prediction_psi", "Population stability index of the predicted probability."),
		violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leadscore_monitor_violations", Help: "Constraint violations in the window, by check type."}, []string{"check"}),
		auc:     gauge("leadscore_monitor_quality_auc", "ROC AUC over the window's rows with a known outcome (NaN without both outcomes)."),
		labeled: gauge("leadscore_monitor_quality_labeled_rows", "Window rows with a known outcome."),
		feedback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_monitor_feedback_total", Help: "Ground-truth outcomes received, by whether they matched a prediction in the window."}, []string{"result"}),
		evaluations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_monitor_evaluations_total", Help: "Evaluations of the monitoring checks."}),
		lastEval: gauge("leadscore_monitor_last_evaluation_timestamp_seconds", "When the checks were last evaluated."),
		bias: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "leadscore_monitor_bias_metric",
			Help: "Clarify bias metric of a facet group against the rest over the window (NaN: insufficient data)."},
			[]string{"facet", "facet_value", "metric"}),
		ndcg: gauge("leadscore_monitor_attribution_ndcg", "NDCG of the live feature attribution ranking against the baseline's (NaN until enough leads are explained)."),
		attribution: feature("leadscore_monitor_feature_attribution",
			"Mean |SHAP| of a feature over the latest explained leads (margin units)."),
		explained: gauge("leadscore_monitor_attribution_explained", "Scored leads explained for attribution drift since start."),
		shed:      gauge("leadscore_monitor_attribution_shed", "Sampled leads shed because the explainer was busy, since start."),
		limited: gauge("leadscore_monitor_attribution_rate_limited",
			"Sampled leads left unexplained by the cap on leads explained per second, since start."),
	}
	err := register(reg, m.records, m.dropped, m.rejected, m.windowRows, m.distance, m.psi, m.completeness,
		m.outOfRange, m.predDistance, m.predPSI, m.violations, m.auc, m.labeled, m.feedback, m.evaluations, m.lastEval,
		m.bias, m.ndcg, m.attribution, m.explained, m.shed, m.limited)
	if err != nil {
		return nil, err
	}
	for _, c := range []string{CheckDataType, CheckCompleteness, CheckDrift, CheckMissingCol, CheckExtraCol, CheckOutOfRange} {
		m.violations.WithLabelValues(c).Set(0)
	}
	m.feedback.WithLabelValues("matched")
	m.feedback.WithLabelValues("unmatched")
	return m, nil
}

// observe publishes a report's figures.
func (m *metrics) observe(r *Report) {
	m.windowRows.Set(float64(r.Window.Rows))
	for _, f := range r.Features {
		if f.Status == StatusMissing || f.Status == StatusNotNumeric {
			continue
		}
		m.distance.WithLabelValues(f.Name).Set(float64(f.Distance))
		m.psi.WithLabelValues(f.Name).Set(float64(f.PSI))
		m.completeness.WithLabelValues(f.Name).Set(float64(f.Completeness))
		m.outOfRange.WithLabelValues(f.Name).Set(float64(f.OutOfRangeRatio))
	}
	if p := r.Prediction; p != nil {
		m.predDistance.Set(float64(p.Distance))
		m.predPSI.Set(float64(p.PSI))
	}
	counts := map[string]int{}
	for _, v := range r.ConstraintViolations.Violations {
		counts[v.ConstraintCheckType]++
	}
	for _, c := range []string{CheckDataType, CheckCompleteness, CheckDrift, CheckMissingCol, CheckExtraCol, CheckOutOfRange, CheckBias, CheckAttribution} {
		m.violations.WithLabelValues(c).Set(float64(counts[c]))
	}
	if b := r.Bias; b != nil {
		for _, f := range b.Facets {
			for _, mt := range f.Metrics {
				v := math.NaN()
				if mt.Value != nil {
					v = float64(*mt.Value)
				}
				m.bias.WithLabelValues(f.Facet, f.FacetValue, mt.Name).Set(v)
			}
		}
	}
	if a := r.Attribution; a != nil {
		m.ndcg.Set(float64(a.NDCG))
		m.explained.Set(float64(a.Explained))
		m.shed.Set(float64(a.Shed))
		m.limited.Set(float64(a.RateLimited))
		for _, f := range a.Features {
			m.attribution.WithLabelValues(f.Name).Set(float64(f.Current))
		}
	}
	if q := r.Quality; q != nil {
		m.labeled.Set(float64(q.LabeledRows))
		if q.BinaryClassificationMetrics != nil {
			m.auc.Set(float64(q.BinaryClassificationMetrics.AUC.Value))
		}
	}
	m.evaluations.Inc()
	m.lastEval.Set(float64(r.GeneratedAt.UnixNano()) / 1e9)
}
