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

// rowKey returns key column col of a single row.
func rowKey(keys unsafe.Pointer, col uint16) uint32 {
	return *(*uint32)(unsafe.Add(keys, uintptr(col)<<2)) // #nosec G103 -- see the invariants above
}

// perfectStep8 moves lane from perfect-tree node i-1 to its child. The
// batch walk numbers a perfect tree's nodes from 1 (the root is 1, the
// children of i are 2i and 2i+1), which saves an addition on every step.
// The node is read as one 64-bit word (t in the low half, col above it;
// see nodeWord), and indexes are uintptr so no step needs a zero extension
// before addressing.
func perfectStep8(base unsafe.Pointer, i uintptr, xt unsafe.Pointer, lane uintptr) uintptr {
	w := nodeWord(base, i<<3-8)
	k := *(*uint32)(unsafe.Add(xt, uintptr(w>>(32-5))&(0xffff<<5)+lane*4)) // #nosec G103 -- see the invariants above
	return 2*i + uintptr(b2u(k >= uint32(w)))
}

// flatStep8 moves lane from flat-tree node i to its child.
func flatStep8(base unsafe.Pointer, i uintptr, xt unsafe.Pointer, lane uintptr) uintptr {
	nd := (*node)(unsafe.Add(base, i<<3))                                 // #nosec G103 -- see the invariants above
	k := *(*uint32)(unsafe.Add(xt, uintptr(nd.col)*(blockRows*4)+lane*4)) // #nosec G103 -- see the invariants above
	return uintptr(nd.left) + uintptr(nd.right(k))
}

// walkPerfect8 walks the eight lanes of a transposed block down a perfect
// tree and writes their leaf values (leafval from element leaf on, at the
// final nodes) to val. The lanes' nodes live in a small array: each step's
// store orders the compiler's loads, so every lane's step is the dozen
// instructions of one node and one key load without spills (with eight
// register chains the scheduler hoisted every lane's loads first and
// spilled half of them on every level). It is not inlined into block,
// whose own live values would crowd the registers again.
//
//go:noinline
func walkPerfect8(base, xt, leafval unsafe.Pointer, leaf uintptr, depth uint8, val *[blockRows]float32) {
	ix := [blockRows]uintptr{1, 1, 1, 1, 1, 1, 1, 1}
	for d := depth; d > 0; d-- {
		ix[0] = perfectStep8(base, ix[0], xt, 0)
		ix[1] = perfectStep8(base, ix[1], xt, 1)
		ix[2] = perfectStep8(base, ix[2], xt, 2)
		ix[3] = perfectStep8(base, ix[3], xt, 3)
		ix[4] = perfectStep8(base, ix[4], xt, 4)
		ix[5] = perfectStep8(base, ix[5], xt, 5)
		ix[6] = perfectStep8(base, ix[6], xt, 6)
		ix[7] = perfectStep8(base, ix[7], xt, 7)
	}
	leaves8(leafval, leaf-1, &ix, val)
}

// walkFlat8 is walkPerfect8 for a flat tree.
//
//go:noinline
func walkFlat8(base, xt, leafval unsafe.Pointer, leaf uintptr, depth uint8, val *[blockRows]float32) {
	var ix [blockRows]uintptr
	for d := depth; d > 0; d-- {
		ix[0] = flatStep8(base, ix[0], xt, 0)
		ix[1] = flatStep8(base, ix[1], xt, 1)
		ix[2] = flatStep8(base, ix[2], xt, 2)
		ix[3] = flatStep8(base, ix[3], xt, 3)
		ix[4] = flatStep8(base, ix[4], xt, 4)
		ix[5] = flatStep8(base, ix[5], xt, 5)
		ix[6] = flatStep8(base, ix[6], xt, 6)
		ix[7] = flatStep8(base, ix[7], xt, 7)
	}
	leaves8(leafval, leaf, &ix, val)
}

// leaves8 reads the leaf values of eight final nodes: the plan's leaf
// index plus the node is inside leafval (compile's invariant).
func leaves8(leafval unsafe.Pointer, leaf uintptr, ix *[blockRows]uintptr, val *[blockRows]float32) {
	val[0] = leafAt(leafval, leaf+ix[0])
	val[1] = leafAt(leafval, leaf+ix[1])
	val[2] = leafAt(leafval, leaf+ix[2])
	val[3] = leafAt(leafval, leaf+ix[3])
	val[4] = leafAt(leafval, leaf+ix[4])
	val[5] = leafAt(leafval, leaf+ix[5])
	val[6] = leafAt(leafval, leaf+ix[6])
	val[7] = leafAt(leafval, leaf+ix[7])
}

// leafAt returns element i of leafval.
func leafAt(leafval unsafe.Pointer, i uintptr) float32 {
	return *(*float32)(unsafe.Add(leafval, i<<2)) // #nosec G103 -- see the invariants above
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
	transposeKeys(rows, xt, nf, nb, blockRows)
	xt = xt[:(2*nf+1)*blockRows]
	xp := unsafe.Pointer(unsafe.SliceData(xt))         // #nosec G103 -- see the invariants above
	nodes := unsafe.Pointer(unsafe.SliceData(f.nodes)) // #nosec G103
	lv := unsafe.Pointer(unsafe.SliceData(f.leafval))  // #nosec G103
	var val [blockRows]float32
	// A single-group model without tree weights (the common binary or
	// regression case) sums into acc, rows' margins in one array, with
	// the same float32 additions in the same order as into out.
	var acc [blockRows]float32
	plain := g == 1 && f.weight == nil
	if plain {
		copy(acc[:nb], out[:nb])
	}
	for ti := range f.plan {
		p := &f.plan[ti]
		switch p.layout {
		case layoutPerfect, layoutFlat:
			base := unsafe.Add(nodes, uintptr(p.off)<<3) // #nosec G103 -- see the invariants above
			if p.layout == layoutPerfect {
				walkPerfect8(base, xp, lv, uintptr(p.leaf), p.depth, &val)
			} else {
				walkFlat8(base, xp, lv, uintptr(p.leaf), p.depth, &val)
			}
		default:
			t := &f.trees[p.off]
			for r := 0; r < nb; r++ {
				val[r] = t.walk(rows[r*nf : (r+1)*nf])
			}
		}
		if plain {
			acc[0] += val[0]
			acc[1] += val[1]
			acc[2] += val[2]
			acc[3] += val[3]
			acc[4] += val[4]
			acc[5] += val[5]
			acc[6] += val[6]
			acc[7] += val[7]
			continue
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
	if plain {
		copy(out[:nb], acc[:nb])
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
