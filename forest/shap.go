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
	clear(out)
	if f.booster == GBLinear {
		for k := 0; k < g; k++ {
			o := out[k*(nf+1) : (k+1)*(nf+1)]
			for j, v := range row {
				if v == v {
					o[j] = v * f.linear[j*g+k]
				}
			}
			o[nf] = f.linear[nf*g+k] + f.base[k]
		}
		return nil
	}
	st := f.explainTables()
	s := f.scratch()
	defer f.pool.Put(s)
	phi := s.phi
	clear(phi)
	stride := g * (nf + 1)
	for ti := range f.trees {
		k := int(f.group[ti])
		tr := &st.trees[ti]
		if tr.tabled {
			st.tabledContributions(&f.trees[ti], tr, row, phi[k*(nf+1):], stride, s.mask)
			phi[k*(nf+1)+nf] += tr.rootVal
			continue
		}
		tc := s.contrib
		clear(tc)
		f.treeContributions(ti, row, tc, s.path)
		w := float32(1)
		if f.weight != nil {
			w = f.weight[ti]
		}
		o := out[k*(nf+1) : (k+1)*(nf+1)]
		for j := range o {
			o[j] += tc[j] * w
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
	return nil
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
		mask:    make([]uint32, f.shap.maxNodes),
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
