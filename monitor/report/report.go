// Package report renders a monitoring report as one self-contained HTML
// page: a summary, the violations, and per feature an inline SVG chart of
// the baseline and current distribution over the baseline's buckets. The
// page loads nothing from anywhere.
package report

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"

	"github.com/leadscore/leadscore/monitor"
)

//go:embed page.html.tmpl
var files embed.FS

// page is the parsed template; parsing an embedded, fixed template cannot
// fail at run time once the tests pass.
var page = template.Must(template.New("page.html.tmpl").Funcs(template.FuncMap{
	"num": num, "pct": pct, "fix": fix, "signed": signed, "violated": violated,
}).ParseFS(files, "page.html.tmpl"))

// Chart geometry, in SVG user units.
const (
	chartW   = 360.0
	chartH   = 120.0
	chartPad = 4.0
	labelH   = 14.0
)

// bar is one bucket's pair of bars.
type bar struct {
	X, W, CurX   float64
	BaseY, BaseH float64
	CurY, CurH   float64
	Title        string
}

// chart is a feature's distribution chart.
type chart struct {
	Bars        []bar
	Width       float64
	Height      float64
	Lo, Hi      string
	BaselineTop float64
	LabelY      float64
}

// card is one feature's section.
type card struct {
	monitor.FeatureReport
	Chart      *chart
	Violations []monitor.Violation
}

// view is the template's data.
type view struct {
	R          *monitor.Report
	Cards      []card
	Prediction *card
	Tiers      []monitor.TierShare
	TierChart  *chart
	Counts     map[string]int
	// AttrChart draws the baseline and current attribution of the top
	// features by baseline attribution.
	AttrChart *chart
}

// attrChartFeatures is how many features the attribution chart draws.
const attrChartFeatures = 10

// Write renders r as HTML to w.
func Write(w io.Writer, r *monitor.Report) error {
	byFeature := map[string][]monitor.Violation{}
	counts := map[string]int{}
	for _, v := range r.ConstraintViolations.Violations {
		byFeature[v.FeatureName] = append(byFeature[v.FeatureName], v)
		counts[v.ConstraintCheckType]++
	}
	v := view{R: r, Counts: counts}
	for _, f := range r.Features {
		v.Cards = append(v.Cards, card{FeatureReport: f, Chart: bucketChart(f.Buckets), Violations: byFeature[f.Name]})
	}
	if p := r.Prediction; p != nil {
		v.Prediction = &card{FeatureReport: p.FeatureReport, Chart: bucketChart(p.Buckets), Violations: byFeature[p.Name]}
		v.Tiers = p.Tiers
		v.TierChart = tierChart(p.Tiers)
	}
	if a := r.Attribution; a != nil && len(a.Features) > 0 {
		v.AttrChart = attributionChart(a.Features)
	}
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

// bucketChart draws baseline (grey) and current (blue) shares per bucket.
func bucketChart(bs []monitor.BucketShare) *chart {
	if len(bs) == 0 {
		return nil
	}
	base := make([]float64, len(bs))
	cur := make([]float64, len(bs))
	for i, b := range bs {
		base[i], cur[i] = b.Baseline, b.Current
	}
	titles := make([]string, len(bs))
	for i, b := range bs {
		titles[i] = fmt.Sprintf("[%s, %s): baseline %s, current %s", num(b.LowerBound), num(b.UpperBound), pct(b.Baseline), pct(b.Current))
	}
	c := bars(base, cur, titles)
	c.Lo, c.Hi = num(bs[0].LowerBound), num(bs[len(bs)-1].UpperBound)
	return c
}

// attributionChart draws the mean |SHAP| of the features of largest
// baseline attribution, baseline and current.
func attributionChart(fs []monitor.FeatureAttribution) *chart {
	fs = fs[:min(len(fs), attrChartFeatures)]
	base := make([]float64, len(fs))
	cur := make([]float64, len(fs))
	titles := make([]string, len(fs))
	for i, f := range fs {
		base[i], cur[i] = finite(float64(f.Baseline)), finite(float64(f.Current))
		titles[i] = fmt.Sprintf("%s: baseline %s (rank %d), current %s", f.Name, num(f.Baseline), f.BaselineRank, num(f.Current))
	}
	c := bars(base, cur, titles)
	c.Lo, c.Hi = fs[0].Name, fs[len(fs)-1].Name
	return c
}

// tierChart draws the tier shares.
func tierChart(ts []monitor.TierShare) *chart {
	base := make([]float64, len(ts))
	cur := make([]float64, len(ts))
	titles := make([]string, len(ts))
	for i, t := range ts {
		base[i], cur[i] = finite(float64(t.BaselineShare)), finite(float64(t.Share))
		titles[i] = fmt.Sprintf("tier %d: baseline %s, current %s", t.Tier, pct(base[i]), pct(cur[i]))
	}
	c := bars(base, cur, titles)
	c.Lo, c.Hi = "tier 1", "tier 5"
	return c
}

// bars lays out pairs of bars scaled to the largest share.
func bars(base, cur []float64, titles []string) *chart {
	top := 0.0
	for i := range base {
		top = math.Max(top, math.Max(base[i], cur[i]))
	}
	if top == 0 {
		top = 1
	}
	plotH := chartH - labelH - chartPad
	slot := (chartW - 2*chartPad) / float64(len(base))
	c := &chart{Width: chartW, Height: chartH, LabelY: chartH - 2, BaselineTop: chartPad}
	for i := range base {
		bh, ch := plotH*base[i]/top, plotH*cur[i]/top
		x := chartPad + float64(i)*slot
		c.Bars = append(c.Bars, bar{
			X: round(x + slot*0.1), W: round(slot * 0.4), CurX: round(x + slot*0.5),
			BaseY: round(chartPad + plotH - bh), BaseH: round(bh),
			CurY: round(chartPad + plotH - ch), CurH: round(ch),
			Title: titles[i],
		})
	}
	return c
}

func round(v float64) float64 { return math.Round(v*10) / 10 }

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// num formats a number briefly; NaN as a dash.
func num(v any) string {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case monitor.Float:
		f = float64(x)
	case *monitor.Float:
		if x == nil {
			return "–"
		}
		f = float64(*x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	default:
		return fmt.Sprint(v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "–"
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}

// fix formats a distance or an index with four decimals; NaN as a dash.
func fix(v monitor.Float) string {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "–"
	}
	return strconv.FormatFloat(f, 'f', 4, 64)
}

// signed formats a change with its sign, as a percentage of points; NaN
// as a dash.
func signed(v monitor.Float) string {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "–"
	}
	s := strconv.FormatFloat(100*f, 'f', 2, 64) + " pp"
	if f > 0 {
		s = "+" + s
	}
	return s
}

// violated reports whether a facet group has a metric out of range.
func violated(ms []monitor.BiasMetric) bool {
	for _, m := range ms {
		if m.Status == monitor.StatusViolation {
			return true
		}
	}
	return false
}

// pct formats a share as a percentage; NaN as a dash.
func pct(v any) string {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case monitor.Float:
		f = float64(x)
	default:
		return fmt.Sprint(v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "–"
	}
	return strconv.FormatFloat(100*f, 'f', 1, 64) + "%"
}
