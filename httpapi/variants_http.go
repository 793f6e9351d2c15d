package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore/variant"
)

// setVariants publishes the variants' configuration in
// leadscore_variant_weight.
func (m *metrics) setVariants(vs *variantSet) {
	m.variantConfig.Reset()
	for i, sp := range vs.specs {
		info := vs.models[i].info
		m.variantConfig.WithLabelValues(sp.Name, string(sp.Role), info.Name, info.Version).Set(vs.shares[i])
		m.variantLeads.WithLabelValues(sp.Name)
	}
}

// VariantsJSON is the body of GET /v1/variants (docs/variants.md).
type VariantsJSON struct {
	// Enabled is false when the server serves one model (no variants).
	Enabled  bool   `json:"enabled"`
	Champion string `json:"champion"`
	// Variants are in declaration order.
	Variants    []VariantJSON        `json:"variants"`
	Comparisons []variant.Comparison `json:"comparisons"`
	Shadow      ShadowJSON           `json:"shadow_queue"`
	// PendingOutcomes is the outcomes posted before their lead's score
	// reached the comparison, waiting for it (--variant-pending-outcomes).
	PendingOutcomes variant.PendingStats `json:"pending_outcomes"`
	// Window is how many latest leads the comparison is over.
	Window    int       `json:"window_leads"`
	Generated time.Time `json:"generated_at"`
}

// VariantJSON is one variant: its declaration, model, counters and, with
// a comparison, its live statistics.
type VariantJSON struct {
	variant.Stats
	Source string `json:"source,omitempty"`
	// Weight is the declared weight, ConfiguredShare its normalised share
	// of live traffic; Sample a shadow's sampled share of leads.
	Weight          float64   `json:"weight"`
	ConfiguredShare float64   `json:"configured_share"`
	Sample          float64   `json:"sample,omitempty"`
	Model           ModelJSON `json:"model"`
	// ShadowShed is the leads this variant did not shadow-score, for
	// either reason; ShadowShedNoSpareCPU those of them shed because live
	// work was waiting for the cores (the rest found the queue full).
	ShadowShed           int64 `json:"shadow_shed"`
	ShadowShedNoSpareCPU int64 `json:"shadow_shed_no_spare_cpu"`
	ShadowFailed         int64 `json:"shadow_failed"`
}

// ModelJSON names a model version.
type ModelJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ShadowJSON is the shadow queue now.
type ShadowJSON struct {
	Capacity int `json:"capacity"`
	Length   int `json:"length"`
	// Pending is the jobs queued or being scored (0: drained).
	Pending int   `json:"pending"`
	Dropped int64 `json:"comparison_dropped"`
	// CPULoad is the process's CPU load the last time shadow scoring
	// looked (time its threads ran or waited for a core, over GOMAXPROCS
	// cores' time; 0 when unknown), CPUWaitMS how long they waited for a
	// core on average each time they ran; past MaxCPULoad or
	// MaxCPUWaitMS shadow scoring is shed (0: never).
	CPULoad      float64 `json:"cpu_load"`
	CPUWaitMS    float64 `json:"cpu_wait_ms"`
	MaxCPULoad   float64 `json:"max_cpu_load"`
	MaxCPUWaitMS float64 `json:"max_cpu_wait_ms"`
}

type cachedReport struct {
	at        time.Time
	feedbacks uint64 // the comparison's Feedbacks when computed
	r         *variant.Report
}

// report returns the live comparison, computed at most once a second
// (/metrics scrapes and GET /v1/variants share it), and again at once
// after outcomes arrive: a verdict read right after POST /v1/feedback
// counts them.
func (s *Server) report() *variant.Report {
	if s.comparison == nil {
		return nil
	}
	fb := s.comparison.Feedbacks()
	if c := s.reportCache.Load(); c != nil && c.feedbacks == fb && time.Since(c.at) < time.Second {
		return c.r
	}
	r := s.comparison.Report()
	s.reportCache.Store(&cachedReport{at: time.Now(), feedbacks: fb, r: r})
	return r
}

// VariantsReport builds the GET /v1/variants body.
func (s *Server) VariantsReport() *VariantsJSON {
	out := &VariantsJSON{Variants: []VariantJSON{}, Comparisons: []variant.Comparison{}, Generated: time.Now().UTC()}
	vs := s.variants.Load()
	if vs == nil {
		return out
	}
	out.Enabled = true
	out.Champion = vs.specs[vs.champion].Name
	out.Shadow.Capacity, out.Shadow.Length, out.Shadow.Pending = s.shadowQueueState()
	if s.cpuLoad != nil {
		out.Shadow.CPULoad = math.Round(s.cpuLoad.Load()*1000) / 1000
		out.Shadow.CPUWaitMS = float64(s.cpuLoad.MeanWait().Microseconds()) / 1000
		out.Shadow.MaxCPULoad = max(s.cpuLoad.limit, 0)
		out.Shadow.MaxCPUWaitMS = float64(max(s.cpuLoad.waitLimit, 0).Microseconds()) / 1000
	}
	rep := s.report()
	byName := map[string]variant.Stats{}
	if rep != nil {
		for _, v := range rep.Variants {
			byName[v.Name] = v
		}
		for _, c := range rep.Comparisons {
			if _, ok := vs.byName[c.Challenger]; ok && c.Champion == out.Champion {
				out.Comparisons = append(out.Comparisons, c)
			}
		}
		out.Shadow.Dropped = s.comparison.Dropped()
		out.Window = s.comparison.Window()
		out.PendingOutcomes = s.comparison.Pending()
	}
	for i, sp := range vs.specs {
		vr, ok := byName[sp.Name]
		if !ok {
			vr = variant.Stats{Name: sp.Name, Share: variant.Num(math.NaN())}
			nan := variant.Num(math.NaN())
			vr.Latency = variant.Latency{P50: nan, P90: nan, P99: nan}
			for k := range vr.Tiers {
				vr.Tiers[k] = nan
			}
		}
		vr.Role = sp.Role
		st := s.variantState(sp.Name)
		info := vs.models[i].info
		out.Variants = append(out.Variants, VariantJSON{
			Stats: vr, Source: sp.Source, Weight: sp.Weight, ConfiguredShare: vs.shares[i], Sample: sp.Sample,
			Model: ModelJSON{Name: info.Name, Version: info.Version}, ShadowShed: st.shed.Load(), ShadowShedNoSpareCPU: st.shedCPU.Load(), ShadowFailed: st.failed.Load(),
		})
	}
	return out
}

// serveVariants answers GET /v1/variants.
func (s *Server) serveVariants(ex *exchange, r *http.Request) {
	if !s.allowMethod(ex, r, http.MethodGet) {
		return
	}
	body, err := json.MarshalIndent(s.VariantsReport(), "", "  ")
	if err != nil {
		s.fail(ex, newError(http.StatusInternalServerError, codeInternal, "encode variants: %v", err))
		return
	}
	ex.w.Header()["Cache-Control"] = noStore
	s.write(ex, http.StatusOK, ctJSON, append(body, '\n'))
}

// variantChange is the body of POST /admin/variants: new weights, roles
// or shadow shares for the variants served now (by name). Variants left
// out keep their settings; sources change through the config file.
type variantChange struct {
	Variants []struct {
		Name   string        `json:"name"`
		Role   *variant.Role `json:"role"`
		Weight *float64      `json:"weight"`
		Sample *float64      `json:"sample"`
	} `json:"variants"`
}

// serveAdminVariants answers POST /admin/variants (admin key): change
// weights and roles without a restart.
func (s *Server) serveAdminVariants(ex *exchange, r *http.Request) {
	if !s.allowMethod(ex, r, http.MethodPost) || !s.adminKey(ex, r) {
		return
	}
	cur := s.variants.Load()
	if cur == nil {
		s.fail(ex, newError(http.StatusNotFound, codeNotFound, "variants are off: the server was started with one model"))
		return
	}
	body, aerr := s.readBody(ex, r)
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	var ch variantChange
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil {
		s.fail(ex, newError(http.StatusBadRequest, codeBadJSON, "want {\"variants\": [{\"name\", \"role\", \"weight\", \"sample\"}]}: %v", err))
		return
	}
	vars := make([]Variant, len(cur.specs))
	for i := range vars {
		vars[i] = Variant{Spec: cur.specs[i], Loader: cur.loaders[i]}
	}
	for k, c := range ch.Variants {
		i, ok := cur.byName[c.Name]
		if !ok {
			e := newError(http.StatusBadRequest, codeUnknownVariant, "variants[%d].name: %q names no variant: this server serves %s", k, truncateName(c.Name), variantNames(cur))
			e.Feature = fmt.Sprintf("variants[%d].name", k)
			s.fail(ex, e)
			return
		}
		sp := &vars[i].Spec
		if c.Role != nil {
			sp.Role = *c.Role
			if sp.Role == variant.Shadow && sp.Sample == 0 {
				sp.Sample = 1
			}
		}
		if c.Weight != nil {
			sp.Weight = *c.Weight
		}
		if c.Sample != nil {
			sp.Sample = *c.Sample
		}
		if sp.Role == variant.Shadow {
			sp.Weight = 0
		}
	}
	if err := s.SetVariants(context.WithoutCancel(r.Context()), vars, "admin"); err != nil {
		s.fail(ex, newError(http.StatusUnprocessableEntity, codeInvalidValue, "%v", err))
		return
	}
	out, _ := json.Marshal(map[string]any{"status": "changed", "variants": s.Variants()})
	s.write(ex, http.StatusOK, ctJSON, append(out, '\n'))
}

// comparisonCollector exports the live comparison in /metrics.
type comparisonCollector struct {
	s                                             *Server
	share, latency, tiers, auc, rho, agree, shift *prometheus.Desc
	aucDiff, ciLow, ciHigh, verdict, paired       *prometheus.Desc
	pending, pendingJoined, pendingEvicted        *prometheus.Desc
}

func newComparisonCollector(s *Server) *comparisonCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("leadscore_variant_"+name, help, labels, nil)
	}
	return &comparisonCollector{
		s:       s,
		share:   d("live_share", "Share of live leads each variant answered in the comparison window.", "variant"),
		latency: d("latency_ms", "Latency percentiles of each variant's live answers in the window, milliseconds.", "variant", "quantile"),
		tiers:   d("tier_share", "Share of each variant's live answers in each tier.", "variant", "tier"),
		auc:     d("auc", "AUC of each variant on leads with outcomes in the window.", "variant"),
		rho:     d("rank_correlation", "Spearman rank correlation of challenger and champion scores on the same leads.", "challenger"),
		agree:   d("tier_agreement", "Share of leads challenger and champion put in the same tier.", "challenger"),
		shift:   d("mean_shift", "Mean challenger minus champion probability on the same leads.", "challenger"),
		aucDiff: d("auc_difference", "Challenger minus champion AUC on the same leads with outcomes.", "challenger"),
		ciLow:   d("auc_difference_ci95_low", "Low end of the 95% DeLong interval of the AUC difference.", "challenger"),
		ciHigh:  d("auc_difference_ci95_high", "High end of the 95% DeLong interval of the AUC difference.", "challenger"),
		verdict: d("verdict", "1 for the challenger's current verdict.", "challenger", "verdict"),
		paired:  d("paired_leads", "Leads both challenger and champion scored in the window.", "challenger"),
		pending: d("pending_outcomes", "Outcomes posted before their lead's score reached the live comparison, waiting for it."),
		pendingJoined: d("pending_outcomes_joined_total",
			"Outcomes attached to their lead when its score arrived after them."),
		pendingEvicted: d("pending_outcomes_evicted_total",
			"Waiting outcomes evicted because the pending store (--variant-pending-outcomes) was full."),
	}
}

func (c *comparisonCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.share, c.latency, c.tiers, c.auc, c.rho, c.agree, c.shift, c.aucDiff, c.ciLow, c.ciHigh, c.verdict, c.paired,
		c.pending, c.pendingJoined, c.pendingEvicted} {
		ch <- d
	}
}

func (c *comparisonCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.variants.Load() == nil {
		return
	}
	rep := c.s.report()
	if rep == nil {
		return
	}
	p := c.s.comparison.Pending()
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(p.Pending))
	ch <- prometheus.MustNewConstMetric(c.pendingJoined, prometheus.CounterValue, float64(p.Joined))
	ch <- prometheus.MustNewConstMetric(c.pendingEvicted, prometheus.CounterValue, float64(p.Evicted))
	gauge := func(d *prometheus.Desc, v variant.Num, labels ...string) {
		if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, f, labels...)
		}
	}
	for _, v := range rep.Variants {
		gauge(c.share, v.Share, v.Name)
		gauge(c.latency, v.Latency.P50, v.Name, "0.5")
		gauge(c.latency, v.Latency.P90, v.Name, "0.9")
		gauge(c.latency, v.Latency.P99, v.Name, "0.99")
		for k, t := range v.Tiers {
			gauge(c.tiers, t, v.Name, strconv.Itoa(k+1))
		}
		if v.Quality != nil {
			gauge(c.auc, v.Quality.AUC, v.Name)
		}
	}
	for _, cmp := range rep.Comparisons {
		gauge(c.rho, cmp.RankCorrelation, cmp.Challenger)
		gauge(c.agree, cmp.TierAgreement, cmp.Challenger)
		gauge(c.shift, cmp.MeanShift, cmp.Challenger)
		gauge(c.paired, variant.Num(cmp.Leads), cmp.Challenger)
		if cmp.AUC != nil {
			gauge(c.aucDiff, cmp.AUC.Difference, cmp.Challenger)
			gauge(c.ciLow, cmp.AUC.CI95[0], cmp.Challenger)
			gauge(c.ciHigh, cmp.AUC.CI95[1], cmp.Challenger)
		}
		ch <- prometheus.MustNewConstMetric(c.verdict, prometheus.GaugeValue, 1, cmp.Challenger, cmp.Verdict)
	}
}
