package forest

import "unsafe"

// The walking kernels. They index the compiled arrays without bounds
// checks (unsafe.Add), which halves the instructions per step. This is
// safe because of invariants compile establishes from a validated Spec:
// every node index a walk can reach is inside its tree's slice (perfect
// trees: i < 2^depth-1 before the last step; flat trees: breadth-first
// indexes < node count, leaves loop on themselves), every node's feature
// is < NumFeature, and the key buffers hold NumFeature keys per row (times
// blockRows for a transposed block).

// blockRows is how many rows walk a tree together so their loads overlap.
const blockRows = 8

// right reports whether a row whose column key is k goes right at nd.
func (nd *node) right(k uint32) uint32 {
	if k >= nd.t {
		return 1
	}
	return 0
}

// at returns node i of the tree starting at base.
func at(base unsafe.Pointer, i uint32) *node {
	return (*node)(unsafe.Add(base, uintptr(i)<<3)) // #nosec G103 -- see the invariants above
}

// laneKey returns key column col for lane of a transposed block.
func laneKey(xt unsafe.Pointer, col uint16, lane uintptr) uint32 {
	return *(*uint32)(unsafe.Add(xt, (uintptr(col)*blockRows+lane)<<2)) // #nosec G103 -- see the invariants above
}

// rowKey returns key column col of a single row.
func rowKey(keys unsafe.Pointer, col uint16) uint32 {
	return *(*uint32)(unsafe.Add(keys, uintptr(col)<<2)) // #nosec G103 -- see the invariants above
}

// perfectStep8 moves lane from perfect-tree node i to its child.
func perfectStep8(base unsafe.Pointer, i uint32, xt unsafe.Pointer, lane uintptr) uint32 {
	nd := at(base, i)
	return 2*i + 1 + nd.right(laneKey(xt, nd.col, lane))
}

// flatStep8 moves lane from flat-tree node i to its child.
func flatStep8(base unsafe.Pointer, i uint32, xt unsafe.Pointer, lane uintptr) uint32 {
	nd := at(base, i)
	return uint32(nd.left) + nd.right(laneKey(xt, nd.col, lane))
}

// step1 moves a single row from node i of a tree of the given layout.
func step1(base unsafe.Pointer, layout uint8, i uint32, keys unsafe.Pointer) uint32 {
	nd := at(base, i)
	r := nd.right(rowKey(keys, nd.col))
	if layout == layoutPerfect {
		return 2*i + 1 + r
	}
	return uint32(nd.left) + r
}

// leafIndex turns a walk's final node into an index into leafval.
func (p *treePlan) leafIndex(i uint32) int32 {
	return p.leaf + int32(i)
}

// block adds every tree's leaf to the margins of nb (<= blockRows) rows.
// The rows' key columns are first transposed into xt (column-major,
// blockRows keys per column, padding rows all missing), so one index
// addresses a column of every row and the eight walks of a tree need no
// per-row state but their node.
func (f *Forest) block(rows []float32, xt []uint32, out []float32, nb int) {
	nf, g := f.numFeature, f.numGroup
	xt = xt[:(2*nf+1)*blockRows]
	for r := 0; r < blockRows; r++ {
		for j := 0; j < nf; j++ {
			k := uint32(missingKey)
			if r < nb {
				k = floatKey(rows[r*nf+j])
			}
			xt[2*j*blockRows+r] = k
			if k == missingKey {
				k = 0
			}
			xt[(2*j+1)*blockRows+r] = k
		}
		xt[2*nf*blockRows+r] = 0
	}
	xp := unsafe.Pointer(unsafe.SliceData(xt))         // #nosec G103 -- see the invariants above
	nodes := unsafe.Pointer(unsafe.SliceData(f.nodes)) // #nosec G103
	var val [blockRows]float32
	for ti := range f.plan {
		p := &f.plan[ti]
		switch p.layout {
		case layoutPerfect, layoutFlat:
			base := unsafe.Add(nodes, uintptr(p.off)<<3) // #nosec G103 -- see the invariants above
			var i0, i1, i2, i3, i4, i5, i6, i7 uint32
			if p.layout == layoutPerfect {
				for d := uint8(0); d < p.depth; d++ {
					i0 = perfectStep8(base, i0, xp, 0)
					i1 = perfectStep8(base, i1, xp, 1)
					i2 = perfectStep8(base, i2, xp, 2)
					i3 = perfectStep8(base, i3, xp, 3)
					i4 = perfectStep8(base, i4, xp, 4)
					i5 = perfectStep8(base, i5, xp, 5)
					i6 = perfectStep8(base, i6, xp, 6)
					i7 = perfectStep8(base, i7, xp, 7)
				}
			} else {
				for d := uint8(0); d < p.depth; d++ {
					i0 = flatStep8(base, i0, xp, 0)
					i1 = flatStep8(base, i1, xp, 1)
					i2 = flatStep8(base, i2, xp, 2)
					i3 = flatStep8(base, i3, xp, 3)
					i4 = flatStep8(base, i4, xp, 4)
					i5 = flatStep8(base, i5, xp, 5)
					i6 = flatStep8(base, i6, xp, 6)
					i7 = flatStep8(base, i7, xp, 7)
				}
			}
			lv := f.leafval
			val = [blockRows]float32{lv[p.leafIndex(i0)], lv[p.leafIndex(i1)], lv[p.leafIndex(i2)], lv[p.leafIndex(i3)],
				lv[p.leafIndex(i4)], lv[p.leafIndex(i5)], lv[p.leafIndex(i6)], lv[p.leafIndex(i7)]}
		default:
			t := &f.trees[p.off]
			for r := 0; r < nb; r++ {
				val[r] = t.walk(rows[r*nf : (r+1)*nf])
			}
		}
		k := int(p.group)
		if f.weight != nil {
			for r := 0; r < nb; r++ {
				out[r*g+k] += val[r] * p.weight
			}
		} else {
			for r := 0; r < nb; r++ {
				out[r*g+k] += val[r]
			}
		}
	}
}

// single adds every tree's leaf to the margins of one row, walking four
// consecutive compiled trees side by side. keys are the row's keys.
func (f *Forest) single(row []float32, keys []uint32, out []float32) {
	kp := unsafe.Pointer(unsafe.SliceData(keys))       // #nosec G103 -- see the invariants above
	nodes := unsafe.Pointer(unsafe.SliceData(f.nodes)) // #nosec G103
	ti := 0
	for ; ti+4 <= len(f.plan); ti += 4 {
		p := f.plan[ti : ti+4 : ti+4]
		if p[0].layout == layoutGeneral || p[1].layout == layoutGeneral || p[2].layout == layoutGeneral || p[3].layout == layoutGeneral {
			for k := range p {
				f.addTree(ti+k, row, keys, out)
			}
			continue
		}
		b0 := unsafe.Add(nodes, uintptr(p[0].off)<<3) // #nosec G103 -- see the invariants above
		b1 := unsafe.Add(nodes, uintptr(p[1].off)<<3) // #nosec G103
		b2 := unsafe.Add(nodes, uintptr(p[2].off)<<3) // #nosec G103
		b3 := unsafe.Add(nodes, uintptr(p[3].off)<<3) // #nosec G103
		var i0, i1, i2, i3 uint32
		if depth := p[0].depth; p[0].layout == layoutPerfect && p[1].layout == layoutPerfect &&
			p[2].layout == layoutPerfect && p[3].layout == layoutPerfect &&
			p[1].depth == depth && p[2].depth == depth && p[3].depth == depth {
			// The common case of depthwise growth: four trees of one depth.
			for d := uint8(0); d < depth; d++ {
				i0 = perfectStep1(b0, i0, kp)
				i1 = perfectStep1(b1, i1, kp)
				i2 = perfectStep1(b2, i2, kp)
				i3 = perfectStep1(b3, i3, kp)
			}
		} else {
			i0, i1, i2, i3 = walk4(p, b0, b1, b2, b3, kp)
		}
		v := [4]float32{f.leafval[p[0].leafIndex(i0)], f.leafval[p[1].leafIndex(i1)],
			f.leafval[p[2].leafIndex(i2)], f.leafval[p[3].leafIndex(i3)]}
		for k := range p {
			if f.weight != nil {
				out[p[k].group] += v[k] * p[k].weight
			} else {
				out[p[k].group] += v[k]
			}
		}
	}
	for ; ti < len(f.plan); ti++ {
		f.addTree(ti, row, keys, out)
	}
}

// perfectStep1 moves a single row from perfect-tree node i to its child.
func perfectStep1(base unsafe.Pointer, i uint32, keys unsafe.Pointer) uint32 {
	nd := at(base, i)
	return 2*i + 1 + nd.right(rowKey(keys, nd.col))
}

// walk4 walks one row down four compiled trees of any layouts and depths.
func walk4(p []treePlan, b0, b1, b2, b3, kp unsafe.Pointer) (i0, i1, i2, i3 uint32) {
	for d := uint8(0); d < max(p[0].depth, p[1].depth, p[2].depth, p[3].depth); d++ {
		if d < p[0].depth {
			i0 = step1(b0, p[0].layout, i0, kp)
		}
		if d < p[1].depth {
			i1 = step1(b1, p[1].layout, i1, kp)
		}
		if d < p[2].depth {
			i2 = step1(b2, p[2].layout, i2, kp)
		}
		if d < p[3].depth {
			i3 = step1(b3, p[3].layout, i3, kp)
		}
	}
	return i0, i1, i2, i3
}

// addTree adds tree ti's leaf for one row to out.
func (f *Forest) addTree(ti int, row []float32, keys []uint32, out []float32) {
	p := &f.plan[ti]
	var v float32
	if p.layout == layoutGeneral {
		v = f.trees[p.off].walk(row)
	} else {
		base := unsafe.Add(unsafe.Pointer(unsafe.SliceData(f.nodes)), uintptr(p.off)<<3) // #nosec G103 -- see the invariants above
		kp := unsafe.Pointer(unsafe.SliceData(keys))                                     // #nosec G103 -- see the invariants above
		i := uint32(0)
		for d := uint8(0); d < p.depth; d++ {
			i = step1(base, p.layout, i, kp)
		}
		v = f.leafval[p.leafIndex(i)]
	}
	if f.weight != nil {
		out[p.group] += v * p.weight
	} else {
		out[p.group] += v
	}
}

// walk returns the leaf value a row reaches in t, by XGBoost's rules.
func (t *Tree) walk(row []float32) float32 {
	id := int32(0)
	for !t.Nodes[id].IsLeaf() {
		n := &t.Nodes[id]
		id = n.next(row[n.Feature])
	}
	return t.Nodes[id].Value
}
