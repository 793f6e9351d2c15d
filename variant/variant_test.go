package variant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/leadscore/leadscore"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Spec
		err  bool
	}{
		{in: "champion=registry:/r#lead@prod", want: Spec{Name: "champion", Source: "registry:/r#lead@prod", Role: Weighted, Weight: 1}},
		{in: "challenger=registry:/r#lead@staging:shadow", want: Spec{Name: "challenger", Source: "registry:/r#lead@staging", Role: Shadow, Sample: 1}},
		{in: "c=m.json:shadow=0.25", want: Spec{Name: "c", Source: "m.json", Role: Shadow, Sample: 0.25}},
		{in: "a=/x/model.json:weight=90", want: Spec{Name: "a", Source: "/x/model.json", Role: Weighted, Weight: 90}},
		{in: "nosource", err: true},
		{in: "bad name=m.json", err: true},
		{in: "a=m.json:weight=-1", err: true},
		{in: "a=m.json:shadow=0", err: true},
		{in: "a=m.json:shadow=x", err: true},
	} {
		got, err := ParseSpec(tc.in)
		if (err != nil) != tc.err || !tc.err && got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil {
			back, err := ParseSpec(got.String())
			if err != nil || back != got {
				t.Errorf("ParseSpec(%q.String()) = %+v, %v", tc.in, back, err)
			}
		}
	}
}

func TestValidateSet(t *testing.T) {
	a := Spec{Name: "a", Role: Weighted, Weight: 1}
	s := Spec{Name: "s", Role: Shadow, Sample: 1}
	if err := ValidateSet([]Spec{a, s}); err != nil {
		t.Fatal(err)
	}
	if ValidateSet([]Spec{s}) == nil {
		t.Error("only a shadow: no error")
	}
	if ValidateSet([]Spec{a, a}) == nil {
		t.Error("duplicate names: no error")
	}
	if got := Champion([]Spec{s, a}); got != 1 {
		t.Errorf("champion %d, want 1", got)
	}
}

// TestRouterSplit: weights 90/10 split 10,000 ids within 1.5 points, the
// same id always lands on the same variant, and a weight change moves
// only the leads on the moved range.
func TestRouterSplit(t *testing.T) {
	specs := []Spec{{Name: "champion", Role: Weighted, Weight: 90}, {Name: "challenger", Role: Weighted, Weight: 10}, {Name: "s", Role: Shadow, Sample: 1}}
	r := NewRouter(specs)
	counts := [3]int{}
	for i := range 10000 {
		id := fmt.Sprintf("lead-%d", i)
		v := r.PickID(id)
		counts[v]++
		if r.PickID(id) != v || NewRouter(specs).PickID(id) != v {
			t.Fatalf("lead %s is not sticky", id)
		}
	}
	if share := float64(counts[1]) / 10000; math.Abs(share-0.10) > 0.015 || counts[2] != 0 {
		t.Errorf("counts %v: challenger share %.4f, want 0.10 +- 0.015 and no shadow", counts, share)
	}
	specs[1].Weight = 20 // 80/20 after normalising... of 110: 90/110 = 0.818
	r2 := NewRouter(specs)
	for i := range 10000 {
		id := fmt.Sprintf("lead-%d", i)
		if r.PickID(id) == 1 && r2.PickID(id) != 1 {
			t.Fatalf("raising the challenger's weight moved %s off it", id)
		}
	}
}

func TestAUCAndDeLong(t *testing.T) {
	// Hand-checked: positives 0.9, 0.6; negatives 0.7, 0.1, 0.6 (one tie).
	scores := []float64{0.9, 0.6, 0.7, 0.1, 0.6}
	pos := []bool{true, true, false, false, false}
	// 0.9 beats 3; 0.6 beats 0.1, ties 0.6: 1.5 => (3+1.5)/6.
	if got := AUC(scores, pos); math.Abs(got-4.5/6) > 1e-12 {
		t.Errorf("AUC %v, want %v", got, 4.5/6)
	}
	if !math.IsNaN(AUC([]float64{1, 2}, []bool{true, true})) {
		t.Error("one class: want NaN")
	}
	// DeLong's variance against its definition computed pair by pair.
	rng := rand.New(rand.NewPCG(1, 2))
	n := 200
	a, b := make([]float64, n), make([]float64, n)
	p := make([]bool, n)
	for i := range a {
		p[i] = rng.Float64() < 0.3
		sig := 0.0
		if p[i] {
			sig = 1
		}
		a[i] = sig*0.8 + rng.NormFloat64()
		b[i] = sig*1.2 + rng.NormFloat64()
	}
	d, ok := DeLong(a, b, p)
	if !ok {
		t.Fatal("DeLong not ok")
	}
	want := bruteDeLongVar(a, b, p)
	if math.Abs(d.SE*d.SE-want) > 1e-12 {
		t.Errorf("variance %v, brute force %v", d.SE*d.SE, want)
	}
	if math.Abs(d.AUCA-AUC(a, p)) > 1e-12 || math.Abs(d.AUCB-AUC(b, p)) > 1e-12 {
		t.Errorf("AUCs %v %v", d.AUCA, d.AUCB)
	}
	// The same scores twice: no difference, no variance, not significant.
	same, ok := DeLong(a, a, p)
	if !ok || same.Diff != 0 || same.SE != 0 || same.P != 1 || Verdict(same, ok) != NotSignificant {
		t.Errorf("same model: %+v, verdict %q", same, Verdict(same, ok))
	}
}

// bruteDeLongVar is the variance of AUC_b - AUC_a from DeLong's
// components computed pair by pair.
func bruteDeLongVar(a, b []float64, pos []bool) float64 {
	psi := func(x, y float64) float64 {
		switch {
		case x > y:
			return 1
		case x == y:
			return 0.5
		}
		return 0
	}
	var P, N []int
	for i := range pos {
		if pos[i] {
			P = append(P, i)
		} else {
			N = append(N, i)
		}
	}
	comp := func(s []float64) (v10, v01 []float64) {
		for _, i := range P {
			var t float64
			for _, j := range N {
				t += psi(s[i], s[j])
			}
			v10 = append(v10, t/float64(len(N)))
		}
		for _, j := range N {
			var t float64
			for _, i := range P {
				t += psi(s[i], s[j])
			}
			v01 = append(v01, t/float64(len(P)))
		}
		return
	}
	a10, a01 := comp(a)
	b10, b01 := comp(b)
	diff10, diff01 := make([]float64, len(a10)), make([]float64, len(a01))
	for i := range a10 {
		diff10[i] = b10[i] - a10[i]
	}
	for i := range a01 {
		diff01[i] = b01[i] - a01[i]
	}
	return covariance(diff10, diff10)/float64(len(P)) + covariance(diff01, diff01)/float64(len(N))
}

func TestSpearmanAndConfusion(t *testing.T) {
	if got := Spearman([]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}); math.Abs(got-1) > 1e-12 {
		t.Errorf("monotone: %v", got)
	}
	if got := Spearman([]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}); math.Abs(got+1) > 1e-12 {
		t.Errorf("reversed: %v", got)
	}
	// Ties: mid-ranks. x = 1,2,2,3 -> 1,2.5,2.5,4; y = 1,3,2,4.
	if got, want := Spearman([]float64{1, 2, 2, 3}, []float64{1, 3, 2, 4}), 0.9486832980505138; math.Abs(got-want) > 1e-9 {
		t.Errorf("ties: %v want %v", got, want)
	}
	var c Confusion
	c.Add(1, 1)
	c.Add(5, 4)
	c.Add(0, 3) // ignored
	if c.Agreement() != 0.5 || c[4][3] != 1 {
		t.Errorf("confusion %v agreement %v", c, c.Agreement())
	}
	cut, conv, count := TierQuality([]int{1, 2, 5, 5}, []bool{false, true, true, false})
	if cut[0].MinTier != 2 || cut[0].Precision != 2.0/3 || cut[0].Recall != 1 || cut[3].Precision != 0.5 || cut[3].Recall != 0.5 {
		t.Errorf("cutoffs %+v", cut)
	}
	if conv[4] != 0.5 || count[4] != 2 || !math.IsNaN(conv[2]) {
		t.Errorf("conversion %v %v", conv, count)
	}
}

// TestLiveVerdict feeds a champion and a better challenger scored on the
// same leads, then outcomes, and checks the comparison; then the same
// model twice is "not yet significant".
func TestLiveVerdict(t *testing.T) {
	specs := []Spec{{Name: "champion", Role: Weighted, Weight: 1}, {Name: "challenger", Role: Shadow, Sample: 1}}
	tiers := leadscore.Tiers{0.2, 0.4, 0.6, 0.8}
	for _, tc := range []struct {
		name    string
		better  float64 // challenger's signal strength
		verdict string
	}{
		{"better", 2.5, Better},
		{"worse", 0.2, Worse},
		{"same", -1, NotSignificant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLive(specs, LiveConfig{})
			rng := rand.New(rand.NewPCG(7, 9))
			var outs []leadscore.Outcome
			for i := range 2000 {
				conv := rng.Float64() < 0.3
				sig := 0.0
				if conv {
					sig = 1
				}
				noise := rng.NormFloat64()
				pc := sigmoid(sig*1.0 + noise)
				pn := sigmoid(sig*tc.better + rng.NormFloat64())
				if tc.better < 0 {
					pn = pc
				}
				id := fmt.Sprintf("inf-%d", i)
				l.Capture([]leadscore.Record{
					{InferenceID: id, LeadID: fmt.Sprint(i), Variant: "champion", Probability: pc, Tier: tiers.Tier(pc), LatencyMS: 1},
					{InferenceID: id, LeadID: fmt.Sprint(i), Variant: "challenger", Shadow: true, Probability: pn, Tier: tiers.Tier(pn), LatencyMS: 2},
				})
				if i%2 == 0 {
					outs = append(outs, leadscore.Outcome{InferenceID: id, Converted: conv})
				} else {
					outs = append(outs, leadscore.Outcome{LeadID: fmt.Sprint(i), Converted: conv})
				}
			}
			if n := l.Feedback(outs); n != 2000 {
				t.Fatalf("matched %d outcomes, want 2000", n)
			}
			r := l.Report()
			if r.Champion != "champion" || len(r.Comparisons) != 1 {
				t.Fatalf("report %+v", r)
			}
			c := r.Comparisons[0]
			if c.Verdict != tc.verdict || c.Leads != 2000 || c.AUC == nil || c.AUC.Leads != 2000 {
				t.Fatalf("verdict %q (%s), leads %d", c.Verdict, c.Summary, c.Leads)
			}
			if r.Variants[0].Leads != 2000 || r.Variants[0].Share != 1 || r.Variants[1].Shadow != 2000 || r.Variants[0].Latency.P50 != 1 {
				t.Errorf("traffic %+v", r.Variants)
			}
			if tc.better < 0 && (c.TierAgreement != 1 || c.RankCorrelation != 1 || c.MeanShift != 0) {
				t.Errorf("same model: agreement %v, rho %v, shift %v", c.TierAgreement, c.RankCorrelation, c.MeanShift)
			}
			if r.Variants[1].Quality == nil || len(r.Variants[1].Quality.Cutoffs) != 4 {
				t.Errorf("quality %+v", r.Variants[1].Quality)
			}
		})
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func TestLiveWindowAndQueue(t *testing.T) {
	specs := []Spec{{Name: "a", Role: Weighted, Weight: 1}}
	l := NewLive(specs, LiveConfig{Window: 3, Queue: 1})
	l.Capture([]leadscore.Record{{InferenceID: "1", Variant: "a"}})
	l.Capture([]leadscore.Record{{InferenceID: "2", Variant: "a"}}) // queue full
	if l.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", l.Dropped())
	}
	for i := range 5 {
		l.Capture([]leadscore.Record{{InferenceID: fmt.Sprint("x", i), LeadID: fmt.Sprint("l", i), Variant: "a"}})
		l.Report() // drains
	}
	if n := l.count; n != 3 {
		t.Errorf("window holds %d leads, want 3", n)
	}
	if n := l.Feedback([]leadscore.Outcome{{LeadID: "l0"}, {LeadID: "l4"}}); n != 1 {
		t.Errorf("matched %d, want 1 (l0 left the window)", n)
	}
}

// TestLiveEarlyOutcomes: outcomes posted before the comparison has seen
// their leads' score records (feedback racing the capture pipeline, a
// shadow's score arriving after the live answer) wait in a bounded store
// and are attached when the records arrive, so the verdict counts them;
// a full store evicts the oldest and counts it.
func TestLiveEarlyOutcomes(t *testing.T) {
	specs := []Spec{{Name: "champion", Role: Weighted, Weight: 1}, {Name: "challenger", Role: Shadow, Sample: 1}}
	tiers := leadscore.Tiers{0.2, 0.4, 0.6, 0.8}
	rng := rand.New(rand.NewPCG(3, 5))
	const n = 2000
	type lead struct {
		conv   bool
		pc, pn float64
	}
	leads := make([]lead, n)
	var outs []leadscore.Outcome
	for i := range leads {
		conv := rng.Float64() < 0.3
		sig := 0.0
		if conv {
			sig = 1
		}
		leads[i] = lead{conv, sigmoid(sig + rng.NormFloat64()), sigmoid(sig*2.5 + rng.NormFloat64())}
		if i%2 == 0 {
			outs = append(outs, leadscore.Outcome{InferenceID: fmt.Sprintf("inf-%d", i), Converted: conv})
		} else {
			outs = append(outs, leadscore.Outcome{LeadID: fmt.Sprint(i), Converted: conv})
		}
	}
	l := NewLive(specs, LiveConfig{})
	// Every outcome first: none joins yet, all wait.
	if m := l.Feedback(outs); m != 0 {
		t.Fatalf("matched %d outcomes before any record", m)
	}
	if p := l.Pending(); p.Pending != n || p.Limit != DefaultPendingOutcomes || p.Evicted != 0 {
		t.Fatalf("pending %+v, want %d waiting", p, n)
	}
	fb := l.Feedbacks()
	// Then the live records, and later the shadow's.
	for i, ld := range leads {
		id := fmt.Sprintf("inf-%d", i)
		l.Capture([]leadscore.Record{{InferenceID: id, LeadID: fmt.Sprint(i), Variant: "champion", Probability: ld.pc, Tier: tiers.Tier(ld.pc), LatencyMS: 1}})
	}
	for i, ld := range leads {
		id := fmt.Sprintf("inf-%d", i)
		l.Capture([]leadscore.Record{{InferenceID: id, LeadID: fmt.Sprint(i), Variant: "challenger", Shadow: true, Probability: ld.pn, Tier: tiers.Tier(ld.pn), LatencyMS: 2}})
	}
	r := l.Report()
	if p := l.Pending(); p.Pending != 0 || p.Joined != n {
		t.Fatalf("after the records: pending %+v, want all %d joined", p, n)
	}
	if l.Feedbacks() == fb {
		t.Error("late joins did not invalidate cached reports (Feedbacks unchanged)")
	}
	c := r.Comparisons[0]
	if c.AUC == nil || c.AUC.Leads != n || c.Verdict != Better {
		t.Fatalf("verdict %q (%s): the early outcomes were not counted", c.Verdict, c.Summary)
	}

	// A bound of 3: of 5 early outcomes the 2 oldest are evicted and
	// counted; a repeated id replaces its outcome without evicting.
	l = NewLive(specs, LiveConfig{PendingOutcomes: 3})
	for i := range 5 {
		l.Feedback([]leadscore.Outcome{{LeadID: fmt.Sprint("l", i), Converted: true}})
	}
	l.Feedback([]leadscore.Outcome{{LeadID: "l4", Converted: false}})
	if p := l.Pending(); p.Pending != 3 || p.Evicted != 2 {
		t.Fatalf("pending %+v, want 3 waiting and 2 evicted", p)
	}
	for i := range 5 {
		l.Capture([]leadscore.Record{{InferenceID: fmt.Sprint("x", i), LeadID: fmt.Sprint("l", i), Variant: "champion", Probability: 0.5, Tier: 3}})
	}
	l.Report()
	l.mu.Lock()
	got := []int8{}
	for i := range 5 {
		got = append(got, l.find(fmt.Sprint("x", i)).outcome)
	}
	l.mu.Unlock()
	if fmt.Sprint(got) != "[-1 -1 1 1 0]" {
		t.Errorf("outcomes %v, want [-1 -1 1 1 0] (l0, l1 evicted; l4's replaced)", got)
	}
	if p := l.Pending(); p.Pending != 0 || p.Joined != 3 || p.Evicted != 2 {
		t.Errorf("pending %+v", p)
	}

	// Negative: nothing kept.
	l = NewLive(specs, LiveConfig{PendingOutcomes: -1})
	l.Feedback([]leadscore.Outcome{{LeadID: "a", Converted: true}})
	l.Capture([]leadscore.Record{{InferenceID: "i", LeadID: "a", Variant: "champion"}})
	l.Report()
	if p := l.Pending(); p.Pending != 0 || p.Joined != 0 || l.find("i").outcome != -1 {
		t.Errorf("with no pending store: %+v", p)
	}
}
