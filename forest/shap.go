package forest

import "fmt"

// pathElement is one step of TreeSHAP's unique decision path.
type pathElement struct {
	feature      int32
	zeroFraction float32
	oneFraction  float32
	pweight      float32
}

// shapScratch is reused path storage for one Contributions call.
type shapScratch struct {
	path    []pathElement
	contrib []float32
	phi     []float64 // contributions of tabled trees, per group
	mask    []uint32  // per node: the path elements a row satisfies
	// Block scratch of ContributionsBatch, allocated on its first use:
	// column-major values, masks and accumulators of up to
	// ExplainBlockRows rows.
	cols  []float32
	bmask []uint32
	bphi  []float64
	lin   linScratch // one-row scratch of the polynomial form
}

// Contributions writes TreeSHAP feature contributions for one row to out,
// the same as XGBoost's pred_contribs=True: for each group, NumFeature
// values followed by the bias (the intercept plus each tree's expected
// value), so len(out) must be NumGroup*(NumFeature+1). The contributions of
// a group sum to its margin. Arithmetic follows XGBoost's float32 code.
func (f *Forest) Contributions(row, out []float32) error {
	nf, g := f.numFeature, f.numGroup
	if len(row) != nf {
		return fmt.Errorf("forest: row has %d values, model has %d features", len(row), nf)
	}
	if len(out) != g*(nf+1) {
		return fmt.Errorf("forest: contributions need %d values, got %d", g*(nf+1), len(out))
	}
	f.explain(row, out, 1)
	return nil
}

// ContributionsBatch writes the TreeSHAP contributions of every row of rows
// (row-major, NumFeature values each) to out, NumGroup*(NumFeature+1)
// values per row laid out as Contributions writes them; len(out) must be
// exactly that times the number of rows. Each row's values are bit for bit
// those Contributions gives it. It is faster per row than calling
// Contributions for each: rows are explained in blocks of ExplainBlockRows,
// tree by tree, so one tree's tables serve the whole block from the
// processor's nearest cache instead of being fetched again for every row.
func (f *Forest) ContributionsBatch(rows, out []float32) error {
	nf, g := f.numFeature, f.numGroup
	if len(rows)%nf != 0 {
		return fmt.Errorf("forest: %d values are not whole rows of %d features", len(rows), nf)
	}
	n := len(rows) / nf
	if len(out) != n*g*(nf+1) {
		return fmt.Errorf("forest: contributions of %d rows need %d values, got %d", n, n*g*(nf+1), len(out))
	}
	w := g * (nf + 1)
	for start := 0; start < n; start += ExplainBlockRows {
		end := min(start+ExplainBlockRows, n)
		f.explain(rows[start*nf:end*nf], out[start*w:end*w], end-start)
	}
	return nil
}

// ExplainBlockRows is the number of rows ContributionsBatch explains
// together, tree by tree.
const ExplainBlockRows = 32

// explain writes the contributions of n rows (n <= ExplainBlockRows) to
// out, one tree at a time for all n rows. Every row gets the same float
// operations in the same order whatever n is, so its result does not
// depend on the rows explained with it.
func (f *Forest) explain(rows, out []float32, n int) {
	nf, g := f.numFeature, f.numGroup
	stride := g * (nf + 1)
	clear(out)
	if f.booster == GBLinear {
		for r := 0; r < n; r++ {
			row, ro := rows[r*nf:(r+1)*nf], out[r*stride:(r+1)*stride]
			for k := 0; k < g; k++ {
				o := ro[k*(nf+1) : (k+1)*(nf+1)]
				for j, v := range row {
					if v == v {
						o[j] = v * f.linear[j*g+k]
					}
				}
				o[nf] = f.linear[nf*g+k] + f.base[k]
			}
		}
		return
	}
	s := f.scratch()
	defer f.pool.Put(s)
	if n == 1 {
		f.explainRow(s, rows, out)
		return
	}
	st := f.explainTables()
	if s.mask == nil {
		s.mask = make([]uint32, st.maxNodes)
	}
	if s.cols == nil {
		s.cols = make([]float32, nf*ExplainBlockRows)
		s.bmask = make([]uint32, (st.maxNodes+1)*ExplainBlockRows) // and the pairs' directions
		s.bphi = make([]float64, phiCopies*stride*ExplainBlockRows)
	}
	cols := s.cols[:nf*n]
	for r := 0; r < n; r++ {
		for j, v := range rows[r*nf : (r+1)*nf] {
			cols[j*n+r] = v
		}
	}
	phi := s.bphi[:phiCopies*stride*n]
	clear(phi)
	for ti := range f.trees {
		k := int(f.group[ti])
		tr := &st.trees[ti]
		if tr.tabled {
			st.tabledBlock(&f.trees[ti], tr, cols, n, phi[k*(nf+1)*n:], stride, s.bmask)
			acc := phi[(k*(nf+1)+nf)*n:][:n]
			for r := range acc {
				acc[r] += tr.rootVal
			}
			continue
		}
		// Beyond the tables' budget: the polynomial form, row by row.
		lin := f.explainLinear()
		if lt := &lin.trees[ti]; lt.ok {
			if s.lin.mask == nil {
				s.lin = newLinScratch(lin)
			}
			one := s.phi[:nf+1]
			for r := 0; r < n; r++ {
				clear(one)
				lt.contributions(&f.trees[ti], rows[r*nf:(r+1)*nf], one, &s.lin)
				for j, v := range one {
					phi[(k*(nf+1)+j)*n+r] += v
				}
				phi[(k*(nf+1)+nf)*n+r] += lt.rootVal
			}
			continue
		}
		f.recursiveTree(ti, rows, out, n, s)
	}
	for r := 0; r < n; r++ {
		ro := out[r*stride : (r+1)*stride]
		for j := range ro {
			sum := phi[j*n+r]
			for c := 1; c < phiCopies; c++ {
				sum += phi[(c*stride+j)*n+r]
			}
			ro[j] += float32(sum)
		}
		for k := 0; k < g; k++ {
			ro[k*(nf+1)+nf] += f.base[k]
		}
	}
}

// explainRow is explain for one row. Each tree takes the faster of two
// exact algorithms for a single row: its FastTreeSHAP tables when its
// paths have at most rowTableWidth distinct features (a leaf's table is
// then at most 64 values, 4 cache lines, so its d reads are cheap), and
// the polynomial form (Linear TreeSHAP, linearshap.go) for deeper trees,
// whose tables of 2^d values per leaf make every read a cache miss. Trees
// neither can take keep the recursion.
func (f *Forest) explainRow(s *shapScratch, row, out []float32) {
	nf, g := f.numFeature, f.numGroup
	stride := g * (nf + 1)
	st, lin := f.explainTables(), f.explainLinear()
	if s.mask == nil {
		s.mask = make([]uint32, st.maxNodes)
	}
	if s.lin.mask == nil {
		s.lin = newLinScratch(lin)
	}
	phi := s.phi
	clear(phi)
	for ti := range f.trees {
		p := phi[int(f.group[ti])*(nf+1):]
		switch tt, lt := &st.trees[ti], &lin.trees[ti]; {
		case tt.tabled && tt.width <= rowTableWidth:
			st.tabledContributions(&f.trees[ti], tt, row, p, stride, s.mask)
			p[nf] += tt.rootVal
		case lt.ok:
			lt.contributions(&f.trees[ti], row, p, &s.lin)
			p[nf] += lt.rootVal
		default:
			f.recursiveTree(ti, row, out, 1, s)
		}
	}
	for j := range out {
		sum := phi[j]
		for c := 1; c < phiCopies; c++ {
			sum += phi[c*stride+j]
		}
		out[j] += float32(sum)
	}
	for k := 0; k < g; k++ {
		out[k*(nf+1)+nf] += f.base[k]
	}
}

// rowTableWidth is the most distinct features on a path of a tree that
// one-row explanations read from tables.
const rowTableWidth = 6

// recursiveTree adds untabled tree ti's contributions to each of n rows'
// out with XGBoost's recursive algorithm and float32 arithmetic.
func (f *Forest) recursiveTree(ti int, rows, out []float32, n int, s *shapScratch) {
	nf := f.numFeature
	stride := f.numGroup * (nf + 1)
	k := int(f.group[ti])
	w := float32(1)
	if f.weight != nil {
		w = f.weight[ti]
	}
	for r := 0; r < n; r++ {
		tc := s.contrib
		clear(tc)
		f.treeContributions(ti, rows[r*nf:(r+1)*nf], tc, s.path)
		o := out[r*stride+k*(nf+1) : r*stride+(k+1)*(nf+1)]
		for j := range o {
			o[j] += tc[j] * w
		}
	}
}

// scratch returns path storage sized for this forest.
func (f *Forest) scratch() *shapScratch {
	if s, ok := f.pool.Get().(*shapScratch); ok {
		return s
	}
	d := f.maxDeep + 2
	return &shapScratch{
		path:    make([]pathElement, d*(d+1)/2),
		contrib: make([]float32, f.numFeature+1),
		phi:     make([]float64, phiCopies*f.numGroup*(f.numFeature+1)),
	}
}

// treeContributions is XGBoost's RegTree::CalculateContributions for one
// tree without conditioning.
func (f *Forest) treeContributions(ti int, row, phi []float32, path []pathElement) {
	phi[f.numFeature] += f.means[ti][0]
	t := &f.trees[ti]
	t.shap(row, phi, 0, 0, path, 1, 1, -1, 1)
}

// extendPath adds a split with the given fractions to the path.
func extendPath(p []pathElement, depth int, zero, one float32, feature int32) {
	p[depth] = pathElement{feature: feature, zeroFraction: zero, oneFraction: one}
	if depth == 0 {
		p[depth].pweight = 1
	}
	d1 := float32(depth + 1)
	for i := depth - 1; i >= 0; i-- {
		p[i+1].pweight += one * p[i].pweight * float32(i+1) / d1
		p[i].pweight = zero * p[i].pweight * float32(depth-i) / d1
	}
}

// unwindPath undoes the extension at index pi.
func unwindPath(p []pathElement, depth, pi int) {
	one, zero := p[pi].oneFraction, p[pi].zeroFraction
	next := p[depth].pweight
	d1 := float32(depth + 1)
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := p[i].pweight
			p[i].pweight = next * d1 / (float32(i+1) * one)
			next = tmp - p[i].pweight*zero*float32(depth-i)/d1
		} else {
			p[i].pweight = p[i].pweight * d1 / (zero * float32(depth-i))
		}
	}
	for i := pi; i < depth; i++ {
		p[i].feature = p[i+1].feature
		p[i].zeroFraction = p[i+1].zeroFraction
		p[i].oneFraction = p[i+1].oneFraction
	}
}

// unwoundPathSum is the total permutation weight if the extension at pi
// were undone. The branch on the fractions is hoisted out of the loops; the
// arithmetic is XGBoost's, operation for operation.
func unwoundPathSum(p []pathElement, depth, pi int) float32 {
	p = p[:depth+1]
	one, zero := p[pi].oneFraction, p[pi].zeroFraction
	d1 := float32(depth + 1)
	var total float32
	switch {
	case one != 0:
		next := p[depth].pweight
		for i := depth - 1; i >= 0; i-- {
			tmp := next * d1 / (float32(i+1) * one)
			total += tmp
			next = p[i].pweight - tmp*zero*(float32(depth-i)/d1)
		}
	case zero != 0:
		for i := depth - 1; i >= 0; i-- {
			total += (p[i].pweight / zero) / (float32(depth-i) / d1)
		}
	}
	return total
}

// shap is XGBoost's recursive TreeShap (Lundberg et al. 2018, Algorithm 2)
// for node id, with the parent's path in parent[:depth+1].
func (t *Tree) shap(row, phi []float32, id int32, depth int, parent []pathElement,
	parentZero, parentOne float32, parentFeature int32, condFraction float32) {
	if condFraction == 0 {
		return
	}
	path := parent[depth+1:]
	copy(path, parent[:depth+1])
	extendPath(path, depth, parentZero, parentOne, parentFeature)
	n := &t.Nodes[id]
	if n.IsLeaf() {
		for i := 1; i <= depth; i++ {
			w := unwoundPathSum(path, depth, i)
			el := &path[i]
			phi[el.feature] += w * (el.oneFraction - el.zeroFraction) * n.Value * condFraction
		}
		return
	}
	hot := n.next(row[n.Feature])
	cold := n.Left
	if hot == n.Left {
		cold = n.Right
	}
	w := n.Cover
	hotZero := t.Nodes[hot].Cover / w
	coldZero := t.Nodes[cold].Cover / w
	inZero, inOne := float32(1), float32(1)
	pi := 0
	for ; pi <= depth; pi++ {
		if path[pi].feature == n.Feature {
			break
		}
	}
	if pi != depth+1 {
		inZero, inOne = path[pi].zeroFraction, path[pi].oneFraction
		unwindPath(path, depth, pi)
		depth--
	}
	t.shap(row, phi, hot, depth+1, path, hotZero*inZero, inOne, n.Feature, condFraction)
	t.shap(row, phi, cold, depth+1, path, coldZero*inZero, 0, n.Feature, condFraction)
}
