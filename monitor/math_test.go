package monitor

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
)

func exactCDF(xs ...float64) cdf {
	s := slices.Clone(xs)
	slices.Sort(s)
	return cdfOfSorted(s)
}

// TestDistance checks the CDF distance against values worked out by hand.
func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		// F_a reaches 0.5 at 2 while F_b is still 0: the gap is 0.5.
		{"shifted", []float64{1, 2, 3, 4}, []float64{3, 4, 5, 6}, 0.5},
		{"same", []float64{1, 2, 3}, []float64{3, 2, 1}, 0},
		{"disjoint", []float64{1, 2}, []float64{5, 6}, 1},
		// Ties: at 1, F_a = 3/4 and F_b = 1/4.
		{"ties", []float64{1, 1, 1, 2}, []float64{1, 2, 2, 2}, 0.5},
		// At 2: F_a = 2/3, F_b = 1/5.
		{"sizes", []float64{1, 2, 3}, []float64{2, 3, 3, 3, 3}, 2.0/3.0 - 1.0/5.0},
		{"empty", nil, []float64{1}, 0},
	} {
		got := distance(exactCDF(tc.a...), exactCDF(tc.b...))
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: distance %v, want %v", tc.name, got, tc.want)
		}
		if back := distance(exactCDF(tc.b...), exactCDF(tc.a...)); back != got {
			t.Errorf("%s: not symmetric: %v and %v", tc.name, got, back)
		}
	}
	// Weighted items: {1 x3, 2 x1} is the same distribution as 1,1,1,2.
	w := newCDF([]weighted{{2, 1}, {1, 3}})
	if d := distance(w, exactCDF(1, 1, 1, 2)); d != 0 || w.atMost(1) != 3 || w.below(1) != 0 || w.below(2) != 3 || w.atMost(0.5) != 0 {
		t.Errorf("weighted cdf %+v, distance %v", w, d)
	}
	if d := distanceAt([]float64{2}, exactCDF(1, 2, 3, 4), exactCDF(3, 4, 5, 6)); d != 0.5 {
		t.Errorf("distanceAt %v", d)
	}
	if d := distanceAt([]float64{2}, exactCDF(), exactCDF(1)); d != 0 {
		t.Errorf("distanceAt of nothing %v", d)
	}
	// sqrt(-ln(0.005)/2) * sqrt((n+m)/(nm)) with n = m = 50: 1.6276 * 0.2.
	if c := ksCritical(50, 50); math.Abs(c-0.32552) > 1e-4 {
		t.Errorf("ksCritical(50, 50) = %v", c)
	}
	if !math.IsInf(ksCritical(0, 10), 1) {
		t.Error("ksCritical of no values is not infinite")
	}
}

// TestPSI checks the population stability index against hand computation.
func TestPSI(t *testing.T) {
	for _, tc := range []struct {
		name      string
		base, cur []float64
		want      float64
	}{
		// (0.25-0.5)ln(0.25/0.5) + (0.75-0.5)ln(0.75/0.5)
		{"two buckets", []float64{0.5, 0.5}, []float64{0.25, 0.75}, 0.25*math.Ln2 + 0.25*math.Log(1.5)},
		{"same", []float64{0.1, 0.2, 0.7}, []float64{0.1, 0.2, 0.7}, 0},
		// An empty bucket counts as 0.0001: (0.0001-0.5)ln(0.0002) + 0.5 ln 2... worked out below.
		{"empty bucket", []float64{0.5, 0.5}, []float64{0, 1}, (1e-4-0.5)*math.Log(1e-4/0.5) + 0.5*math.Log(2)},
	} {
		if got := psi(tc.base, tc.cur); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: psi %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCompareHandComputed runs the feature checks on a tiny baseline.
func TestCompareHandComputed(t *testing.T) {
	// Baseline: 0..9 once each, integral, complete.
	vals := make([]float32, 10)
	for i := range vals {
		vals[i] = float32(i)
	}
	b, err := ComputeBaseline(BaselineInput{Names: []string{"n"}, Values: vals, Rows: 10})
	if err != nil {
		t.Fatal(err)
	}
	bf := &b.features[0]
	ck, err := Checks{MinRows: 4, ComparisonMethod: MethodSimple}.resolve(b)
	if err != nil {
		t.Fatal(err)
	}
	run := func(xs ...float64) (FeatureReport, map[string]bool) {
		c := newColumn(false)
		c.against(bf)
		for _, x := range xs {
			c.add(x)
		}
		r, vs := compare(bf, c, ck)
		got := map[string]bool{}
		for _, v := range vs {
			got[v.ConstraintCheckType] = true
		}
		return r, got
	}
	// Current 0..4 twice: F_cur(4) = 1, F_base(4) = 0.5.
	r, vs := run(0, 1, 2, 3, 4, 0, 1, 2, 3, 4)
	if float64(r.Distance) != 0.5 || !vs[CheckDrift] || len(vs) != 1 || r.Status != StatusViolation {
		t.Errorf("lower half: distance %v, violations %v", r.Distance, vs)
	}
	// Buckets of width 0.9: shares 0.2 in the first five, 0 in the rest.
	want := 0.0
	for k := range 10 {
		c := 0.0
		if k < 5 {
			c = 0.2
		}
		want += (math.Max(c, 1e-4) - 0.1) * math.Log(math.Max(c, 1e-4)/0.1)
	}
	if math.Abs(float64(r.PSI)-want) > 1e-12 {
		t.Errorf("psi %v, want %v", r.PSI, want)
	}
	// Half missing: completeness 0.5 < 1 - 0.02.
	nan := math.NaN()
	r, vs = run(0, 5, 9, 2, 7, nan, nan, nan, nan, nan)
	if float64(r.Completeness) != 0.5 || !vs[CheckCompleteness] {
		t.Errorf("completeness %v, violations %v", r.Completeness, vs)
	}
	// Non-integers in an Integral feature, out of range values.
	r, vs = run(0.5, 1.5, 2.5, 3, 4, 5, 6, 7, 8, 20)
	if !vs[CheckDataType] || !vs[CheckOutOfRange] || float64(r.OutOfRangeRatio) != 0.1 || float64(r.NonIntegralRatio) != 0.3 {
		t.Errorf("type/range: %v, ratios %v %v", vs, r.OutOfRangeRatio, r.NonIntegralRatio)
	}
	// Too few rows: no check.
	r, vs = run(100, 100)
	if r.Status != StatusInsufficient || len(vs) != 0 {
		t.Errorf("few rows: %s %v", r.Status, vs)
	}
	// Robust: 0.5 is below the KS critical value for 10 and 10 values.
	ck.ComparisonMethod = MethodRobust
	r, vs = run(0, 1, 2, 3, 4, 0, 1, 2, 3, 4)
	if crit := ksCritical(10, 10); float64(r.DistanceLimit) != crit || vs[CheckDrift] {
		t.Errorf("robust: limit %v (critical %v), violations %v", r.DistanceLimit, crit, vs)
	}
	// PSI threshold.
	ck.ComparisonMethod, ck.PSIThreshold, ck.ComparisonThreshold = MethodSimple, 0.5, 1
	_, vs = run(0, 1, 2, 3, 4, 0, 1, 2, 3, 4)
	if !vs[CheckDrift] {
		t.Errorf("psi threshold: %v", vs)
	}
}

// TestSketch checks the KLL sketch's rank error and determinism.
func TestSketch(t *testing.T) {
	t.Parallel()
	const n = 200000
	build := func() *Sketch {
		s := NewSketch(256, 0)
		x := uint64(12345)
		for range n {
			x = x*6364136223846793005 + 1442695040888963407
			s.Add(float64(x>>11) / float64(1<<53))
		}
		s.Add(math.NaN())
		return s
	}
	s := build()
	if s.Count() != n {
		t.Fatalf("count %d", s.Count())
	}
	if held := s.size; held > 2000 {
		t.Errorf("sketch of k=256 holds %d items", held)
	}
	c := s.cdf()
	for _, q := range []float64{0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99} {
		if got := c.atMost(q) / c.total; math.Abs(got-q) > 0.015 {
			t.Errorf("rank of %v: %v", q, got)
		}
	}
	if !slices.EqualFunc(s.Data(), build().Data(), slices.Equal) {
		t.Error("the same input gave two different sketches")
	}
	if NewSketch(1, 2).k != DefaultSketchK {
		t.Error("bad parameters are not replaced by the defaults")
	}
}

func TestFloatJSON(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		json string
	}{{1.5, "1.5"}, {math.NaN(), `"NaN"`}, {math.Inf(1), `"Infinity"`}, {math.Inf(-1), `"-Infinity"`}, {0, "0"}} {
		data, err := json.Marshal(Float(tc.v))
		if err != nil || string(data) != tc.json {
			t.Errorf("%v: %s %v", tc.v, data, err)
		}
		var back Float
		if err := json.Unmarshal(data, &back); err != nil || !(float64(back) == tc.v || math.IsNaN(tc.v) && math.IsNaN(float64(back))) {
			t.Errorf("%s reads back as %v (%v)", data, back, err)
		}
	}
	var f Float
	if err := json.Unmarshal([]byte(`null`), &f); err != nil || !math.IsNaN(float64(f)) {
		t.Errorf("null: %v %v", f, err)
	}
	if err := json.Unmarshal([]byte(`"x"`), &f); err == nil {
		t.Error(`"x" read as a number`)
	}
	if shortest32(11.826399803161621) != 11.8264 || !math.IsNaN(shortest32(math.NaN())) || canon32(1e300) != 1e300 || finite(math.NaN()) != 0 {
		t.Error("float helpers")
	}
}

func TestChecksResolve(t *testing.T) {
	b, err := ComputeBaseline(BaselineInput{Names: []string{"a"}, Values: []float32{1}, Rows: 1})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := Checks{}.resolve(b)
	if err != nil || ck.ComparisonThreshold != 0.1 || ck.ComparisonMethod != MethodRobust || ck.MinRows != DefaultMinRows ||
		ck.CompletenessTolerance != DefaultCompletenessTolerance || ck.QualityThreshold != 0.5 || ck.DatatypeCheckThreshold != 0.1 {
		t.Errorf("defaults %+v %v", ck, err)
	}
	for _, bad := range []Checks{
		{ComparisonThreshold: 2}, {ComparisonMethod: "x"}, {DatatypeCheckThreshold: -1}, {CompletenessTolerance: 3},
		{OutOfRangeThreshold: 2}, {PSIThreshold: -1}, {MinRows: -1}, {QualityThreshold: 1},
	} {
		if _, err := bad.resolve(b); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
