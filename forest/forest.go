package forest

import (
	"math"
	"sync"
)

// Forest is a compiled, immutable ensemble. All its methods are safe for
// concurrent use.
//
// Trees are laid out for speed at compile time. A tree whose leaves all sit
// near one depth d is stored as a perfect binary tree of depth d (shorter
// branches padded by repeating their leaf) in one flat array, so a row walks
// it with d branch-free steps (child = 2i+1+goRight) and no leaf test; rows
// are walked in blocks so that the loads of several rows are in flight at
// once. Other trees use a compact node array with siblings adjacent, and
// trees with categorical splits keep their exact XGBoost semantics in a
// general walker.
type Forest struct {
	numFeature int
	numGroup   int
	link       link
	objective  string
	booster    Booster
	base       []float32 // margin intercept per group
	linear     []float32 // gblinear weights

	trees  []Tree    // as read, for TreeSHAP and categorical walks
	group  []int32   // output group per tree
	weight []float32 // dart weight per tree; nil for gbtree

	plan    []treePlan
	pnodes  []pnode   // inner nodes of perfect trees
	leaves  []float32 // leaves of perfect trees
	gnodes  []gnode   // nodes of compact trees
	means   [][]float32
	maxDeep int
	version [3]int
	names   []string
	types   []string
	npar    int
	pool    sync.Pool // *shapScratch
}

// layout kinds of a compiled tree.
const (
	layoutPerfect = iota
	layoutCompact
	layoutCategorical
)

// missingRight is the bit of pnode.feat and gnode.feat that sends missing
// values right; the low bits are the feature index.
const (
	missingRight = 1 << 31
	featMask     = missingRight - 1
)

// treePlan says where a compiled tree lives and how to walk it.
type treePlan struct {
	layout uint8
	depth  uint8
	group  int32
	off    int32 // into pnodes, gnodes or trees
	leaf   int32 // into leaves, for perfect trees
	weight float32
}

// pnode is an inner node of a perfect tree.
type pnode struct {
	thr  float32
	feat uint32
}

// gnode is a node of a compact tree; a leaf has left < 0 and its value in
// thr. The right child is always left+1.
type gnode struct {
	thr  float32
	feat uint32
	left int32
}

// maxPerfectDepth bounds the padding a perfect layout may cost.
const maxPerfectDepth = 12

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

// compile chooses a layout per tree and fills the flat arrays.
func (f *Forest) compile() {
	f.plan = make([]treePlan, len(f.trees))
	f.means = make([][]float32, len(f.trees))
	for i := range f.trees {
		t := &f.trees[i]
		p := treePlan{group: f.group[i], weight: 1}
		if f.weight != nil {
			p.weight = f.weight[i]
		}
		depth, leaves, categorical := t.shape()
		f.maxDeep = max(f.maxDeep, depth)
		switch {
		case categorical:
			p.layout = layoutCategorical
			p.off = int32(i)
		case depth <= maxPerfectDepth && 1<<depth <= 4*leaves+16:
			p.layout = layoutPerfect
			p.depth = uint8(depth)
			p.off = int32(len(f.pnodes))
			p.leaf = int32(len(f.leaves))
			f.pnodes = append(f.pnodes, make([]pnode, 1<<depth-1)...)
			f.leaves = append(f.leaves, make([]float32, 1<<depth)...)
			f.fillPerfect(t, 0, 0, 0, depth, f.pnodes[p.off:], f.leaves[p.leaf:])
		default:
			p.layout = layoutCompact
			p.off = int32(len(f.gnodes))
			f.fillCompact(t)
		}
		f.plan[i] = p
		f.means[i] = t.meanValues()
	}
}

// shape returns a tree's depth (edges from root to deepest leaf), its leaf
// count and whether it has categorical splits. The tree is valid, so the
// walk terminates.
func (t *Tree) shape() (depth, leaves int, categorical bool) {
	type item struct{ id, d int32 }
	stack := []item{{0, 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := &t.Nodes[it.id]
		if n.IsLeaf() {
			leaves++
			depth = max(depth, int(it.d))
			continue
		}
		categorical = categorical || n.Categorical
		stack = append(stack, item{n.Left, it.d + 1}, item{n.Right, it.d + 1})
	}
	return depth, leaves, categorical
}

// fillPerfect writes the subtree of node id at position pos (level lvl) of
// a perfect tree of depth d. A leaf above the last level is repeated into
// both halves below it, so the inner nodes it occupies may route either way.
func (f *Forest) fillPerfect(t *Tree, id int32, pos, lvl, d int, inner []pnode, leaves []float32) {
	n := &t.Nodes[id]
	if lvl == d {
		leaves[pos-(1<<d-1)] = n.Value
		return
	}
	left, right := id, id
	if !n.IsLeaf() {
		feat := uint32(n.Feature)
		if !n.DefaultLeft {
			feat |= missingRight
		}
		inner[pos] = pnode{thr: n.Value, feat: feat}
		left, right = n.Left, n.Right
	}
	f.fillPerfect(t, left, 2*pos+1, lvl+1, d, inner, leaves)
	f.fillPerfect(t, right, 2*pos+2, lvl+1, d, inner, leaves)
}

// fillCompact appends t to gnodes in breadth-first order with each node's
// children adjacent.
func (f *Forest) fillCompact(t *Tree) {
	base := int32(len(f.gnodes))
	order := []int32{0}
	f.gnodes = append(f.gnodes, gnode{})
	for q := 0; q < len(order); q++ {
		n := &t.Nodes[order[q]]
		if n.IsLeaf() {
			f.gnodes[base+int32(q)] = gnode{thr: n.Value, left: -1}
			continue
		}
		feat := uint32(n.Feature)
		if !n.DefaultLeft {
			feat |= missingRight
		}
		f.gnodes[base+int32(q)] = gnode{thr: n.Value, feat: feat, left: base + int32(len(order))}
		order = append(order, n.Left, n.Right)
		f.gnodes = append(f.gnodes, gnode{}, gnode{})
	}
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
	Trees, Nodes, Leaves           int
	PerfectTrees, CategoricalTrees int
	MaxDepth                       int
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
		case layoutCategorical:
			s.CategoricalTrees++
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
