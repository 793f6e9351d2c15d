//go:build !amd64

package forest

import "unsafe"

// haveVector is false: only amd64 has a vector kernel.
const haveVector = false

// perfect16 is never called on this architecture (vectorOn is false).
func perfect16(*vecTree, int, unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, *float32) {
	panic("forest: no vector kernel on this architecture")
}

// flat16 is never called on this architecture (vectorOn is false).
func flat16(*vecTree, int, unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, *float32) {
	panic("forest: no vector kernel on this architecture")
}

// keys16 is never called on this architecture (vectorOn is false).
func keys16(*float32, int, int, *uint32) {
	panic("forest: no vector kernel on this architecture")
}
