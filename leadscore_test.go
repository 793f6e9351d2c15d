package leadscore

import (
	"math"
	"testing"
)

func TestTiers(t *testing.T) {
	tiers := Tiers{0.1, 0.3, 0.5, 0.7}
	if err := tiers.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    float64
		want int
	}{
		{0, 1}, {0.0999, 1}, {0.1, 2}, {0.2999, 2}, {0.3, 3}, {0.5, 4}, {0.69, 4}, {0.7, 5}, {1, 5}, {math.NaN(), 1},
	} {
		if got := tiers.Tier(c.p); got != c.want {
			t.Errorf("Tier(%v) = %d, want %d", c.p, got, c.want)
		}
	}
	for _, bad := range []Tiers{{0, 0.3, 0.5, 0.7}, {0.1, 0.1, 0.5, 0.7}, {0.1, 0.3, 0.5, 1}, {0.5, 0.3, 0.6, 0.7}, {math.NaN(), 0.3, 0.5, 0.7}} {
		if bad.Validate() == nil {
			t.Errorf("%v validated", bad)
		}
	}
}

func TestReasons(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e"}
	values := []float32{1, float32(math.NaN()), 3, 4, 5}
	contribs := []float32{0.5, -0.2, 0, 1.5, -0.7}
	got := Reasons(contribs, names, values, 2, make([]int, 0, 5))
	want := []struct {
		feature, dir string
		c            float64
		missing      bool
	}{
		{"d", "up", 1.5, false}, {"a", "up", 0.5, false}, {"e", "down", -0.7, false}, {"b", "down", -0.2, true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d reasons: %+v", len(got), got)
	}
	for i, w := range want {
		r := got[i]
		if r.Feature != w.feature || r.Direction != w.dir || math.Abs(r.Contribution-w.c) > 1e-6 || (r.Value == nil) != w.missing {
			t.Errorf("reason %d = %+v, want %+v", i, r, w)
		}
	}
	if v := got[0].Value; v == nil || *v != 4 {
		t.Errorf("value of d = %v", v)
	}
	if Reasons(contribs, names, values, 0, nil) != nil {
		t.Error("k = 0 gave reasons")
	}
	// Only positive contributions: no "down" reasons.
	up := Reasons([]float32{0.1, 0.2}, names[:2], values[:2], 3, nil)
	if len(up) != 2 || up[0].Feature != "b" || up[1].Direction != "up" {
		t.Errorf("all-positive reasons = %+v", up)
	}
}
