package forest

import "fmt"

// checkShape verifies that rows holds whole rows and out has room.
func (f *Forest) checkShape(rows, out []float32, width int) (int, error) {
	if len(rows)%f.numFeature != 0 {
		return 0, fmt.Errorf("forest: %d values are not whole rows of %d features", len(rows), f.numFeature)
	}
	n := len(rows) / f.numFeature
	if len(out) < n*width {
		return 0, fmt.Errorf("forest: output has room for %d values, need %d", len(out), n*width)
	}
	return n, nil
}

// PredictMargin writes the raw margins of rows (row-major, NumFeature
// values each, NaN for missing) to out: NumGroup values per row. It
// allocates nothing and matches XGBoost bit for bit: the intercept plus
// each tree's leaf, summed in float32 in tree order.
func (f *Forest) PredictMargin(rows, out []float32) error {
	n, err := f.checkShape(rows, out, f.numGroup)
	if err != nil {
		return err
	}
	f.margins(rows, out[:n*f.numGroup], n)
	return nil
}

// Predict writes transformed predictions to out: NumOutput values per row
// (probabilities, values or classes). out needs room for NumGroup values
// per row, as it holds the margins first.
func (f *Forest) Predict(rows, out []float32) error {
	n, err := f.checkShape(rows, out, f.numGroup)
	if err != nil {
		return err
	}
	f.margins(rows, out[:n*f.numGroup], n)
	f.Transform(out[:n*f.numGroup], out)
	return nil
}

// Transform turns margins (NumGroup per row) into predictions (NumOutput
// per row) in out, which may be the same slice.
func (f *Forest) Transform(margins, out []float32) {
	g, o := f.numGroup, f.NumOutput()
	n := len(margins) / g
	for r := 0; r < n; r++ {
		f.link.transform(margins[r*g:(r+1)*g], out[r*o:(r+1)*o])
	}
}

func (f *Forest) margins(rows, out []float32, n int) {
	g := f.numGroup
	for r := 0; r < n; r++ {
		copy(out[r*g:(r+1)*g], f.base)
	}
	if f.booster == GBLinear {
		f.linearMargins(rows, out, n)
		return
	}
	nf := f.numFeature
	s := f.batchScratch()
	defer f.blocks.Put(s)
	if n == 1 {
		keys := s.xt[:2*nf+1]
		rowKeys(rows[:nf], keys)
		f.single(rows, keys, out)
		return
	}
	start := 0
	if vectorOn {
		// Blocks of vecRows rows; a last block of up to blockRows/2
		// rows takes the scalar walk below (four rows cost the scalar
		// walk about what a block of sixteen costs the vector one).
		for ; n-start > blockRows/2; start += vecRows {
			end := min(start+vecRows, n)
			f.block16(rows[start*nf:end*nf], s, out[start*g:end*g], end-start)
		}
	}
	for ; start < n; start += blockRows {
		end := min(start+blockRows, n)
		f.block(rows[start*nf:end*nf], s.xt, out[start*g:end*g], end-start)
	}
}

// linearMargins is gblinear: bias + intercept, then weight * value for each
// present feature in column order, in float32.
func (f *Forest) linearMargins(rows, out []float32, n int) {
	nf, g := f.numFeature, f.numGroup
	bias := f.linear[nf*g:]
	for r := 0; r < n; r++ {
		row := rows[r*nf : (r+1)*nf]
		for k := 0; k < g; k++ {
			sum := bias[k] + out[r*g+k]
			for j, v := range row {
				if v == v {
					sum += float32(v * f.linear[j*g+k])
				}
			}
			out[r*g+k] = sum
		}
	}
}

// blockScratch is a batch's scratch: transposed row keys for a vector
// block (two blocks of blockRows) and the block's margins by group.
type blockScratch struct {
	xt  []uint32
	acc []float32
}

// batchScratch returns a batch's scratch from the pool.
func (f *Forest) batchScratch() *blockScratch {
	if s, ok := f.blocks.Get().(*blockScratch); ok {
		return s
	}
	return &blockScratch{
		xt:  make([]uint32, (2*f.numFeature+1)*vecRows),
		acc: make([]float32, f.numGroup*vecRows),
	}
}
