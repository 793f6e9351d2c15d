package forest

// ReferenceMargins exports the per-tree reference walk to the external
// tests.
func ReferenceMargins(f *Forest, row []float32) []float32 { return reference(f, row) }

// HaveVector reports whether this CPU runs the vector kernel.
var HaveVector = haveVector

// SetVector turns the vector batch walk on or off (on only where the CPU
// has it) and returns the previous setting. Tests that call it must not
// run in parallel.
func SetVector(on bool) (was bool) {
	was, vectorOn = vectorOn, on && haveVector
	return was
}
