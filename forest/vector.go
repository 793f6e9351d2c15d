package forest

import "unsafe"

// The vector batch walk. On CPUs with a vector kernel (vector_amd64.s:
// AVX-512, chosen at start-up from the CPU's feature flags) a batch is cut
// into blocks of vecRows rows, two transposed blocks of blockRows side by
// side, and the kernel walks all sixteen rows down a whole run of perfect
// trees per call: one 512-bit register holds the sixteen rows' node
// indexes, and each level is a handful of vector instructions (the level's
// nodes looked up in registers or gathered, the keys gathered, one
// unsigned compare, the child index). Flat and general trees between the
// runs take the scalar walks on each half. Margins are summed in float32
// per row in tree order exactly as the scalar block does, so results are
// the same bit for bit.

// vecRows is how many rows the vector kernel walks together.
const vecRows = 2 * blockRows

// vectorOn says whether batches take the vector walk. It is set once at
// start-up (vector_amd64.go: the CPU has the instructions and the OS saves
// their registers); the tests switch it to run both paths.
var vectorOn = haveVector

// vecTree is a perfect tree as the vector kernel reads it: byte offsets
// from the base pointers it is given. Its field offsets reach the
// assembly through go_asm.h.
type vecTree struct {
	node   int32   // into nodes: node i (numbered from 1) is at node+8i
	leaf   int32   // into leafval: a walk's final node i has its leaf at leaf+4i
	acc    int32   // into the accumulators: the tree's group's vecRows margins
	depth  int32   // levels to walk
	weight float32 // the tree's weight (1 for gbtree; exact)
	_      int32
}

// vecSeg is a run of trees in plan order: perfect ones for the kernel, or
// one tree of another layout for the scalar walks.
type vecSeg struct {
	start, end int32
	perfect    bool
}

// vecPad is how many zero nodes pad the node array on each side, so the
// kernel may read a tree's first 8 node words (numbered from 0) with one
// load whatever the tree's size.
const vecPad = 8

// compileVector builds the vector kernel's tables from the plan.
func (f *Forest) compileVector() {
	f.vtrees = make([]vecTree, len(f.plan))
	for i := range f.plan {
		p := &f.plan[i]
		if p.layout != layoutPerfect {
			continue
		}
		f.vtrees[i] = vecTree{
			node:   (p.off - 1) * 8,
			leaf:   (p.leaf - 1) * 4,
			acc:    p.group * vecRows * 4,
			depth:  int32(p.depth),
			weight: p.weight,
		}
	}
	f.vsegs = f.vsegs[:0]
	for i := 0; i < len(f.plan); {
		j := i + 1
		perfect := f.plan[i].layout == layoutPerfect
		if perfect {
			for j < len(f.plan) && f.plan[j].layout == layoutPerfect {
				j++
			}
		}
		f.vsegs = append(f.vsegs, vecSeg{start: int32(i), end: int32(j), perfect: perfect})
		i = j
	}
}

// transpose16 writes the key columns of nb (<= vecRows) rows of nf
// features into xt, column-major with vecRows keys per column; padding
// rows are all missing (see layout.go).
func transpose16(rows []float32, xt []uint32, nf, nb int) {
	xt = xt[:(2*nf+1)*vecRows]
	for r := 0; r < vecRows; r++ {
		for j := 0; j < nf; j++ {
			k := uint32(missingKey)
			if r < nb {
				k = floatKey(rows[r*nf+j])
			}
			xt[2*j*vecRows+r] = k
			if k == missingKey {
				k = 0
			}
			xt[(2*j+1)*vecRows+r] = k
		}
		xt[2*nf*vecRows+r] = 0
	}
}

// block16 adds every tree's leaf to the margins of nb (<= vecRows) rows
// with the vector kernel.
func (f *Forest) block16(rows []float32, s *blockScratch, out []float32, nb int) {
	nf, g := f.numFeature, f.numGroup
	xt := s.xt[:(2*nf+1)*vecRows]
	transpose16(rows, xt, nf, nb)
	acc := s.acc[:g*vecRows]
	clear(acc)
	for r := 0; r < nb; r++ {
		for k := 0; k < g; k++ {
			acc[k*vecRows+r] = out[r*g+k]
		}
	}
	xp := unsafe.Pointer(unsafe.SliceData(xt))         // #nosec G103 -- see the invariants in kernel.go
	nodes := unsafe.Pointer(unsafe.SliceData(f.nodes)) // #nosec G103
	lv := unsafe.Pointer(unsafe.SliceData(f.leafval))  // #nosec G103
	for _, sg := range f.vsegs {
		if sg.perfect {
			perfect16(&f.vtrees[sg.start], int(sg.end-sg.start), nodes, lv, xp, &acc[0])
			continue
		}
		f.scalarTree16(int(sg.start), rows, xt, acc, nb)
	}
	for r := 0; r < nb; r++ {
		for k := 0; k < g; k++ {
			out[r*g+k] = acc[k*vecRows+r]
		}
	}
}

// scalarTree16 adds tree ti's leaves for the nb rows of a vector block to
// their accumulators with the scalar walks, one half block at a time.
func (f *Forest) scalarTree16(ti int, rows []float32, xt []uint32, acc []float32, nb int) {
	nf := f.numFeature
	p := &f.plan[ti]
	a := acc[int(p.group)*vecRows:]
	var val [blockRows]float32
	for h := 0; h*blockRows < nb; h++ {
		lo := h * blockRows
		n := min(nb-lo, blockRows)
		if p.layout == layoutFlat {
			base := unsafe.Add(unsafe.Pointer(unsafe.SliceData(f.nodes)), uintptr(p.off)<<3)                  // #nosec G103 -- see the invariants in kernel.go
			xp := unsafe.Pointer(&xt[lo])                                                                     // #nosec G103
			walkFlat16(base, xp, unsafe.Pointer(unsafe.SliceData(f.leafval)), uintptr(p.leaf), p.depth, &val) // #nosec G103
		} else {
			t := &f.trees[p.off]
			for r := 0; r < n; r++ {
				val[r] = t.walk(rows[(lo+r)*nf : (lo+r+1)*nf])
			}
		}
		for r := 0; r < n; r++ {
			if f.weight != nil {
				a[lo+r] += val[r] * p.weight
			} else {
				a[lo+r] += val[r]
			}
		}
	}
}

// flatStep16 is flatStep8 for the half of a vector block at xt.
func flatStep16(base unsafe.Pointer, i uintptr, xt unsafe.Pointer, lane uintptr) uintptr {
	nd := (*node)(unsafe.Add(base, i<<3))                               // #nosec G103 -- see the invariants in kernel.go
	k := *(*uint32)(unsafe.Add(xt, uintptr(nd.col)*(vecRows*4)+lane*4)) // #nosec G103 -- see the invariants in kernel.go
	return uintptr(nd.left) + uintptr(nd.right(k))
}

// walkFlat16 is walkFlat8 for the half of a vector block at xt.
//
//go:noinline
func walkFlat16(base, xt, leafval unsafe.Pointer, leaf uintptr, depth uint8, val *[blockRows]float32) {
	var ix [blockRows]uintptr
	for d := depth; d > 0; d-- {
		ix[0] = flatStep16(base, ix[0], xt, 0)
		ix[1] = flatStep16(base, ix[1], xt, 1)
		ix[2] = flatStep16(base, ix[2], xt, 2)
		ix[3] = flatStep16(base, ix[3], xt, 3)
		ix[4] = flatStep16(base, ix[4], xt, 4)
		ix[5] = flatStep16(base, ix[5], xt, 5)
		ix[6] = flatStep16(base, ix[6], xt, 6)
		ix[7] = flatStep16(base, ix[7], xt, 7)
	}
	leaves8(leafval, leaf, &ix, val)
}
