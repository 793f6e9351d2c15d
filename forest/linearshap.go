package forest

import "math"

// Linear TreeSHAP for one row: the polynomial form of Bifet et al. (2022),
// evaluated at Gauss-Legendre points.
//
// A leaf l of value v whose path has the distinct features P (a feature
// tested twice is one element, its zero fraction the product of its cover
// ratios, satisfied only if the row goes the leaf's way at every test)
// adds to feature i of P
//
//	phi_i = v (o_i - z_i) Σ_{S ⊆ P∖{i}} w(|S|) Π_{j ∈ S} o_j Π_{j ∈ P∖S∖{i}} z_j
//
// with w(s) = s!(d-1-s)!/d! = ∫_0^1 t^s (1-t)^(d-1-s) dt, so that
//
//	phi_i = v (o_i - z_i) ∫_0^1 Q(t) / q_i(t) dt,  q_j(t) = z_j (1-t) + o_j t,  Q = Π_{j ∈ P} q_j.
//
// The integrand is a polynomial of degree d-1, so K = ceil(d/2)
// Gauss-Legendre points integrate it exactly. Summed over the leaves below
// a node, the integrand factors into a top-down product A (the factors of
// the edges above, times the quadrature weights) and a bottom-up sum D
// (the leaf values times the factors of the edges below), so a row costs
// one pass down and one pass up the tree with O(K) arithmetic per node:
// O(N·D) per tree, no tables, and about 48 bytes per node, which keeps a
// whole model's explanation data in the processor's caches where the
// FastTreeSHAP tables (2^d values per leaf) do not fit.
//
// A feature tested again below its first test (z_p, o_p: its element so
// far) changes the edge factor to q(z_p z_c, o_p o_c)/q(z_p, o_p) and the
// node subtracts what the ancestor counted for the leaves below it; the
// two evaluations at each point cancel exactly, so what is integrated is
// still each leaf's polynomial.

// maxGaussPoints is the most quadrature points: paths of up to
// 2*maxGaussPoints distinct features.
const maxGaussPoints = maxTableDepth / 2

// gaussRule holds a K-point Gauss-Legendre rule on [0, 1].
type gaussRule struct {
	t, u, w [maxGaussPoints]float64 // points, 1 - points, weights
}

// gaussRules[K] is the K-point rule.
var gaussRules = func() (r [maxGaussPoints + 1]gaussRule) {
	for k := 1; k <= maxGaussPoints; k++ {
		r[k] = legendre(k)
	}
	return r
}()

// legendre computes the n-point Gauss-Legendre rule on [0, 1] by Newton's
// method on the Legendre polynomial P_n.
func legendre(n int) gaussRule {
	var g gaussRule
	for i := 0; i < n; i++ {
		x := math.Cos(math.Pi * (float64(i) + 0.75) / (float64(n) + 0.5))
		var dp float64
		for range 100 {
			p0, p1 := 1.0, 0.0
			for j := 1; j <= n; j++ {
				p0, p1 = ((2*float64(j)-1)*x*p0-(float64(j)-1)*p1)/float64(j), p0
			}
			dp = float64(n) * (x*p0 - p1) / (x*x - 1)
			dx := p0 / dp
			x -= dx
			if math.Abs(dx) < 1e-16 {
				break
			}
		}
		p0, p1 := 1.0, 0.0
		for j := 1; j <= n; j++ {
			p0, p1 = ((2*float64(j)-1)*x*p0-(float64(j)-1)*p1)/float64(j), p0
		}
		dp = float64(n) * (x*p0 - p1) / (x*x - 1)
		g.t[i] = (1 - x) / 2
		g.u[i] = 1 - g.t[i]
		g.w[i] = 1 / ((1 - x*x) * dp * dp)
	}
	return g
}

// linNode is an inner node of a tree in the polynomial form, in
// breadth-first order.
type linNode struct {
	node        int32 // index in Tree.Nodes (scratch slot; categorical splits)
	feature     int32
	cond        float32
	left, right int32   // children's node indexes
	bit, newBit uint32  // the feature's path slot; set when this is its first test
	zl, zr      float32 // the children's merged zero fractions, zp times the cover ratio
	zp          float32 // the feature's merged zero fraction above this node (1 on a first test)
	defaultLeft bool
	categorical bool
}

// linBottom is an inner node whose children are both leaves, with their
// values: the 4-point kernel takes these apart, with no top-down
// products for the leaves and no bottom-up values stored for them.
type linBottom struct {
	linNode
	vl, vr float64
}

// linLeaf is a leaf: its node index and value (times the dart weight).
type linLeaf struct {
	node int32
	v    float64
}

// linTree is the polynomial form of one tree.
type linTree struct {
	nodes   []linNode
	leaves  []linLeaf
	bottom  []linBottom // 4-point trees: inner nodes with two leaves, apart from nodes
	k       int         // quadrature points
	ok      bool        // false: the tree keeps the recursive algorithm
	rootVal float64
}

// linForest is the polynomial form of a forest.
type linForest struct {
	trees    []linTree
	maxNodes int
	maxK     int
}

// buildLinear computes the polynomial form of every tree that the tables'
// conditions allow (see tableSize); the others keep the recursion.
func (f *Forest) buildLinear() *linForest {
	lf := &linForest{trees: make([]linTree, len(f.trees)), maxK: 1}
	for ti := range f.trees {
		t := &f.trees[ti]
		w := 1.0
		if f.weight != nil {
			w = float64(f.weight[ti])
		}
		tr := &lf.trees[ti]
		tr.rootVal = float64(f.means[ti][0]) * w
		if _, ok := t.tableSize(); !ok {
			continue
		}
		tr.ok = true
		lf.maxNodes = max(lf.maxNodes, len(t.Nodes))
		tr.fill(t, w)
		lf.maxK = max(lf.maxK, tr.k)
	}
	return lf
}

// fill builds one tree's nodes and leaves breadth-first.
func (tr *linTree) fill(t *Tree, w float64) {
	type item struct {
		id    int32
		feats []int32 // distinct features of the path to id, by slot
		zs    []float64
	}
	queue := []item{{id: 0}}
	depth := 0
	for q := 0; q < len(queue); q++ {
		it := queue[q]
		n := &t.Nodes[it.id]
		if n.IsLeaf() {
			tr.leaves = append(tr.leaves, linLeaf{node: it.id, v: float64(n.Value) * w})
			depth = max(depth, len(it.feats))
			continue
		}
		slot := len(it.feats)
		for k, fe := range it.feats {
			if fe == n.Feature {
				slot = k
				break
			}
		}
		zp := 1.0
		if slot < len(it.feats) {
			zp = it.zs[slot]
		}
		nd := linNode{node: it.id, feature: n.Feature, cond: n.Value, left: n.Left, right: n.Right,
			bit: 1 << slot, zp: float32(zp), defaultLeft: n.DefaultLeft, categorical: n.Categorical}
		if slot == len(it.feats) {
			nd.newBit = 1 << slot
		}
		for side, c := range [2]int32{n.Left, n.Right} {
			z := zp * float64(t.Nodes[c].Cover) / float64(n.Cover)
			if side == 0 {
				nd.zl = float32(z)
			} else {
				nd.zr = float32(z)
			}
			feats := append(append([]int32(nil), it.feats...), n.Feature)[:max(slot+1, len(it.feats))]
			zs := append(append([]float64(nil), it.zs...), 1)[:len(feats)]
			zs[slot] = z
			queue = append(queue, item{id: c, feats: feats, zs: zs})
		}
		tr.nodes = append(tr.nodes, nd)
	}
	tr.k = max(1, (depth+1)/2)
	if tr.k != 4 {
		return
	}
	val := map[int32]float64{}
	for _, lf := range tr.leaves {
		val[lf.node] = lf.v
	}
	nodes, leaves := tr.nodes[:0:0], tr.leaves[:0:0]
	inBottom := map[int32]bool{}
	for _, nd := range tr.nodes {
		vl, okl := val[nd.left]
		vr, okr := val[nd.right]
		if okl && okr && !nd.categorical {
			tr.bottom = append(tr.bottom, linBottom{linNode: nd, vl: vl, vr: vr})
			inBottom[nd.left], inBottom[nd.right] = true, true
			continue
		}
		nodes = append(nodes, nd)
	}
	for _, lf := range tr.leaves {
		if !inBottom[lf.node] {
			leaves = append(leaves, lf)
		}
	}
	tr.nodes, tr.leaves = nodes, leaves
}

// linScratch is per-call storage for the polynomial form: K values per
// node of A (top-down products), E (edge factors) and D (bottom-up sums),
// and a path mask per node.
type linScratch struct {
	a, e, d []float64 // the general loop's, K values per node
	a3, d3  []vec3    // the unrolled kernels' (edge factors recomputed)
	a4, d4  []vec4
	mask    []uint32
}

// newLinScratch sizes scratch for lf.
func newLinScratch(lf *linForest) linScratch {
	n, sz := lf.maxNodes, lf.maxNodes*lf.maxK
	return linScratch{a: make([]float64, sz), e: make([]float64, sz), d: make([]float64, sz),
		a3: make([]vec3, n), d3: make([]vec3, n), a4: make([]vec4, n), d4: make([]vec4, n),
		mask: make([]uint32, n)}
}

// contributions adds tree tr's contributions for row to phi.
func (tr *linTree) contributions(t *Tree, row []float32, phi []float64, s *linScratch) {
	switch {
	case tr.k <= 3:
		tr.contributions3(t, row, phi, s)
		return
	case tr.k == 4:
		tr.contributions4(t, row, phi, s)
		return
	}
	K := tr.k
	g := &gaussRules[K]
	A, E, D, mask := s.a, s.e, s.d, s.mask
	mask[0] = 0
	copy(A[:K], g.w[:K])
	for i := range tr.nodes {
		nd := &tr.nodes[i]
		m := mask[nd.node] | nd.newBit
		v := row[nd.feature]
		var right bool
		switch {
		case nd.categorical:
			n := &t.Nodes[nd.node]
			right = n.next(v) == n.Right
		case v != v:
			right = !nd.defaultLeft
		default:
			right = !(v < nd.cond)
		}
		ml, mr := m&^nd.bit, m
		if !right {
			ml, mr = m, m&^nd.bit
		}
		mask[nd.left], mask[nd.right] = ml, mr
		ol, or := float64(b2u(ml&nd.bit != 0)), float64(b2u(mr&nd.bit != 0))
		zl, zr := float64(nd.zl), float64(nd.zr)
		a := A[int(nd.node)*K:][:K]
		el, er := E[int(nd.left)*K:][:K], E[int(nd.right)*K:][:K]
		al, ar := A[int(nd.left)*K:][:K], A[int(nd.right)*K:][:K]
		if nd.newBit != 0 {
			for k := range a {
				el[k] = zl*g.u[k] + ol*g.t[k]
				er[k] = zr*g.u[k] + or*g.t[k]
				al[k] = a[k] * el[k]
				ar[k] = a[k] * er[k]
			}
			continue
		}
		zp, op := float64(nd.zp), float64(b2u(m&nd.bit != 0))
		for k := range a {
			inv := 1 / (zp*g.u[k] + op*g.t[k])
			el[k] = (zl*g.u[k] + ol*g.t[k]) * inv
			er[k] = (zr*g.u[k] + or*g.t[k]) * inv
			al[k] = a[k] * el[k]
			ar[k] = a[k] * er[k]
		}
	}
	for _, lf := range tr.leaves {
		d := D[int(lf.node)*K:][:K]
		for k := range d {
			d[k] = lf.v
		}
	}
	for i := len(tr.nodes) - 1; i >= 0; i-- {
		nd := &tr.nodes[i]
		m := mask[nd.node] | nd.newBit
		cl := float64(b2u(mask[nd.left]&nd.bit != 0)) - float64(nd.zl)
		cr := float64(b2u(mask[nd.right]&nd.bit != 0)) - float64(nd.zr)
		a := A[int(nd.node)*K:][:K]
		dn := D[int(nd.node)*K:][:K]
		el, er := E[int(nd.left)*K:][:K], E[int(nd.right)*K:][:K]
		dl, dr := D[int(nd.left)*K:][:K], D[int(nd.right)*K:][:K]
		var sum float64
		if nd.newBit != 0 {
			for k := range a {
				dn[k] = el[k]*dl[k] + er[k]*dr[k]
				sum += a[k] * (dl[k]*cl + dr[k]*cr)
			}
		} else {
			zp, op := float64(nd.zp), float64(b2u(m&nd.bit != 0))
			c := op - zp
			for k := range a {
				inv := 1 / (zp*g.u[k] + op*g.t[k])
				dn[k] = el[k]*dl[k] + er[k]*dr[k]
				sum += a[k] * inv * (dl[k]*(cl-c*el[k]) + dr[k]*(cr-c*er[k]))
			}
		}
		phi[nd.feature] += sum
	}
}

// explainLinear returns the forest's polynomial form, built on first use.
func (f *Forest) explainLinear() *linForest {
	f.linOnce.Do(func() { f.lin = f.buildLinear() })
	return f.lin
}
