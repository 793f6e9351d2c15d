package forest

import (
	"math"
	"sync/atomic"
	"unsafe"
)

// Fast TreeSHAP: precomputed per-leaf tables.
//
// XGBoost's TreeSHAP (Lundberg et al. 2018) walks every tree recursively for
// every row, extending and unwinding a path of permutation weights at each
// node: O(L·D²) float operations per tree and row, with copies of the path
// at every level. Explanations here use the observation behind FastTreeSHAP
// v2 (Yang 2022) and GPUTreeShap (Mitchell et al. 2022): a leaf's share of
// every SHAP value depends on the row only through which of the leaf's path
// conditions the row satisfies. So everything else is computed once per
// model, and a row costs one pass over the inner nodes plus a few table
// reads per leaf: O(N + L·D) per tree, with no recursion and no division.
//
// For a leaf of value v whose root path tests d distinct features (a
// feature tested twice is one path element, as XGBoost's unwinding merges
// it: its zero fraction is the product of the cover ratios, and the row
// satisfies it only if it goes the leaf's way at every test), with zero
// fractions z_j (cover of the path's child over cover of the parent) and
// the set m of elements the row satisfies, Shapley's formula gives
//
//	phi_i = v (o_i - z_i) Σ_{S ⊆ m∖{i}} w(|S|) Π_{j ∈ P∖S∖{i}} z_j,
//	w(s) = s!(d-1-s)!/d!.
//
// With H(A) = v Σ_{S ⊆ A} w(|S|) Π_{j ∈ P∖S} z_j, one table of 2^d values
// per leaf (FastTreeSHAP v2's memory, O(L·2^D)), every term of H(m∖{i})
// holds the factor z_i, so
//
//	phi_i = -H(m)                   when the row fails element i,
//	phi_i = (1-z_i)/z_i · H(m∖{i})  when it satisfies it,
//
// which is a single read of H[m &^ bit_i] times one of two precomputed
// coefficients: branch-free. H is built by a subset-sum (zeta) transform in
// O(d·2^d) per leaf, in float64, and rows accumulate in float64, so the
// result is the exact Shapley value to double precision; XGBoost's float32
// recursion agrees with it within its own rounding (parity fixtures check
// 1e-5).
//
// Tables are built on the first explanation, not at load, within
// ExplainTableBytes; a tree whose table would not fit, that is deeper than
// maxTableDepth, or that has a path element with a zero fraction below
// minZeroFraction (where dividing by z_i would lose precision) or not a
// number (a zero cover), or an infinite leaf, keeps XGBoost's recursive
// algorithm, which reproduces XGBoost's arithmetic on those.

// DefaultExplainTableBytes is the default bound on the memory of the
// precomputed TreeSHAP tables of one model (4 bytes per leaf and subset of
// its path's features). Trees beyond it are explained with the polynomial
// form (Linear TreeSHAP), slower in batches, with the same results to
// 1e-6. The demo model (300 trees of depth 6) needs 2.6 MB; 1,000 trees
// of depth 8 about 14 MB.
const DefaultExplainTableBytes = 64 << 20

// explainTableBytes is the bound in force; see SetExplainTableBytes.
var explainTableBytes atomic.Int64

func init() { explainTableBytes.Store(DefaultExplainTableBytes) }

// SetExplainTableBytes sets the bound on each model's TreeSHAP tables for
// the models explained from now on (a model's tables are built on its
// first explanation and kept): 0 tables no tree, so every explanation uses
// the polynomial form (or, for trees it cannot take, the recursive
// algorithm). The results are the same either way; a larger bound trades
// memory for faster explanations of batches and of shallow trees.
// Negative values count as 0. `leadscore serve --explain-table-bytes` sets it.
func SetExplainTableBytes(n int64) { explainTableBytes.Store(max(n, 0)) }

// ExplainTableBytes is the bound SetExplainTableBytes set (default
// DefaultExplainTableBytes).
func ExplainTableBytes() int64 { return explainTableBytes.Load() }

const (
	// maxTableDepth bounds d for one leaf's table (2^d entries).
	maxTableDepth = 16
	// minZeroFraction is the smallest zero fraction a tabled path may hold.
	minZeroFraction = 1e-7
)

// shapInner is an inner node of a tabled tree, in breadth-first order.
type shapInner struct {
	node        int32 // index in Tree.Nodes (for categorical splits)
	feature     int32
	cond        float32
	left, right int32 // mask slots of the children (their node indexes)
	bit, newBit uint32
	defaultLeft bool
	categorical bool
}

// shapLeaf is a leaf of a tabled tree.
type shapLeaf struct {
	node int32 // mask slot (node index)
	d    int32 // distinct features on the path
	el   int32 // into shapTables.elems: d elements
	tab  int32 // into shapTables.tab: 2^d values
}

// shapPair is two sibling leaves whose parent, a numeric split, tests a
// feature new to their path (see addPair). The parent is not among the
// tree's inner nodes: the pair makes its test itself. node is the
// parent's mask slot, d the distinct features of either leaf's path (the
// parent's is element d-1), el its d elements and tab its 4 tables of
// 2^(d-1) values, G_0 F_0 G_1 F_1: those a row reads are adjacent.
type shapPair struct {
	node, d, el, tab int32
	feature          int32
	cond             float32
	defaultLeft      bool
}

// shapElem is one distinct feature of a leaf's path.
type shapElem struct {
	feature int32
	bit     uint32     // 1 << its slot
	coef    [2]float32 // by whether the row satisfies it: -1, (1-z)/z
}

// shapTree is the precomputed form of one tree.
type shapTree struct {
	inner   []shapInner
	pairs   []shapPair
	leaves  []shapLeaf // those not in pairs
	width   int32      // the most distinct features on a path
	nodes   int
	tabled  bool
	rootVal float64 // the tree's expected value times its weight
}

// shapTables holds the precomputed TreeSHAP form of a forest.
type shapTables struct {
	trees    []shapTree
	elems    []shapElem
	tab      []float32
	maxNodes int
}

// buildShapTables precomputes every tree that fits the budget.
func (f *Forest) buildShapTables(budget int) *shapTables {
	st := &shapTables{trees: make([]shapTree, len(f.trees))}
	var used int
	for ti := range f.trees {
		t := &f.trees[ti]
		w := 1.0
		if f.weight != nil {
			w = float64(f.weight[ti])
		}
		tr := &st.trees[ti]
		tr.rootVal = float64(f.means[ti][0]) * w
		tr.nodes = len(t.Nodes)
		need, ok := t.tableSize()
		if !ok || used+need*4 > budget {
			continue
		}
		used += need * 4
		tr.tabled = true
		st.maxNodes = max(st.maxNodes, len(t.Nodes))
		st.fill(t, tr, w)
	}
	return st
}

// tableSize returns the number of table entries a tree needs, and whether
// it can be tabled at all.
func (t *Tree) tableSize() (int, bool) {
	total := 0
	ok := true
	var walk func(id int32, feats []int32, zs []float64)
	walk = func(id int32, feats []int32, zs []float64) {
		if !ok {
			return
		}
		n := &t.Nodes[id]
		if n.IsLeaf() {
			if len(feats) > maxTableDepth {
				ok = false
				return
			}
			// NaN fractions (a zero cover) and infinite leaves keep the
			// recursion, which reproduces XGBoost's arithmetic on them.
			if math.IsInf(float64(n.Value), 0) {
				ok = false
				return
			}
			for _, z := range zs {
				if !(z >= minZeroFraction) || math.IsInf(z, 0) {
					ok = false
					return
				}
			}
			total += 1 << len(feats)
			return
		}
		for _, c := range [2]int32{n.Left, n.Right} {
			z := float64(t.Nodes[c].Cover) / float64(n.Cover)
			f2, z2 := append([]int32(nil), feats...), append([]float64(nil), zs...)
			found := false
			for k, fe := range f2 {
				if fe == n.Feature {
					z2[k] *= z
					found = true
				}
			}
			if !found {
				f2 = append(f2, n.Feature)
				z2 = append(z2, z)
			}
			walk(c, f2, z2)
		}
	}
	walk(0, nil, nil)
	return total, ok
}

// fill builds the inner nodes, leaves, elements and tables of one tree.
func (st *shapTables) fill(t *Tree, tr *shapTree, w float64) {
	type item struct {
		id    int32
		feats []int32 // distinct features of the path to id, by slot
		zs    []float64
	}
	queue := []item{{id: 0}}
	paired := map[int32]bool{}
	for q := 0; q < len(queue); q++ {
		it := queue[q]
		n := &t.Nodes[it.id]
		if n.IsLeaf() {
			tr.width = max(tr.width, int32(len(it.feats)))
			if !paired[it.id] {
				st.addLeaf(tr, it.id, it.feats, it.zs, float64(n.Value)*w)
			}
			continue
		}
		slot := len(it.feats)
		for k, fe := range it.feats {
			if fe == n.Feature {
				slot = k
				break
			}
		}
		in := shapInner{node: it.id, feature: n.Feature, cond: n.Value, left: n.Left, right: n.Right,
			bit: 1 << slot, defaultLeft: n.DefaultLeft, categorical: n.Categorical}
		if slot == len(it.feats) {
			in.newBit = 1 << slot
		}
		l, r := &t.Nodes[n.Left], &t.Nodes[n.Right]
		pair := in.newBit != 0 && !in.categorical && l.IsLeaf() && r.IsLeaf()
		if !pair {
			tr.inner = append(tr.inner, in)
		}
		var kids [2]item
		for side, c := range [2]int32{n.Left, n.Right} {
			z := float64(t.Nodes[c].Cover) / float64(n.Cover)
			feats := append(append([]int32(nil), it.feats...), n.Feature)[:max(slot+1, len(it.feats))]
			zs := append(append([]float64(nil), it.zs...), 1)[:len(feats)]
			zs[slot] *= z
			kids[side] = item{id: c, feats: feats, zs: zs}
			queue = append(queue, kids[side])
		}
		if pair {
			paired[n.Left], paired[n.Right] = true, true
			st.addPair(tr, &in, kids[0].feats, kids[0].zs, kids[1].zs, float64(l.Value)*w, float64(r.Value)*w)
		}
	}
}

// addPair tables two sibling leaves whose parent's test is element d-1
// of both paths, new to them. With m the mask of the parent's path (the
// first d-1 elements) and the row going left (0) or right (1), the
// leaves' masks are m|e and m (left) or m and m|e (right), e the last
// element's bit, and the pair adds
//
//	to element k < d-1:  coef_k(m) · G_dir(m or m∖{k}),
//	  G_0(m) = H_L(m|e) + H_R(m),  G_1(m) = H_L(m) + H_R(m|e),
//	to element d-1:      F_dir(m),
//	  F_0(m) = c_L H_L(m) − H_R(m),  F_1(m) = c_R H_R(m) − H_L(m),
//
// (c = (1-z)/z of the last element's zero fraction): the prefix elements'
// coefficients are the same in both leaves, and the leaf the row goes to
// satisfies the last element, the other fails it. So a pair costs d table
// reads where its two leaves cost 2d, with the same memory.
func (st *shapTables) addPair(tr *shapTree, parent *shapInner, feats []int32, zl, zr []float64, vl, vr float64) {
	d := len(feats)
	p := shapPair{node: parent.node, d: int32(d), el: int32(len(st.elems)), tab: int32(len(st.tab)),
		feature: parent.feature, cond: parent.cond, defaultLeft: parent.defaultLeft}
	for k, fe := range feats[:d-1] {
		st.elems = append(st.elems, shapElem{feature: fe, bit: 1 << k, coef: [2]float32{-1, float32((1 - zl[k]) / zl[k])}})
	}
	st.elems = append(st.elems, shapElem{feature: feats[d-1], bit: 1 << (d - 1)})
	hl, hr := leafTable(zl, vl), leafTable(zr, vr)
	half := 1 << (d - 1)
	cl, cr := (1-zl[d-1])/zl[d-1], (1-zr[d-1])/zr[d-1]
	tab := make([]float64, 4*half)
	for m := 0; m < half; m++ {
		tab[m] = hl[m|half] + hr[m]        // G_0
		tab[half+m] = cl*hl[m] - hr[m]     // F_0
		tab[2*half+m] = hl[m] + hr[m|half] // G_1
		tab[3*half+m] = cr*hr[m] - hl[m]   // F_1
	}
	for _, x := range tab {
		st.tab = append(st.tab, float32(x))
	}
	tr.pairs = append(tr.pairs, p)
}

// addLeaf computes one leaf's elements and its table H (see above).
func (st *shapTables) addLeaf(tr *shapTree, id int32, feats []int32, zs []float64, v float64) {
	d := len(feats)
	lf := shapLeaf{node: id, d: int32(d), el: int32(len(st.elems)), tab: int32(len(st.tab))}
	for k, fe := range feats {
		st.elems = append(st.elems, shapElem{feature: fe, bit: 1 << k, coef: [2]float32{-1, float32((1 - zs[k]) / zs[k])}})
	}
	h := leafTable(zs, v)
	if d > 0 {
		h[len(h)-1] = 0 // never read: some element is always failed or excluded
	}
	for _, x := range h {
		st.tab = append(st.tab, float32(x))
	}
	tr.leaves = append(tr.leaves, lf)
}

// leafTable is H for a leaf of value v whose path elements have the zero
// fractions zs: H(m) = v Σ_{S ⊆ m} w(|S|) Π_{j ∉ S} z_j, 2^len(zs) values.
func leafTable(zs []float64, v float64) []float64 {
	d := len(zs)
	size := 1 << d
	h := make([]float64, size)
	if d > 0 {
		// w(s) = s!(d-1-s)!/d!, by the recurrence w(s+1) = w(s)(s+1)/(d-1-s).
		ws := make([]float64, d)
		ws[0] = 1 / float64(d)
		for s := 0; s+1 < d; s++ {
			ws[s+1] = ws[s] * float64(s+1) / float64(d-1-s)
		}
		for m := 0; m < size-1; m++ {
			p := ws[popcount(uint32(m))] * v
			for k := 0; k < d; k++ {
				if m>>k&1 == 0 {
					p *= zs[k]
				}
			}
			h[m] = p
		}
		// Subset sums: h[m] = Σ_{S ⊆ m} term(S).
		for k := 0; k < d; k++ {
			for m := 0; m < size; m++ {
				if m>>k&1 != 0 {
					h[m] += h[m^1<<k]
				}
			}
		}
	}
	return h
}

func popcount(x uint32) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// tabledContributions adds tree tr's contributions for row to phi, which
// holds phiCopies accumulators stride apart.
func (st *shapTables) tabledContributions(t *Tree, tr *shapTree, row []float32, phi []float64, stride int, mask []uint32) {
	mask[0] = 0
	for i := range tr.inner {
		in := &tr.inner[i]
		m := mask[in.node] | in.newBit
		v := row[in.feature]
		var right bool
		switch {
		case in.categorical:
			n := &t.Nodes[in.node]
			right = n.next(v) == n.Right
		case v != v:
			right = !in.defaultLeft
		default:
			right = !(v < in.cond)
		}
		ml, mr := m&^in.bit, m
		if !right {
			ml, mr = m, m&^in.bit
		}
		mask[in.left], mask[in.right] = ml, mr
	}
	// Consecutive leaves (siblings) add to the same features: alternating
	// between phiCopies copies of phi keeps those additions from waiting on
	// each other. Indexes are checked at build time (fill, addLeaf): every
	// leaf's elements and 2^d table entries are in st.elems and st.tab, its
	// features are below stride, and a mask has at most d bits, so the
	// loop reads through unsafe.Add without bounds checks.
	tabBase := unsafe.Pointer(unsafe.SliceData(st.tab))  // #nosec G103 -- see above
	elBase := unsafe.Pointer(unsafe.SliceData(st.elems)) // #nosec G103 -- see above
	phiBase := unsafe.Pointer(unsafe.SliceData(phi))     // #nosec G103 -- see above
	maskBase := unsafe.Pointer(unsafe.SliceData(mask))   // #nosec G103 -- see above
	const elSize = unsafe.Sizeof(shapElem{})
	for i := range tr.pairs {
		pr := &tr.pairs[i]
		m := *(*uint32)(unsafe.Add(maskBase, uintptr(pr.node)<<2)) // #nosec G103 -- see above
		v := row[pr.feature]
		right := b2u(!(v < pr.cond))
		if v != v {
			right = b2u(!pr.defaultLeft)
		}
		last := uint32(1) << ((pr.d - 1) & 31)
		dir := right << (pr.d & 31)                                // 0 left, 2^d right
		g := unsafe.Add(tabBase, uintptr(uint32(pr.tab)+dir)<<2)   // #nosec G103 -- see above
		el := unsafe.Add(elBase, uintptr(pr.el)*elSize)            // #nosec G103 -- see above
		end := unsafe.Add(el, uintptr(pr.d-1)*elSize)              // #nosec G103 -- see above
		p := unsafe.Add(phiBase, uintptr((i%phiCopies)*stride)<<3) // #nosec G103 -- see above
		addElems(p, g, el, end, m)
		f := *(*float32)(unsafe.Add(g, (uintptr(m)+uintptr(last))<<2))                 // #nosec G103 -- see above
		*(*float64)(unsafe.Add(p, uintptr((*shapElem)(end).feature)<<3)) += float64(f) // #nosec G103 -- see above
	}
	for i := range tr.leaves {
		lf := &tr.leaves[i]
		m := *(*uint32)(unsafe.Add(maskBase, uintptr(lf.node)<<2)) // #nosec G103 -- see above
		tab := unsafe.Add(tabBase, uintptr(lf.tab)<<2)             // #nosec G103 -- see above
		el := unsafe.Add(elBase, uintptr(lf.el)*elSize)            // #nosec G103 -- see above
		end := unsafe.Add(el, uintptr(lf.d)*elSize)                // #nosec G103 -- see above
		p := unsafe.Add(phiBase, uintptr((i%phiCopies)*stride)<<3) // #nosec G103 -- see above
		addElems(p, tab, el, end, m)
	}
}

// addElems adds, for each element from el to end, its coefficient times
// the table tab's value at the mask m without the element (m itself when
// the row fails it) to its feature's accumulator in p. It is its own
// small function so that its loop keeps every value in a register.
//
//go:noinline
func addElems(p, tab, el, end unsafe.Pointer, m uint32) {
	for ; el != end; el = unsafe.Add(el, unsafe.Sizeof(shapElem{})) { // #nosec G103 -- see tabledContributions
		e := (*shapElem)(el)
		h := *(*float32)(unsafe.Add(tab, uintptr(m&^e.bit)<<2)) // #nosec G103 -- see tabledContributions
		acc := (*float64)(unsafe.Add(p, uintptr(e.feature)<<3)) // #nosec G103 -- see tabledContributions
		*acc += float64(e.coef[b2u(m&e.bit != 0)] * h)
	}
}

// tabledBlock is tabledContributions for the n rows of a block, leaf by
// leaf: cols holds the rows' values column-major (value j of row r at
// j*n+r) and phi the accumulators output-major (copy c, output j, row r
// at (c*stride+j)*n+r); mask is scratch for maxNodes*n masks. Each row's
// accumulators receive exactly the additions, in the same order, that
// tabledContributions makes for it alone, so the results are identical;
// but the innermost loop runs over the rows with the leaf's table,
// feature and coefficients fixed, so its iterations do not wait on each
// other and the tree's tables are read from the nearest cache.
func (st *shapTables) tabledBlock(t *Tree, tr *shapTree, cols []float32, n int, phi []float64, stride int, mask []uint32) {
	clear(mask[:n])
	for i := range tr.inner {
		in := &tr.inner[i]
		src := mask[int(in.node)*n:][:n]
		ml := mask[int(in.left)*n:][:n]
		mr := mask[int(in.right)*n:][:n]
		vals := cols[int(in.feature)*n:][:n]
		if in.categorical {
			nd := &t.Nodes[in.node]
			for r, v := range vals {
				m := src[r] | in.newBit
				if nd.next(v) == nd.Right {
					ml[r], mr[r] = m&^in.bit, m
				} else {
					ml[r], mr[r] = m, m&^in.bit
				}
			}
			continue
		}
		// goLeft is all ones when the row goes left: missing values by
		// the default direction, others by value < cond.
		var nanLeft uint32
		if in.defaultLeft {
			nanLeft = ^uint32(0)
		}
		for r, v := range vals {
			m := src[r] | in.newBit
			goLeft := nanLeft
			if v == v {
				goLeft = -b2u(v < in.cond)
			}
			ml[r] = m &^ (in.bit &^ goLeft)
			mr[r] = m &^ (in.bit & goLeft)
		}
	}
	tabBase := unsafe.Pointer(unsafe.SliceData(st.tab)) // #nosec G103 -- see above
	dirs := mask[len(mask)-n:]                          // the pairs' directions, after maxNodes*n masks
	for i := range tr.pairs {
		pr := &tr.pairs[i]
		ms := mask[int(pr.node)*n:][:n]
		tab := unsafe.Add(tabBase, uintptr(pr.tab)<<2) // #nosec G103 -- see tabledContributions
		base := (i % phiCopies) * stride
		last := uint32(pr.d-1) & 31
		var nanRight uint32
		if !pr.defaultLeft {
			nanRight = 1
		}
		for r, v := range cols[int(pr.feature)*n:][:n] {
			right := nanRight
			if v == v {
				right = b2u(!(v < pr.cond))
			}
			dirs[r] = right << (last + 1)
		}
		els := st.elems[pr.el : pr.el+pr.d]
		for k, e := range els[:last] {
			coef := e.coef
			bit := uint32(1) << (k & 31)
			sh := uint32(k & 31)
			acc := phi[(base+int(e.feature))*n:][:n]
			for r, m := range ms {
				h := *(*float32)(unsafe.Add(tab, uintptr(m&^bit+dirs[r])<<2)) // #nosec G103 -- see tabledContributions
				acc[r] += float64(coef[m>>sh&1] * h)
			}
		}
		acc := phi[(base+int(els[last].feature))*n:][:n]
		for r, m := range ms {
			g := uintptr(m+dirs[r]) + uintptr(1)<<last
			acc[r] += float64(*(*float32)(unsafe.Add(tab, g<<2))) // #nosec G103 -- see tabledContributions
		}
	}
	for i := range tr.leaves {
		lf := &tr.leaves[i]
		ms := mask[int(lf.node)*n:][:n]
		tab := unsafe.Add(tabBase, uintptr(lf.tab)<<2) // #nosec G103 -- see tabledContributions
		base := (i % phiCopies) * stride
		for k, e := range st.elems[lf.el : lf.el+lf.d] {
			coef := e.coef
			bit := uint32(1) << (k & 31)
			sh := uint32(k & 31)
			acc := phi[(base+int(e.feature))*n:][:n]
			for r, m := range ms {
				h := *(*float32)(unsafe.Add(tab, uintptr(m&^bit)<<2)) // #nosec G103 -- see tabledContributions
				acc[r] += float64(coef[m>>sh&1] * h)
			}
		}
	}
}

// b2u is 1 for true and 0 for false.
func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// phiCopies is the number of interleaved accumulators.
const phiCopies = 4

// explainTables returns the forest's TreeSHAP tables, built on first use.
func (f *Forest) explainTables() *shapTables {
	f.shapOnce.Do(func() { f.shap = f.buildShapTables(int(min(ExplainTableBytes(), math.MaxInt))) })
	return f.shap
}
