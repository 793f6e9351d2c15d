//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package forest

import "unsafe"

// nodeWord returns node i of the tree at base as one word: t in bits 0-31,
// col in bits 32-47 and left in bits 48-63. On little-endian targets that
// is the node's memory read as a uint64, one load instead of two.
func nodeWord(base unsafe.Pointer, i uintptr) uint64 {
	return *(*uint64)(unsafe.Add(base, i<<3)) // #nosec G103 -- see the invariants in kernel.go
}
