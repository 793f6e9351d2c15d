package forest

import "math"

// How compiled trees are laid out.
//
// Feature values are compared as order-preserving 32-bit keys (floatKey):
// key(a) >= key(b) exactly when a >= b as floats (with -0 read as +0), and
// every number's key lies strictly between 0 and missingKey. Each row is
// turned into 2*NumFeature+1 keys: column 2j is feature j with a missing
// value keyed missingKey (above every split, so it goes right), column
// 2j+1 is feature j with a missing value keyed 0 (below every split, so it
// goes left), and the last column is always 0. A node stores the key t of
// its condition and the column to read (2j, or 2j+1 when missing values go
// left), and sends a row right exactly when key >= t: one load and one
// comparison per split, missing values included, without branches. A leaf
// of a flat tree reads the zero column with t = 1, so it never moves.
//
// A perfect tree (layoutPerfect) is stored as a complete binary tree of its
// depth: node i has children 2i+1 and 2i+2, and a leaf above the last level
// is repeated into every slot below it, so the nodes it occupies may route
// either way. Its leaves sit in leafval in level order. This is the most
// compact and fastest form for the balanced trees depthwise growth makes.
//
// A flat tree (layoutFlat) is stored breadth-first with siblings adjacent:
// node i's right child is left(i)+1, and a leaf has lim = 0 and left
// pointing at itself, so a walk of fixed length stays on it. leafval holds
// each node's leaf value. Sparse or lopsided trees use this form.
//
// Trees with categorical splits, or beyond the limits below, keep the
// general walker over their original nodes.

// layout kinds of a compiled tree.
const (
	layoutPerfect = iota
	layoutFlat
	layoutGeneral
)

const (
	// missingKey is the key of a missing value.
	missingKey = math.MaxUint32
	// maxPerfectDepth bounds the padding of perfect trees.
	maxPerfectDepth = 12
	// maxFlatNodes and maxFlatDepth bound flat trees: node indexes fit in
	// 15 bits and a walk has a bounded fixed length.
	maxFlatNodes = 1 << 15
	maxFlatDepth = 64
	// maxKeyFeatures bounds the features of a keyed model, whose key
	// columns (2 per feature plus the zero column) must fit in 16 bits.
	maxKeyFeatures = (1<<16 - 1) / 2
)

// node is a compiled split: 8 bytes.
type node struct {
	t    uint32 // key of the split condition
	col  uint16 // key column to compare (see above)
	left uint16 // left child (flat trees); the right child is left+1
}

// treePlan says where a compiled tree lives and how to walk it.
type treePlan struct {
	layout uint8
	depth  uint8
	group  int32
	off    int32 // into nodes, or into trees for the general walker
	leaf   int32 // into leafval: a walk's final node i has its leaf at leaf+i
	weight float32
}

// floatKey maps a float32 to its order-preserving key.
func floatKey(v float32) uint32 {
	if v != v {
		return missingKey
	}
	if v == 0 {
		v = 0 // -0 compares equal to +0
	}
	b := math.Float32bits(v)
	if b>>31 == 0 {
		return b | 1<<31
	}
	return ^b
}

// split builds the node for inner node n with left child index left.
func split(n *Node, left int) node {
	nd := node{t: floatKey(n.Value), col: uint16(2 * n.Feature), left: uint16(left)}
	if n.DefaultLeft {
		nd.col++
	}
	return nd
}

// rowKeys writes a row's key columns: see the layout notes above.
func rowKeys(row []float32, keys []uint32) {
	for j, v := range row {
		k := floatKey(v)
		keys[2*j], keys[2*j+1] = k, k
		if k == missingKey {
			keys[2*j+1] = 0
		}
	}
	keys[2*len(row)] = 0
}

// compile chooses a layout per tree and fills the arrays.
func (f *Forest) compile() {
	f.plan = make([]treePlan, len(f.trees))
	f.means = make([][]float32, len(f.trees))
	f.nodes = make([]node, vecPad, 2*vecPad)
	for i := range f.trees {
		t := &f.trees[i]
		p := treePlan{group: f.group[i], weight: 1, layout: layoutGeneral, off: int32(i)}
		if f.weight != nil {
			p.weight = f.weight[i]
		}
		depth, categorical := t.shape()
		f.maxDeep = max(f.maxDeep, depth)
		keyed := !categorical && f.numFeature <= maxKeyFeatures && t.fitsKeys()
		switch {
		case keyed && depth <= maxPerfectDepth && 1<<(depth+1) <= 2*len(t.Nodes)+64:
			p.layout, p.depth = layoutPerfect, uint8(depth)
			p.off, p.leaf = int32(len(f.nodes)), int32(len(f.leafval))-(1<<depth-1)
			f.nodes = append(f.nodes, make([]node, 1<<depth-1)...)
			f.leafval = append(f.leafval, make([]float32, 1<<depth)...)
			t.fillPerfect(0, 0, 0, depth, f.nodes[p.off:], f.leafval[len(f.leafval)-1<<depth:])
		case keyed && depth <= maxFlatDepth && len(t.Nodes) <= maxFlatNodes:
			p.layout, p.depth = layoutFlat, uint8(depth)
			p.off, p.leaf = int32(len(f.nodes)), int32(len(f.leafval))
			f.nodes = append(f.nodes, make([]node, len(t.Nodes))...)
			f.leafval = append(f.leafval, make([]float32, len(t.Nodes))...)
			t.fillFlat(f.nodes[p.off:], f.leafval[p.leaf:], uint16(2*f.numFeature))
		}
		f.plan[i] = p
		f.means[i] = t.meanValues()
	}
	f.nodes = append(f.nodes, make([]node, vecPad)...)
	f.compileVector()
}

// shape returns a tree's depth (edges from root to deepest leaf) and
// whether it has categorical splits. The tree is valid, so the walk
// terminates.
func (t *Tree) shape() (depth int, categorical bool) {
	type item struct{ id, d int32 }
	stack := []item{{0, 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := &t.Nodes[it.id]
		if n.IsLeaf() {
			depth = max(depth, int(it.d))
			continue
		}
		categorical = categorical || n.Categorical
		stack = append(stack, item{n.Left, it.d + 1}, item{n.Right, it.d + 1})
	}
	return depth, categorical
}

// fitsKeys reports whether every split condition of t has a key strictly
// between 0 and missingKey, as the key comparison needs. Only NaN patterns
// do not, and validated trees have no NaN conditions.
func (t *Tree) fitsKeys() bool {
	for i := range t.Nodes {
		if n := &t.Nodes[i]; !n.IsLeaf() {
			if k := floatKey(n.Value); k == 0 || k == missingKey {
				return false
			}
		}
	}
	return true
}

// fillPerfect writes the subtree of node id at position pos (level lvl) of
// a perfect tree of depth d.
func (t *Tree) fillPerfect(id int32, pos, lvl, d int, inner []node, leaves []float32) {
	n := &t.Nodes[id]
	if lvl == d {
		leaves[pos-(1<<d-1)] = n.Value
		return
	}
	left, right := id, id
	if !n.IsLeaf() {
		inner[pos] = split(n, 0)
		left, right = n.Left, n.Right
	}
	t.fillPerfect(left, 2*pos+1, lvl+1, d, inner, leaves)
	t.fillPerfect(right, 2*pos+2, lvl+1, d, inner, leaves)
}

// fillFlat writes t breadth-first with each node's children adjacent.
// Unreachable (pruned) nodes of the original are dropped.
func (t *Tree) fillFlat(nodes []node, leaves []float32, zeroCol uint16) {
	order := []int32{0}
	for q := 0; q < len(order); q++ {
		n := &t.Nodes[order[q]]
		if n.IsLeaf() {
			nodes[q] = node{t: 1, col: zeroCol, left: uint16(q)}
			leaves[q] = n.Value
			continue
		}
		nodes[q] = split(n, len(order))
		order = append(order, n.Left, n.Right)
	}
}
