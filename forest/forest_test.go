package forest

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// randomTree grows a random tree over nf features with about n inner
// nodes; categorical makes some splits categorical.
func randomTree(rng *rand.Rand, nf, n, maxDepth int, categorical bool) Tree {
	t := Tree{Nodes: []Node{{Left: -1, Right: -1, Value: float32(rng.NormFloat64()), Cover: 1}}}
	type leaf struct{ id, depth int }
	leaves := []leaf{{0, 0}}
	for i := 0; i < n && len(leaves) > 0; i++ {
		k := rng.IntN(len(leaves))
		lf := leaves[k]
		leaves = append(leaves[:k], leaves[k+1:]...)
		if lf.depth >= maxDepth {
			continue
		}
		l, r := int32(len(t.Nodes)), int32(len(t.Nodes)+1)
		nd := &t.Nodes[lf.id]
		*nd = Node{Left: l, Right: r, Feature: int32(rng.IntN(nf)), Value: float32(rng.IntN(7) - 3), DefaultLeft: rng.IntN(2) == 0}
		if rng.IntN(4) == 0 {
			nd.Value = float32(math.Copysign(0, -1)) // -0 threshold must act as 0
		}
		if categorical && rng.IntN(3) == 0 {
			nd.Categorical = true
			nd.Categories = []uint32{uint32(rng.IntN(4)), uint32(rng.IntN(4) + 2)}
		}
		cl, cr := float32(rng.Float64()+0.5), float32(rng.Float64()+0.5)
		nd.Cover = cl + cr
		t.Nodes = append(t.Nodes,
			Node{Left: -1, Right: -1, Value: float32(rng.NormFloat64()), Cover: cl},
			Node{Left: -1, Right: -1, Value: float32(rng.NormFloat64()), Cover: cr})
		leaves = append(leaves, leaf{int(l), lf.depth + 1}, leaf{int(r), lf.depth + 1})
	}
	return t
}

// randomRows draws rows with missing values, zeros of both signs,
// infinities and values on the thresholds.
func randomRows(rng *rand.Rand, n, nf int) []float32 {
	rows := make([]float32, n*nf)
	for i := range rows {
		switch rng.IntN(10) {
		case 0:
			rows[i] = float32(math.NaN())
		case 1:
			rows[i] = float32(math.Copysign(0, -1))
		case 2:
			rows[i] = float32(math.Inf(2*rng.IntN(2) - 1))
		case 3:
			rows[i] = float32(rng.IntN(7) - 3)
		case 4:
			rows[i] = math.Nextafter32(float32(rng.IntN(7)-3), float32(math.Inf(2*rng.IntN(2)-1)))
		default:
			rows[i] = float32(rng.NormFloat64() * 3)
		}
	}
	return rows
}

// reference is the obvious evaluation: the intercept plus each tree's leaf
// by XGBoost's rules, in tree order.
func reference(f *Forest, row []float32) []float32 {
	out := append([]float32(nil), f.base...)
	for i := range f.trees {
		v := f.trees[i].walk(row)
		if f.weight != nil {
			v *= f.weight[i]
		}
		out[f.group[i]] += v
	}
	return out
}

// TestLayoutsAgree checks every layout and both kernels (blocks of rows and
// single rows) against the obvious tree walk on random trees and inputs.
func TestLayoutsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		name                   string
		trees, nodes, maxDepth int
		categorical            bool
		groups                 int
		booster                Booster
	}{
		{"balanced", 40, 63, 6, false, 1, GBTree},
		{"sparse-deep", 30, 40, 20, false, 1, GBTree},
		{"very-deep", 5, 200, 100, false, 1, GBTree},
		{"categorical", 20, 30, 6, true, 1, GBTree},
		{"multiclass-dart", 36, 31, 5, false, 3, Dart},
		{"stumps", 10, 1, 1, false, 1, GBTree},
		{"leaf-only", 3, 0, 0, false, 1, GBTree},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nf := 7
			s := &Spec{Booster: c.booster, Objective: "reg:squarederror", NumFeature: nf, NumGroup: c.groups, BaseScore: []float32{0.25}}
			if c.groups > 1 {
				s.Objective = "multi:softprob"
			}
			for i := 0; i < c.trees; i++ {
				s.Trees = append(s.Trees, randomTree(rng, nf, c.nodes, c.maxDepth, c.categorical))
				s.TreeGroup = append(s.TreeGroup, int32(i%c.groups))
				s.TreeWeights = append(s.TreeWeights, float32(rng.Float64()))
			}
			f, err := New(s)
			if err != nil {
				t.Fatal(err)
			}
			n := 29
			rows := randomRows(rng, n, nf)
			batch := make([]float32, n*c.groups)
			if err := f.PredictMargin(rows, batch); err != nil {
				t.Fatal(err)
			}
			one := make([]float32, c.groups)
			for r := 0; r < n; r++ {
				row := rows[r*nf : (r+1)*nf]
				want := reference(f, row)
				if err := f.PredictMargin(row, one); err != nil {
					t.Fatal(err)
				}
				for k := range want {
					if got := batch[r*c.groups+k]; math.Float32bits(got) != math.Float32bits(want[k]) {
						t.Fatalf("row %d group %d: batch %v, reference %v (row %v)", r, k, got, want[k], row)
					}
					if math.Float32bits(one[k]) != math.Float32bits(want[k]) {
						t.Fatalf("row %d group %d: single %v, reference %v", r, k, one[k], want[k])
					}
				}
				// Contributions of each group sum to its margin.
				contrib := make([]float32, c.groups*(nf+1))
				if err := f.Contributions(row, contrib); err != nil {
					t.Fatal(err)
				}
				for k := 0; k < c.groups; k++ {
					var sum float64
					for _, v := range contrib[k*(nf+1) : (k+1)*(nf+1)] {
						sum += float64(v)
					}
					if math.Abs(sum-float64(want[k])) > 1e-3*(1+math.Abs(float64(want[k]))) {
						t.Fatalf("row %d group %d: contributions sum to %v, margin %v", r, k, sum, want[k])
					}
				}
			}
		})
	}
}

func TestFloatKeyOrder(t *testing.T) {
	vals := []float32{float32(math.Inf(-1)), -math.MaxFloat32, -1, -math.SmallestNonzeroFloat32,
		float32(math.Copysign(0, -1)), 0, math.SmallestNonzeroFloat32, 1, math.MaxFloat32, float32(math.Inf(1))}
	for i, a := range vals {
		for _, b := range vals[i:] {
			if (a >= b) != (floatKey(a) >= floatKey(b)) {
				t.Errorf("%v >= %v is %v, keys say %v", a, b, a >= b, floatKey(a) >= floatKey(b))
			}
		}
		if floatKey(a) == 0 || floatKey(a) >= missingKey {
			t.Errorf("key of %v is %#x", a, floatKey(a))
		}
	}
	if floatKey(float32(math.NaN())) != missingKey {
		t.Error("NaN is not the missing key")
	}
}

func stump(feature int32, thr float32, defaultLeft bool, left, right float32) Tree {
	return Tree{Nodes: []Node{
		{Left: 1, Right: 2, Feature: feature, Value: thr, DefaultLeft: defaultLeft, Cover: 2},
		{Left: -1, Right: -1, Value: left, Cover: 1},
		{Left: -1, Right: -1, Value: right, Cover: 1},
	}}
}

func TestObjectives(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		objective string
		base      float32
		groups    int
		row       []float32
		want      []float32 // predictions
	}{
		{"binary:logistic", 0.5, 1, []float32{1}, []float32{sigmoid(2)}},
		{"reg:logistic", 0.5, 1, []float32{-1}, []float32{sigmoid(-2)}},
		{"binary:logitraw", 0.3, 1, []float32{1}, []float32{2.3}},
		{"binary:hinge", 0.5, 1, []float32{-1}, []float32{0}},
		{"binary:hinge", 0.5, 1, []float32{1}, []float32{1}},
		{"reg:squarederror", 0.5, 1, []float32{nan}, []float32{2.5}}, // missing goes right
		{"count:poisson", 1, 1, []float32{1}, []float32{float32(math.Exp(2))}},
		{"rank:pairwise", 0.5, 1, []float32{1}, []float32{2.5}},
		{"multi:softmax", 0.5, 2, []float32{1}, []float32{0}},
	}
	for _, c := range cases {
		s := &Spec{Booster: GBTree, Objective: c.objective, NumFeature: 1, NumGroup: c.groups, BaseScore: []float32{c.base}}
		for g := 0; g < c.groups; g++ {
			s.Trees = append(s.Trees, stump(0, 0, false, -2, float32(2-g)))
			s.TreeGroup = append(s.TreeGroup, int32(g))
		}
		f, err := New(s)
		if err != nil {
			t.Fatalf("%s: %v", c.objective, err)
		}
		out := make([]float32, c.groups)
		if err := f.Predict(c.row, out); err != nil {
			t.Fatal(err)
		}
		for i, w := range c.want {
			if math.Abs(float64(out[i]-w)) > 1e-6 {
				t.Errorf("%s(%v): %v, want %v", c.objective, c.row, out[:f.NumOutput()], c.want)
			}
		}
	}
	// Softmax probabilities sum to one and follow the margins.
	p := make([]float32, 3)
	linkSoftprob.transform([]float32{1, 2, 3}, p)
	if s := p[0] + p[1] + p[2]; math.Abs(float64(s-1)) > 1e-6 || !(p[0] < p[1] && p[1] < p[2]) {
		t.Errorf("softprob = %v", p)
	}
	// The logistic clamp keeps tiny probabilities positive, as XGBoost does.
	if v := sigmoid(-1e30); !(v > 0 && v < 1e-38) {
		t.Errorf("sigmoid(-1e30) = %v", v)
	}
}

func TestInvalidSpecs(t *testing.T) {
	good := func() *Spec {
		return &Spec{Booster: GBTree, Objective: "binary:logistic", NumFeature: 2, NumGroup: 1,
			BaseScore: []float32{0.5}, Trees: []Tree{stump(1, 0.5, true, -1, 1)}, TreeGroup: []int32{0}}
	}
	if _, err := New(good()); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(s *Spec){
		"no features":    func(s *Spec) { s.NumFeature = 0 },
		"no outputs":     func(s *Spec) { s.NumGroup = 0 },
		"base count":     func(s *Spec) { s.BaseScore = []float32{0.1, 0.2} },
		"base NaN":       func(s *Spec) { s.BaseScore = []float32{float32(math.NaN())} },
		"base logistic":  func(s *Spec) { s.BaseScore = []float32{1.5} },
		"names":          func(s *Spec) { s.FeatureNames = []string{"a"} },
		"booster":        func(s *Spec) { s.Booster = "gbforest" },
		"objective":      func(s *Spec) { s.Objective = "reg:magic" },
		"softmax groups": func(s *Spec) { s.Objective = "multi:softmax" },
		"tree_info":      func(s *Spec) { s.TreeGroup = nil },
		"group range":    func(s *Spec) { s.TreeGroup = []int32{1} },
		"dart weights":   func(s *Spec) { s.Booster = Dart },
		"feature range":  func(s *Spec) { s.Trees[0].Nodes[0].Feature = 2 },
		"child range":    func(s *Spec) { s.Trees[0].Nodes[0].Right = 3 },
		"child is root":  func(s *Spec) { s.Trees[0].Nodes[0].Right = 0 },
		"reached twice":  func(s *Spec) { s.Trees[0].Nodes[0].Right = 1 },
		"NaN leaf":       func(s *Spec) { s.Trees[0].Nodes[1].Value = float32(math.NaN()) },
		"NaN condition":  func(s *Spec) { s.Trees[0].Nodes[0].Value = float32(math.NaN()) },
		"empty tree":     func(s *Spec) { s.Trees[0].Nodes = nil },
		"huge category": func(s *Spec) {
			s.Trees[0].Nodes[0].Categorical = true
			s.Trees[0].Nodes[0].Categories = []uint32{MaxCategory}
		},
		"linear weights":   func(s *Spec) { s.Booster = GBLinear },
		"too many outputs": func(s *Spec) { s.NumGroup = MaxGroups + 1 },
	}
	for name, mutate := range cases {
		s := good()
		mutate(s)
		if _, err := New(s); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !errors.Is(err, ErrInvalidModel) {
			t.Errorf("%s: error %v does not wrap ErrInvalidModel", name, err)
		}
	}
	// A cycle through a deep chain is refused, not walked forever.
	s := good()
	s.Trees[0].Nodes[1] = Node{Left: 0, Right: 2, Cover: 1}
	if _, err := New(s); err == nil {
		t.Error("cycle accepted")
	}
}

func TestShapesAndMissing(t *testing.T) {
	s := &Spec{Booster: GBTree, Objective: "reg:squarederror", NumFeature: 2, NumGroup: 1,
		BaseScore: []float32{0}, Trees: []Tree{stump(0, 0, true, -1, 1)}, TreeGroup: []int32{0}}
	f, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	if f.PredictMargin([]float32{1, 2, 3}, make([]float32, 2)) == nil {
		t.Error("partial row accepted")
	}
	if f.Predict([]float32{1, 2, 3, 4}, make([]float32, 1)) == nil {
		t.Error("short output accepted")
	}
	if f.Contributions([]float32{1}, make([]float32, 3)) == nil || f.Contributions([]float32{1, 2}, make([]float32, 2)) == nil {
		t.Error("bad contribution shapes accepted")
	}
	rows := []float32{0, 5, float32(math.Copysign(0, -1)), 0}
	ReplaceMissing(rows, 0)
	for _, i := range []int{0, 2, 3} {
		if !math.IsNaN(float64(rows[i])) {
			t.Errorf("value %d not replaced: %v", i, rows)
		}
	}
	out := make([]float32, 2)
	if err := f.PredictMargin(rows, out); err != nil || out[0] != -1 || out[1] != -1 {
		t.Errorf("missing goes default-left: %v %v", out, err)
	}
	before := []float32{1, float32(math.NaN())}
	ReplaceMissing(before, float32(math.NaN()))
	if before[0] != 1 {
		t.Error("ReplaceMissing(NaN) changed a number")
	}
	st := f.Stats()
	if st.Trees != 1 || st.Nodes != 3 || st.Leaves != 2 || st.MaxDepth != 1 || st.PerfectTrees != 1 {
		t.Errorf("stats %+v", st)
	}
	if f.NumTrees() != 1 || f.MaxDepth() != 1 || f.Booster() != GBTree || f.NumParallelTree() != 1 || f.FeatureTypes() != nil || f.Version() != ([3]int{}) {
		t.Error("accessors")
	}
}

func TestLinear(t *testing.T) {
	s := &Spec{Booster: GBLinear, Objective: "reg:squarederror", NumFeature: 2, NumGroup: 1,
		BaseScore: []float32{0.5}, LinearWeights: []float32{2, 3, 1}}
	f, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, 2)
	if err := f.PredictMargin([]float32{1, 1, float32(math.NaN()), 2}, out); err != nil {
		t.Fatal(err)
	}
	if out[0] != 6.5 || out[1] != 7.5 {
		t.Errorf("margins %v, want [6.5 7.5]", out)
	}
	c := make([]float32, 3)
	if err := f.Contributions([]float32{1, float32(math.NaN())}, c); err != nil {
		t.Fatal(err)
	}
	if c[0] != 2 || c[1] != 0 || c[2] != 1.5 {
		t.Errorf("contributions %v", c)
	}
}
