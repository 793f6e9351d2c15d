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

// vecTree is a perfect or flat tree as the vector kernels read it: byte
// offsets from the base pointers they are given. Its field offsets reach
// the assembly through go_asm.h.
type vecTree struct {
	node   int32   // into nodes: node i (perfect: numbered from 1; flat: from 0) is at node+8i
	leaf   int32   // into leafval: a walk's final node i has its leaf at leaf+4i
	acc    int32   // into the accumulators: the tree's group's vecRows margins
	depth  int32   // levels to walk
	weight float32 // the tree's weight (1 for gbtree; exact)
	_      int32
}

// vecSeg is a run of trees in plan order of one layout: perfect or flat
// ones for the kernels, or one general tree for the scalar walk.
type vecSeg struct {
	start, end int32
	layout     uint8
}

// vecPad is how many zero nodes pad the node array on each side, so the
// kernels may read a tree's first 16 node words with two loads whatever
// the tree's size.
const vecPad = 16

// compileVector builds the vector kernel's tables from the plan.
func (f *Forest) compileVector() {
	f.vtrees = make([]vecTree, len(f.plan))
	for i := range f.plan {
		p := &f.plan[i]
		vt := vecTree{
			node:   p.off * 8,
			leaf:   p.leaf * 4,
			acc:    p.group * vecRows * 4,
			depth:  int32(p.depth),
			weight: p.weight,
		}
		switch p.layout {
		case layoutPerfect:
			vt.node, vt.leaf = vt.node-8, vt.leaf-4
		case layoutGeneral:
			continue
		}
		f.vtrees[i] = vt
	}
	f.vsegs = f.vsegs[:0]
	for i := 0; i < len(f.plan); {
		j := i + 1
		l := f.plan[i].layout
		if l != layoutGeneral {
			for j < len(f.plan) && f.plan[j].layout == l {
				j++
			}
		}
		f.vsegs = append(f.vsegs, vecSeg{start: int32(i), end: int32(j), layout: l})
		i = j
	}
}

// transposeKeys writes the key columns of nb (<= lanes) rows of nf
// features into xt, column-major with lanes keys per column: for feature
// j, column 2j holds its keys with missing values as missingKey (they go
// right at every split) and column 2j+1 with them as 0 (left), then one
// column of zeros; padding rows are all missing (see layout.go). block
// uses it with blockRows lanes; with vecRows it is the reference for the
// assembly keys16, which block16 uses (TestKeys16 compares them).
func transposeKeys(rows []float32, xt []uint32, nf, nb, lanes int) {
	xt = xt[:(2*nf+1)*lanes]
	for r := 0; r < lanes; r++ {
		for j := 0; j < nf; j++ {
			k := uint32(missingKey)
			if r < nb {
				k = floatKey(rows[r*nf+j])
			}
			xt[2*j*lanes+r] = k
			if k == missingKey {
				k = 0
			}
			xt[(2*j+1)*lanes+r] = k
		}
		xt[2*nf*lanes+r] = 0
	}
}

// block16 adds every tree's leaf to the margins of nb (<= vecRows) rows
// with the vector kernel.
func (f *Forest) block16(rows []float32, s *blockScratch, out []float32, nb int) {
	nf, g := f.numFeature, f.numGroup
	xt := s.xt[:(2*nf+1)*vecRows]
	keys16(&rows[0], nf, nb, &xt[0])
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
		switch sg.layout {
		case layoutPerfect:
			perfect16(&f.vtrees[sg.start], int(sg.end-sg.start), nodes, lv, xp, &acc[0])
		case layoutFlat:
			flat16(&f.vtrees[sg.start], int(sg.end-sg.start), nodes, lv, xp, &acc[0])
		default:
			f.generalTree16(int(sg.start), rows, acc, nb)
		}
	}
	for r := 0; r < nb; r++ {
		for k := 0; k < g; k++ {
			out[r*g+k] = acc[k*vecRows+r]
		}
	}
}

// generalTree16 adds general tree ti's leaves for the nb rows of a vector
// block to their accumulators with the general walker.
func (f *Forest) generalTree16(ti int, rows []float32, acc []float32, nb int) {
	nf := f.numFeature
	p := &f.plan[ti]
	t := &f.trees[p.off]
	a := acc[int(p.group)*vecRows:]
	for r := 0; r < nb; r++ {
		v := t.walk(rows[r*nf : (r+1)*nf])
		if f.weight != nil {
			a[r] += v * p.weight
		} else {
			a[r] += v
		}
	}
}
