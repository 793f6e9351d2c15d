package forest

import (
	"math"
	"sync"
)

// Forest is a compiled, immutable ensemble. All its methods are safe for
// concurrent use.
//
// Trees are laid out for speed at compile time (see layout.go): numeric
// trees become arrays of 8-byte nodes that a row walks with exactly depth
// branch-free steps and no leaf test, so that the walks of several rows (in
// batches) or several trees (for a single row) proceed side by side and
// their memory loads overlap. Trees with categorical splits keep XGBoost's
// exact semantics in a general walker.
type Forest struct {
	numFeature int
	numGroup   int
	link       link
	objective  string
	booster    Booster
	base       []float32 // margin intercept per group
	linear     []float32 // gblinear weights

	trees  []Tree    // as read, for TreeSHAP and general walks
	group  []int32   // output group per tree
	weight []float32 // dart weight per tree; nil for gbtree

	plan    []treePlan
	nodes   []node    // nodes of perfect and flat trees
	leafval []float32 // leaves of perfect trees; leaf value per node of flat trees
	means   [][]float32
	maxDeep int
	version [3]int
	names   []string
	types   []string
	npar    int
	pool    sync.Pool // *shapScratch
	// shap holds the TreeSHAP tables, built on the first explanation.
	shap     *shapTables
	shapOnce sync.Once
	// lin is the polynomial (Linear TreeSHAP) form for one-row
	// explanations, built on the first one.
	lin     *linForest
	linOnce sync.Once
	blocks  sync.Pool // *blockScratch
	// The vector kernel's tables (vector.go).
	vtrees []vecTree
	vsegs  []vecSeg
}

// New validates s and compiles it into a Forest.
func New(s *Spec) (*Forest, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	l, err := objectiveLink(s.Objective)
	if err != nil {
		return nil, err
	}
	if (l == linkSoftmax || l == linkSoftprob) && s.NumGroup < 2 {
		return nil, invalid("objective %s needs num_class > 1", s.Objective)
	}
	f := &Forest{
		numFeature: s.NumFeature,
		numGroup:   s.NumGroup,
		link:       l,
		objective:  s.Objective,
		booster:    s.Booster,
		linear:     s.LinearWeights,
		trees:      s.Trees,
		group:      s.TreeGroup,
		version:    s.Version,
		names:      s.FeatureNames,
		types:      s.FeatureTypes,
		npar:       max(1, s.NumParallelTree),
	}
	if s.Booster == Dart {
		f.weight = s.TreeWeights
	}
	f.base = make([]float32, s.NumGroup)
	for g := range f.base {
		b := s.BaseScore[0]
		if len(s.BaseScore) == s.NumGroup {
			b = s.BaseScore[g]
		}
		if f.base[g], err = baseMargin(l, b); err != nil {
			return nil, err
		}
	}
	f.compile()
	return f, nil
}

// meanValues is XGBoost's FillNodeMeanValue: each node's cover-weighted
// mean leaf value, in float32 as XGBoost computes it.
func (t *Tree) meanValues() []float32 {
	mv := make([]float32, len(t.Nodes))
	var fill func(id int32) float32
	fill = func(id int32) float32 {
		n := &t.Nodes[id]
		var r float32
		if n.IsLeaf() {
			r = n.Value
		} else {
			r = fill(n.Left) * t.Nodes[n.Left].Cover
			r += fill(n.Right) * t.Nodes[n.Right].Cover
			r /= n.Cover
		}
		mv[id] = r
		return r
	}
	fill(0)
	return mv
}

// next returns the child a row goes to from inner node n, exactly as
// XGBoost decides it: missing values follow the default direction; a
// numeric split sends value < condition left; a categorical split sends the
// listed categories right and everything else, including negative, huge or
// non-integer codes, left.
func (n *Node) next(v float32) int32 {
	if v != v {
		if n.DefaultLeft {
			return n.Left
		}
		return n.Right
	}
	if !n.Categorical {
		if v < n.Value {
			return n.Left
		}
		return n.Right
	}
	if v < 0 || v >= MaxCategory {
		return n.Left
	}
	c := uint32(v)
	for _, k := range n.Categories {
		if k == c {
			return n.Right
		}
	}
	return n.Left
}

// NumFeature is the number of input columns.
func (f *Forest) NumFeature() int { return f.numFeature }

// NumGroup is the number of margins per row.
func (f *Forest) NumGroup() int { return f.numGroup }

// NumOutput is the number of predictions per row: NumGroup, or 1 for
// multi:softmax (the class).
func (f *Forest) NumOutput() int {
	if f.link == linkSoftmax {
		return 1
	}
	return f.numGroup
}

// Objective is the model's objective name.
func (f *Forest) Objective() string { return f.objective }

// Booster is the model's booster.
func (f *Forest) Booster() Booster { return f.booster }

// NumTrees is the number of trees (0 for gblinear).
func (f *Forest) NumTrees() int { return len(f.trees) }

// MaxDepth is the depth of the deepest tree.
func (f *Forest) MaxDepth() int { return f.maxDeep }

// NumParallelTree is the number of trees per round and group.
func (f *Forest) NumParallelTree() int { return f.npar }

// FeatureNames are the names stored in the model, or nil.
func (f *Forest) FeatureNames() []string { return f.names }

// FeatureTypes are the types stored in the model ("q", "c", ...), or nil.
func (f *Forest) FeatureTypes() []string { return f.types }

// Version is the XGBoost version that wrote the model, when known.
func (f *Forest) Version() [3]int { return f.version }

// Stats summarises the compiled layout for diagnostics.
type Stats struct {
	Trees, Nodes, Leaves int
	// PerfectTrees and FlatTrees use the branch-free layouts; the rest
	// the general walker.
	PerfectTrees, FlatTrees int
	MaxDepth                int
}

// Stats reports tree, node and layout counts.
func (f *Forest) Stats() Stats {
	var s Stats
	s.Trees = len(f.trees)
	s.MaxDepth = f.maxDeep
	for i := range f.trees {
		for j := range f.trees[i].Nodes {
			s.Nodes++
			if f.trees[i].Nodes[j].IsLeaf() {
				s.Leaves++
			}
		}
		switch f.plan[i].layout {
		case layoutPerfect:
			s.PerfectTrees++
		case layoutFlat:
			s.FlatTrees++
		}
	}
	return s
}

// ReplaceMissing sets every value equal to missing to NaN, as XGBoost's
// DMatrix missing parameter does. NaN itself is always missing.
func ReplaceMissing(rows []float32, missing float32) {
	if missing != missing {
		return
	}
	nan := float32(math.NaN())
	for i, v := range rows {
		if v == missing {
			rows[i] = nan
		}
	}
}
