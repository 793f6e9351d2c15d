package forest

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// haveVector says whether this CPU runs the AVX-512 kernel: AVX-512
// Foundation and VL, with the OS saving the 512-bit and mask registers
// (x/sys/cpu checks both). GODEBUG=cpu.avx512f=off turns it off.
var haveVector = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

// perfect16 walks the vecRows rows of two transposed blocks (xt) down n
// consecutive perfect trees (trees[0:n]) and adds each tree's leaves,
// times its weight, to its group's accumulators (acc+tree.acc), in tree
// order.
//
//go:noescape
func perfect16(trees *vecTree, n int, nodes, leafval, xt unsafe.Pointer, acc *float32)

// flat16 is perfect16 for consecutive flat trees.
//
//go:noescape
func flat16(trees *vecTree, n int, nodes, leafval, xt unsafe.Pointer, acc *float32)

// keys16 writes the key columns of nb (1 to vecRows) rows of nf features
// (row-major at rows) into xt, as transposeKeys does with vecRows lanes.
//
//go:noescape
func keys16(rows *float32, nf, nb int, xt *uint32)
