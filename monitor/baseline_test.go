package monitor

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestBaselineDemo checks the demo baseline's statistics against a direct
// computation over the CSV.
func TestBaselineDemo(t *testing.T) {
	t.Parallel()
	d := loadDemo(t, "leads_10k.csv")
	b := baselineOf(t, d, 0, d.t.Rows)
	nf := len(d.names)
	if b.Statistics.Dataset.ItemCount != 10000 || len(b.Statistics.Features) != nf {
		t.Fatalf("item_count %d, %d features", b.Statistics.Dataset.ItemCount, len(b.Statistics.Features))
	}
	for j, name := range d.names {
		fs := b.Statistics.Features[j]
		var present, missing int64
		sum, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
		integral := true
		var vals []float64
		for i := range d.t.Rows {
			v := float64(d.t.Values[i*nf+j])
			if math.IsNaN(v) {
				missing++
				continue
			}
			present++
			sum += v
			lo, hi = math.Min(lo, v), math.Max(hi, v)
			integral = integral && v == math.Trunc(v)
			vals = append(vals, v)
		}
		mean := sum / float64(present)
		ss := 0.0
		for _, v := range vals {
			ss += (v - mean) * (v - mean)
		}
		std := math.Sqrt(ss / float64(present))
		ns := fs.NumericalStatistics
		if fs.Name != name || ns.Common.NumPresent != present || ns.Common.NumMissing != missing {
			t.Errorf("%s: name %q present %d missing %d, want %d %d", name, fs.Name, ns.Common.NumPresent, ns.Common.NumMissing, present, missing)
		}
		if !approx(ns.Mean, mean, 1e-9) || !approx(ns.Sum, sum, 1e-9) || !approx(ns.StdDev, std, 1e-9) {
			t.Errorf("%s: mean %v sum %v std %v, want %v %v %v", name, ns.Mean, ns.Sum, ns.StdDev, mean, sum, std)
		}
		if canon32(ns.Min) != lo || canon32(ns.Max) != hi {
			t.Errorf("%s: range [%v, %v], want [%v, %v]", name, ns.Min, ns.Max, lo, hi)
		}
		wantType := TypeFractional
		if integral {
			wantType = TypeIntegral
		}
		if fs.InferredType != wantType {
			t.Errorf("%s: type %s, want %s", name, fs.InferredType, wantType)
		}
		// Ten equal-width buckets, [lower, upper) but the last, counted
		// directly against the written bounds.
		bks := ns.Distribution.KLL.Buckets
		if len(bks) != 10 || bks[0].LowerBound != ns.Min || bks[9].UpperBound != ns.Max {
			t.Fatalf("%s: buckets %+v", name, bks)
		}
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		total := 0.0
		for k, bk := range bks {
			// Values >= lower and < upper (<= for the last bucket).
			l, u := canon32(bk.LowerBound), canon32(bk.UpperBound)
			first := sort.SearchFloat64s(sorted, l)
			end := sort.SearchFloat64s(sorted, u)
			if k == 9 {
				end = len(sorted)
			}
			if n := float64(end - first); bk.Count != n {
				t.Errorf("%s bucket %d [%v, %v): %v values, want %v", name, k, bk.LowerBound, bk.UpperBound, bk.Count, n)
			}
			if w := (ns.Max - ns.Min) / 10; !approx(bk.UpperBound-bk.LowerBound, w, 1e-4) {
				t.Errorf("%s bucket %d width %v, want %v", name, k, bk.UpperBound-bk.LowerBound, w)
			}
			total += bk.Count
		}
		if total != float64(present) {
			t.Errorf("%s: buckets hold %v of %d values", name, total, present)
		}
		sk := sketchFromData(int(ns.Distribution.KLL.Sketch.Parameters.K), ns.Distribution.KLL.Sketch.Parameters.C, ns.Distribution.KLL.Sketch.Data)
		if sk.Count() != present {
			t.Errorf("%s: sketch stands for %d values, want %d", name, sk.Count(), present)
		}
		c := b.Constraints.Features[j]
		if c.Name != name || c.InferredType != wantType || *c.Completeness != float64(present)/10000 || c.NumConstraints.IsNonNegative != (lo >= 0) {
			t.Errorf("%s: constraints %+v", name, c)
		}
	}
	dc := b.Constraints.MonitoringConfig.DistributionConstraints
	if dc.ComparisonThreshold != 0.1 || dc.ComparisonMethod != MethodRobust || dc.PerformComparison != "Enabled" {
		t.Errorf("distribution constraints %+v", dc)
	}
	// Scores: tiers and quality against a direct computation.
	s := b.Scores
	var counts [6]int64
	var conv [6]int64
	var rows []labeled
	for i, p := range d.probs {
		tier := d.tiers.Tier(float64(p))
		counts[tier]++
		if d.labels[i] == 1 {
			conv[tier]++
		}
		rows = append(rows, labeled{float64(p), d.labels[i] == 1})
	}
	for _, r := range s.Tiers.Distribution {
		if r.Count != counts[r.Tier] || r.Share != float64(counts[r.Tier])/10000 || r.Conversions != conv[r.Tier] ||
			float64(r.ConversionRate) != float64(conv[r.Tier])/float64(counts[r.Tier]) {
			t.Errorf("tier %+v, want count %d conversions %d", r, counts[r.Tier], conv[r.Tier])
		}
	}
	if got, want := float64(s.BinaryClassificationMetrics.AUC.Value), auc(rows); got != want || got < 0.85 {
		t.Errorf("baseline AUC %v, want %v (and a useful model)", got, want)
	}
	if s.Probability.Name != ProbabilityName || s.Probability.NumericalStatistics.Common.NumPresent != 10000 || s.Label != "converted" {
		t.Errorf("scores probability %+v label %q", s.Probability.Name, s.Label)
	}
}

func approx(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// TestBaselineSchema checks the written files carry Model Monitor's field
// names, and read back to the same baseline.
func TestBaselineSchema(t *testing.T) {
	t.Parallel()
	d := loadDemo(t, "leads_10k.csv")
	b := baselineOf(t, d, 0, 2000)
	dir := t.TempDir()
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	read := func(name string) map[string]any {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	stats := read(StatisticsFile)
	f0 := get(t, stats, "features").([]any)[0].(map[string]any)
	for _, path := range []string{"name", "inferred_type", "numerical_statistics.common.num_present",
		"numerical_statistics.common.num_missing", "numerical_statistics.mean", "numerical_statistics.sum",
		"numerical_statistics.std_dev", "numerical_statistics.min", "numerical_statistics.max",
		"numerical_statistics.distribution.kll.buckets", "numerical_statistics.distribution.kll.sketch.parameters.c",
		"numerical_statistics.distribution.kll.sketch.parameters.k", "numerical_statistics.distribution.kll.sketch.data"} {
		get(t, f0, path)
	}
	bk := get(t, f0, "numerical_statistics.distribution.kll.buckets").([]any)[0].(map[string]any)
	for _, k := range []string{"lower_bound", "upper_bound", "count"} {
		get(t, bk, k)
	}
	if get(t, stats, "version") != 0.0 || get(t, stats, "dataset.item_count") != 2000.0 {
		t.Errorf("version/item_count %v %v", stats["version"], stats["dataset"])
	}
	cons := read(ConstraintsFile)
	c0 := get(t, cons, "features").([]any)[0].(map[string]any)
	for _, path := range []string{"name", "inferred_type", "completeness", "num_constraints.is_non_negative"} {
		get(t, c0, path)
	}
	if get(t, cons, "monitoring_config.distribution_constraints.comparison_threshold") != 0.1 ||
		get(t, cons, "monitoring_config.distribution_constraints.comparison_method") != "Robust" ||
		get(t, cons, "monitoring_config.datatype_check_threshold") != 0.1 {
		t.Errorf("monitoring_config %v", cons["monitoring_config"])
	}
	sc := read(ScoresFile)
	for _, path := range []string{"model.name", "dataset.item_count", "probability.numerical_statistics.distribution.kll.buckets",
		"tiers.cutoffs", "tiers.distribution", "binary_classification_metrics.auc.value",
		"binary_classification_metrics.confusion_matrix", "binary_classification_metrics.receiver_operating_characteristic_curve.false_positive_rates"} {
		get(t, sc, path)
	}
	// Read back: same files when written again.
	back, err := LoadBaseline(dir)
	if err != nil {
		t.Fatal(err)
	}
	dir2 := t.TempDir()
	if err := back.WriteDir(dir2); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{StatisticsFile, ConstraintsFile, ScoresFile} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		c, _ := os.ReadFile(filepath.Join(dir2, name))
		if !bytes.Equal(a, c) {
			t.Errorf("%s changes on a round trip", name)
		}
	}
	// The read baseline compares its own data as identical up to the
	// sketch's rank error.
	for i := range back.features {
		bf := &back.features[i]
		c := newColumn(false)
		c.against(bf)
		nf := len(d.names)
		for r := range 2000 {
			c.add(float64(d.t.Values[r*nf+i]))
		}
		if dist := distance(bf.dist, c.distribution()); dist > 0.01 {
			t.Errorf("%s: distance to its own data %v", bf.name, dist)
		}
	}
}

// get walks a dotted path in decoded JSON, failing when a key is absent.
func get(t *testing.T, v any, path string) any {
	t.Helper()
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not inside an object", path, k)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("%s: no %q", path, k)
		}
	}
	return v
}

// TestEmbeddedBaseline checks the demo bundle ships the baseline of its
// held-out leads, exactly as `leadscore baseline` makes it today.
func TestEmbeddedBaseline(t *testing.T) {
	t.Parallel()
	bd, shipped := demoBaseline(t)
	d := loadDemo(t, "leads_10k.csv")
	fresh := baselineOf(t, d, 0, d.t.Rows)
	dir := t.TempDir()
	if err := fresh.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{StatisticsFile, ConstraintsFile, ScoresFile} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := bd.ReadBaseline(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("bundle/demo/baseline/%s is stale: run go run ./cmd/leadscore baseline --data testdata/lead-demo/leads_10k.csv --out bundle/demo/baseline", name)
		}
	}
	// bias.json and attribution.json, as `leadscore baseline` adds them for
	// the manifest's facets and the model's TreeSHAP.
	extra, err := ComputeBaseline(BaselineInput{Names: d.names, Values: d.t.Values, Rows: d.t.Rows,
		Probabilities: d.probs, Labels: d.labels, Tiers: d.tiers, Bias: bd.Manifest().Bias,
		Explain: bd.Forest().ContributionsBatch})
	if err != nil {
		t.Fatal(err)
	}
	if err := extra.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{BiasFile, AttributionFile} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := bd.ReadBaseline(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("bundle/demo/baseline/%s is stale: run go run ./cmd/leadscore baseline --data testdata/lead-demo/leads_10k.csv --out bundle/demo/baseline", name)
		}
	}
	if shipped.Bias == nil || shipped.Attribution == nil || len(shipped.Bias.PostTraining) != 2 {
		t.Errorf("the demo baseline lacks its bias or attribution files")
	}
	if tiers, ok := shipped.tiers(); !ok || tiers != bd.Manifest().Tiers {
		t.Errorf("baseline tiers %v, bundle %v", tiers, bd.Manifest().Tiers)
	}
}

// TestReadModelMonitorBaseline reads files shaped like those of Model
// Monitor's baselining job: a string feature, no sketch (histogram only),
// no scores.
func TestReadModelMonitorBaseline(t *testing.T) {
	files := map[string]string{
		StatisticsFile: `{"version":0.0,"dataset":{"item_count":100},"features":[
{"name":"x","inferred_type":"Fractional","numerical_statistics":{"common":{"num_present":100,"num_missing":0},"mean":0.5,"sum":50,"std_dev":0.29,"min":0,"max":1,
 "distribution":{"kll":{"buckets":[{"lower_bound":0,"upper_bound":0.5,"count":50},{"lower_bound":0.5,"upper_bound":1,"count":50}],"sketch":{"parameters":{"c":0.64,"k":2048},"data":[]}}}}},
{"name":"country","inferred_type":"String","string_statistics":{"common":{"num_present":100,"num_missing":0},"distinct_count":3}}]}`,
		ConstraintsFile: `{"version":0.0,"features":[{"name":"x","inferred_type":"Fractional","completeness":1.0},{"name":"country","inferred_type":"String","completeness":1.0}],
"monitoring_config":{"evaluate_constraints":"Enabled","emit_metrics":"Enabled","datatype_check_threshold":0.1,"domain_content_threshold":0.1,
"distribution_constraints":{"perform_comparison":"Enabled","comparison_threshold":0.2,"comparison_method":"Simple"}}}`,
	}
	b, err := ReadBaseline(func(name string) ([]byte, error) {
		s, ok := files[name]
		if !ok {
			return nil, os.ErrNotExist
		}
		return []byte(s), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.Scores != nil || len(b.Features()) != 2 || b.comparisonThreshold() != 0.2 || b.comparisonMethod() != MethodSimple {
		t.Fatalf("baseline %+v", b.Constraints.MonitoringConfig)
	}
	ck, err := Checks{MinRows: 10}.resolve(b)
	if err != nil {
		t.Fatal(err)
	}
	// All current values in the lower half: the CDFs differ by 0.5 at the
	// bucket bound 0.5.
	c := newColumn(false)
	c.against(&b.features[0])
	for i := range 40 {
		c.add(float64(i) / 100)
	}
	r, vs := compare(&b.features[0], c, ck)
	if float64(r.Distance) != 0.5 || len(vs) != 1 || vs[0].ConstraintCheckType != CheckDrift {
		t.Errorf("distance %v, violations %v", r.Distance, vs)
	}
	s, vs := compare(&b.features[1], newColumn(false), ck)
	if s.Status != StatusNotNumeric || vs != nil {
		t.Errorf("string feature: %+v %v", s.Status, vs)
	}
}

func TestBaselineErrors(t *testing.T) {
	good := BaselineInput{Names: []string{"a"}, Values: []float32{1, 2}, Rows: 2}
	for name, in := range map[string]BaselineInput{
		"no rows":       {Names: []string{"a"}},
		"shape":         {Names: []string{"a", "b"}, Values: []float32{1}, Rows: 1},
		"probabilities": {Names: good.Names, Values: good.Values, Rows: 2, Probabilities: []float32{0.1}},
		"labels":        {Names: good.Names, Values: good.Values, Rows: 2, Labels: []float64{1}},
		"threshold":     {Names: good.Names, Values: good.Values, Rows: 2, ComparisonThreshold: 2},
		"method":        {Names: good.Names, Values: good.Values, Rows: 2, ComparisonMethod: "Fancy"},
		"names":         {Names: []string{"a", "a"}, Values: []float32{1, 2}, Rows: 1},
	} {
		if _, err := ComputeBaseline(in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A feature always missing and a constant one are fine.
	b, err := ComputeBaseline(BaselineInput{Names: []string{"gone", "same"},
		Values: []float32{float32(math.NaN()), 3, float32(math.NaN()), 3}, Rows: 2})
	if err != nil {
		t.Fatal(err)
	}
	if bk := b.Statistics.Features[1].NumericalStatistics.Distribution.KLL.Buckets; len(bk) != 1 || bk[0].Count != 2 {
		t.Errorf("constant feature buckets %+v", bk)
	}
	if b.Statistics.Features[0].NumericalStatistics.Common.NumMissing != 2 || b.Constraints.Features[0].NumConstraints != nil {
		t.Errorf("missing feature %+v", b.Statistics.Features[0])
	}
	for name, files := range map[string]map[string]string{
		"no statistics": {},
		"bad json":      {StatisticsFile: "{", ConstraintsFile: "{}"},
		"no features":   {StatisticsFile: `{"features":[]}`, ConstraintsFile: "{}"},
		"duplicate":     {StatisticsFile: `{"features":[{"name":"a"},{"name":"a"}]}`, ConstraintsFile: "{}"},
		"unnamed":       {StatisticsFile: `{"features":[{"name":""}]}`, ConstraintsFile: "{}"},
		"range":         {StatisticsFile: `{"features":[{"name":"a","numerical_statistics":{"common":{"num_present":1},"min":2,"max":1}}]}`, ConstraintsFile: "{}"},
		"count":         {StatisticsFile: `{"features":[{"name":"a","numerical_statistics":{"common":{"num_present":1},"min":1,"max":1,"distribution":{"kll":{"buckets":[{"count":-1}]}}}}]}`, ConstraintsFile: "{}"},
		"scores":        {StatisticsFile: `{"features":[{"name":"a"}]}`, ConstraintsFile: "{}", ScoresFile: `{"probability":{}}`},
	} {
		_, err := ReadBaseline(func(name string) ([]byte, error) {
			s, ok := files[name]
			if !ok {
				return nil, os.ErrNotExist
			}
			return []byte(s), nil
		})
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := LoadBaseline(t.TempDir()); err == nil {
		t.Error("empty directory: no error")
	}
	if err := b.WriteDir(filepath.Join(os.DevNull, "x")); err == nil {
		t.Error("unwritable directory: no error")
	}
}
