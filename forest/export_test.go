package forest

// ReferenceMargins exports the per-tree reference walk to the external
// tests.
func ReferenceMargins(f *Forest, row []float32) []float32 { return reference(f, row) }
