package forest

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randomCoverTree builds a random valid tree of at most the given depth over nf
// features, with positive covers, repeated features and missing defaults.
func randomCoverTree(r *rand.Rand, depth, nf int) Tree {
	var t Tree
	var grow func(d int, cover float32) int32
	grow = func(d int, cover float32) int32 {
		id := int32(len(t.Nodes))
		t.Nodes = append(t.Nodes, Node{Left: -1, Right: -1, Cover: cover})
		if d == depth || (d > 0 && r.IntN(4) == 0) {
			t.Nodes[id].Value = float32(r.NormFloat64())
			return id
		}
		lc := cover * float32(0.05+0.9*r.Float64())
		n := Node{Feature: int32(r.IntN(nf)), Value: float32(r.NormFloat64()), DefaultLeft: r.IntN(2) == 0, Cover: cover}
		n.Left = grow(d+1, lc)
		n.Right = grow(d+1, cover-lc)
		t.Nodes[id] = n
		return id
	}
	grow(0, 100)
	return t
}

// TestTabledMatchesRecursive checks the precomputed TreeSHAP tables against
// XGBoost's recursive algorithm on random trees (float64 against float32
// arithmetic: within 1e-5 of the leaf scale).
func TestTabledMatchesRecursive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ trees, depth, nf int }{{1, 1, 1}, {5, 3, 2}, {20, 6, 4}, {10, 8, 12}, {3, 12, 5}} {
		s := &Spec{Booster: GBTree, Objective: "reg:squarederror", NumFeature: c.nf, NumGroup: 1, BaseScore: []float32{0.5}}
		for i := 0; i < c.trees; i++ {
			s.Trees = append(s.Trees, randomCoverTree(r, c.depth, c.nf))
			s.TreeGroup = append(s.TreeGroup, 0)
		}
		f, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		st := f.explainTables()
		for ti := range st.trees {
			if !st.trees[ti].tabled {
				t.Fatalf("%+v: tree %d not tabled", c, ti)
			}
		}
		row := make([]float32, c.nf)
		fast := make([]float32, c.nf+1)
		for k := 0; k < 50; k++ {
			for j := range row {
				row[j] = float32(r.NormFloat64())
				if r.IntN(5) == 0 {
					row[j] = float32(math.NaN())
				}
			}
			if err := f.Contributions(row, fast); err != nil {
				t.Fatal(err)
			}
			slow := make([]float32, c.nf+1)
			tc := make([]float32, c.nf+1)
			d := f.maxDeep + 2
			path := make([]pathElement, d*(d+1)/2)
			for ti := range f.trees {
				clear(tc)
				f.treeContributions(ti, row, tc, path)
				for j := range slow {
					slow[j] += tc[j]
				}
			}
			slow[c.nf] += f.base[0]
			for j := range fast {
				if math.Abs(float64(fast[j]-slow[j])) > 1e-5*float64(c.trees) {
					t.Fatalf("%+v row %d feature %d: tabled %v, recursive %v", c, k, j, fast[j], slow[j])
				}
			}
		}
	}
}

// closeTo reports whether a and b agree within tol, relative to their
// size above 1.
func closeTo(a, b float32, tol float64) bool {
	return math.Abs(float64(a)-float64(b)) <= tol*math.Max(1, math.Abs(float64(b)))
}

// TestLinearMatchesRecursive checks the polynomial form (Linear TreeSHAP
// with Gauss-Legendre points) tree by tree against XGBoost's recursive
// algorithm, on random trees of depth 1 to 16 (1 to 8 points: the
// unrolled 3- and 4-point kernels and the general loop), with repeated
// features, missing values and categorical splits.
func TestLinearMatchesRecursive(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for depth := 1; depth <= 16; depth++ {
		const nf = 6
		s := &Spec{Booster: GBTree, Objective: "reg:squarederror", NumFeature: nf, NumGroup: 1, BaseScore: []float32{0.5}}
		for i := 0; i < 3; i++ {
			tr := randomCoverTree(r, depth, nf)
			if i == 1 && len(tr.Nodes) > 1 {
				tr.Nodes[0].Categorical, tr.Nodes[0].Categories = true, []uint32{0, 2}
			}
			s.Trees = append(s.Trees, tr)
			s.TreeGroup = append(s.TreeGroup, 0)
		}
		f, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		lin := f.explainLinear()
		sc := newLinScratch(lin)
		d := f.maxDeep + 2
		path := make([]pathElement, d*(d+1)/2)
		row := make([]float32, nf)
		for k := 0; k < 20; k++ {
			for j := range row {
				row[j] = float32(r.NormFloat64())
				switch r.IntN(5) {
				case 0:
					row[j] = float32(math.NaN())
				case 1:
					row[j] = float32(r.IntN(3))
				}
			}
			for ti := range f.trees {
				lt := &lin.trees[ti]
				if !lt.ok {
					t.Fatalf("depth %d tree %d: no polynomial form", depth, ti)
				}
				fast := make([]float64, nf+1)
				lt.contributions(&f.trees[ti], row, fast, &sc)
				slow := make([]float32, nf+1)
				f.treeContributions(ti, row, slow, path)
				for j := 0; j < nf; j++ {
					if !closeTo(float32(fast[j]), slow[j], 1e-5) {
						t.Fatalf("depth %d (%d points) tree %d row %d feature %d: polynomial %v, recursive %v",
							depth, lt.k, ti, k, j, fast[j], slow[j])
					}
				}
			}
		}
	}
}

// TestBatchMatchesRows checks that ContributionsBatch gives every row
// the values Contributions gives it alone (within 1e-6: one row takes
// the polynomial form for deep trees, the batch the tables), for batches of 2 to
// more than a block, on random trees (repeated features, missing values,
// categorical splits) some of which are too large for the table budget
// and keep the recursive algorithm.
func TestBatchMatchesRows(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const nf = 7
	s := &Spec{Booster: GBTree, Objective: "multi:softprob", NumFeature: nf, NumGroup: 2, BaseScore: []float32{0.5}}
	for i := 0; i < 24; i++ {
		tr := randomCoverTree(r, 1+i%9, nf)
		if i%5 == 0 {
			n := &tr.Nodes[0]
			n.Categorical, n.Categories = true, []uint32{1, 3}
		}
		s.Trees = append(s.Trees, tr)
		s.TreeGroup = append(s.TreeGroup, int32(i%2))
	}
	f, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	f.shapOnce.Do(func() { f.shap = f.buildShapTables(16 << 10) })
	var tabled int
	for i := range f.shap.trees {
		if f.shap.trees[i].tabled {
			tabled++
		}
	}
	if tabled == 0 || tabled == len(s.Trees) {
		t.Fatalf("tabled %d of %d trees, want some but not all", tabled, len(s.Trees))
	}
	w := 2 * (nf + 1)
	for _, n := range []int{2, 5, ExplainBlockRows, ExplainBlockRows + 7, 3*ExplainBlockRows + 1} {
		rows := make([]float32, n*nf)
		for i := range rows {
			rows[i] = float32(r.NormFloat64())
			switch r.IntN(6) {
			case 0:
				rows[i] = float32(math.NaN())
			case 1:
				rows[i] = float32(r.IntN(5))
			}
		}
		batch := make([]float32, n*w)
		if err := f.ContributionsBatch(rows, batch); err != nil {
			t.Fatal(err)
		}
		one := make([]float32, w)
		for i := 0; i < n; i++ {
			if err := f.Contributions(rows[i*nf:(i+1)*nf], one); err != nil {
				t.Fatal(err)
			}
			for j, c := range one {
				if b := batch[i*w+j]; !closeTo(b, c, 1e-6) {
					t.Fatalf("batch of %d, row %d, value %d: batch %v, one row %v", n, i, j, b, c)
				}
			}
		}
	}
	if err := f.ContributionsBatch(make([]float32, nf+1), make([]float32, w)); err == nil {
		t.Error("a partial row was accepted")
	}
	if err := f.ContributionsBatch(make([]float32, 2*nf), make([]float32, w)); err == nil {
		t.Error("an output for one row was accepted for two")
	}
}

// TestTableBudget checks that trees beyond the budget fall back and still
// give the same contributions.
func TestTableBudget(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := &Spec{Booster: GBTree, Objective: "reg:squarederror", NumFeature: 6, NumGroup: 1, BaseScore: []float32{0.5}}
	for i := 0; i < 8; i++ {
		s.Trees = append(s.Trees, randomCoverTree(r, 6, 6))
		s.TreeGroup = append(s.TreeGroup, 0)
	}
	f, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	row := []float32{0.1, -0.3, float32(math.NaN()), 1, 2, -1}
	all := make([]float32, 7)
	if err := f.Contributions(row, all); err != nil {
		t.Fatal(err)
	}
	g, _ := New(s)
	g.shapOnce.Do(func() { g.shap = g.buildShapTables(1 << 10) })
	var tabled int
	for i := range g.shap.trees {
		if g.shap.trees[i].tabled {
			tabled++
		}
	}
	if tabled == 0 || tabled == len(s.Trees) {
		t.Fatalf("budget of 1 KiB tabled %d of %d trees, want some but not all", tabled, len(s.Trees))
	}
	part := make([]float32, 7)
	if err := g.Contributions(row, part); err != nil {
		t.Fatal(err)
	}
	for j := range all {
		if math.Abs(float64(all[j]-part[j])) > 1e-5 {
			t.Fatalf("feature %d: all tabled %v, partly %v", j, all[j], part[j])
		}
	}

	// SetExplainTableBytes(0): models explained from then on table no
	// tree, with the same contributions.
	defer SetExplainTableBytes(ExplainTableBytes())
	SetExplainTableBytes(0)
	h, _ := New(s)
	none := make([]float32, 7)
	if err := h.Contributions(row, none); err != nil {
		t.Fatal(err)
	}
	for i := range h.shap.trees {
		if h.shap.trees[i].tabled {
			t.Fatalf("with a zero budget tree %d is tabled", i)
		}
	}
	for j := range all {
		if math.Abs(float64(all[j]-none[j])) > 1e-5 {
			t.Fatalf("feature %d: all tabled %v, none %v", j, all[j], none[j])
		}
	}
	if SetExplainTableBytes(-5); ExplainTableBytes() != 0 {
		t.Errorf("a negative bound reads back as %d, want 0", ExplainTableBytes())
	}
}

// TestUntableable checks that a zero cover (NaN fractions) and an infinite
// leaf keep the recursive algorithm instead of a table.
func TestUntableable(t *testing.T) {
	zeroCover := Tree{Nodes: []Node{
		{Left: 1, Right: 2, Feature: 0, Value: 0.5, Cover: 0},
		{Left: -1, Right: -1, Value: 1, Cover: 0},
		{Left: -1, Right: -1, Value: -1, Cover: 0},
	}}
	infLeaf := Tree{Nodes: []Node{
		{Left: 1, Right: 2, Feature: 0, Value: 0.5, Cover: 2},
		{Left: -1, Right: -1, Value: float32(math.Inf(1)), Cover: 1},
		{Left: -1, Right: -1, Value: -1, Cover: 1},
	}}
	for name, tr := range map[string]Tree{"zero cover": zeroCover, "infinite leaf": infLeaf} {
		if _, ok := tr.tableSize(); ok {
			t.Errorf("%s: tabled", name)
		}
	}
}
