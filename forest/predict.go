package forest

import "fmt"

// blockRows is how many rows walk a tree together so their memory loads
// overlap.
const blockRows = 8

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
	for start := 0; start < n; start += blockRows {
		end := min(start+blockRows, n)
		f.block(rows[start*nf:end*nf], out[start*g:end*g], end-start)
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

// block adds every tree's leaf to the margins of nb (<= blockRows) rows.
func (f *Forest) block(rows, out []float32, nb int) {
	nf, g := f.numFeature, f.numGroup
	var val [blockRows]float32
	for ti := range f.plan {
		p := &f.plan[ti]
		switch p.layout {
		case layoutPerfect:
			inner := f.pnodes[p.off : p.off+1<<p.depth-1]
			leaves := f.leaves[p.leaf : p.leaf+1<<p.depth]
			first := uint32(1)<<p.depth - 1
			r := 0
			for ; r+4 <= nb; r += 4 {
				i0, i1, i2, i3 := walk4(inner, p.depth,
					rows[r*nf:(r+1)*nf], rows[(r+1)*nf:(r+2)*nf],
					rows[(r+2)*nf:(r+3)*nf], rows[(r+3)*nf:(r+4)*nf])
				val[r], val[r+1], val[r+2], val[r+3] = leaves[i0-first], leaves[i1-first], leaves[i2-first], leaves[i3-first]
			}
			for ; r < nb; r++ {
				row := rows[r*nf : (r+1)*nf]
				i := uint32(0)
				for d := uint8(0); d < p.depth; d++ {
					i = step(inner, i, row)
				}
				val[r] = leaves[i-first]
			}
		case layoutCompact:
			for r := 0; r < nb; r++ {
				i := p.off
				for {
					nd := &f.gnodes[i]
					if nd.left < 0 {
						val[r] = nd.thr
						break
					}
					v := rows[r*nf+int(nd.feat&featMask)]
					right := int32(0)
					if v >= nd.thr {
						right = 1
					}
					if v != v {
						right = int32(nd.feat >> 31)
					}
					i = nd.left + right
				}
			}
		default:
			t := &f.trees[p.off]
			for r := 0; r < nb; r++ {
				row := rows[r*nf : (r+1)*nf]
				id := int32(0)
				for !t.Nodes[id].IsLeaf() {
					n := &t.Nodes[id]
					id = n.next(row[n.Feature])
				}
				val[r] = t.Nodes[id].Value
			}
		}
		if f.weight != nil {
			for r := 0; r < nb; r++ {
				out[r*g+int(p.group)] += val[r] * p.weight
			}
		} else {
			for r := 0; r < nb; r++ {
				out[r*g+int(p.group)] += val[r]
			}
		}
	}
}

// step moves one row from perfect-tree node i to its child: value >= the
// condition goes right; a missing value goes where the node's flag says.
func step(inner []pnode, i uint32, row []float32) uint32 {
	nd := inner[i]
	v := row[nd.feat&featMask]
	right := uint32(0)
	if v >= nd.thr {
		right = 1
	}
	if v != v {
		right = nd.feat >> 31
	}
	return 2*i + 1 + right
}

// walk4 walks four rows down a perfect tree of the given depth together,
// so their loads overlap, and returns their final node positions.
func walk4(inner []pnode, depth uint8, r0, r1, r2, r3 []float32) (i0, i1, i2, i3 uint32) {
	for d := uint8(0); d < depth; d++ {
		i0 = step(inner, i0, r0)
		i1 = step(inner, i1, r1)
		i2 = step(inner, i2, r2)
		i3 = step(inner, i3, r3)
	}
	return i0, i1, i2, i3
}
