package capture

import (
	"math"
	"math/bits"
	"unsafe"

	"github.com/parquet-go/parquet-go/format"

	"github.com/leadscore/leadscore"
)

// The feature columns' dictionaries are built as the records' values are
// added, not when the row group is flushed: a feature value is read once,
// from its record, looked up in its column's dictionary and stored as its
// index in the column. Transposing the values into columns and building
// the dictionaries from the columns at the flush were two passes over
// every value and 40% of the lake's CPU on 100-lead requests
// (BenchmarkFeatureChunks, BenchmarkFileWriter). The bytes written are
// the same: each chunk's dictionary holds its values in order of first
// appearance, and a column whose dictionary passes dictMaxEntries values
// is written PLAIN for the rest of the file.

// featDict is one feature column's dictionary for the row group being
// built: an open-addressing table (linear probing, at most 1/featLoad full)
// from a value's float32 bits to its index. The table starts small and
// doubles as the column's distinct values grow, so that the 50 tables a
// record visits stay in the cache; it keeps its size from row group to
// row group. Missing values (NaN) never enter the dictionary: an empty
// slot holds emptyKey32 (a NaN) and the index -1, and a NaN of another
// payload, once seen, gets a slot of its own with the index -1, so that a
// lookup tells a null from a value without a test of its own and the
// common case (a value at its first slot) is a load and a comparison.
type featDict struct {
	slots []slot32 // a power of two long
	shift uint     // 64 - log2(len(slots)): a hash's top bits index slots
	// plain: the column passed dictMaxEntries distinct values in this file
	// and holds float32 bits (w.noDict of its leaf column is set too);
	// overflowed: it did so in the row group being built; hasNulls: some
	// of the row group's values are missing.
	plain, overflowed, hasNulls bool

	used   []uint16 // the slots in use (values and NaNs), emptied at the row group's end
	values []uint32 // the dictionary, by index
}

type slot32 struct {
	key uint32 // emptyKey32: empty
	idx int32  // -1: a null
}

const (
	// emptyKey32 marks an empty slot: a NaN, which is null, never a key.
	emptyKey32 = 0xffffffff
	// featSlotsMin is the size a table starts at: 512 bytes, room for 16
	// values (many features are flags or small counts).
	featSlotsMin = 64
	// featLoad bounds a table's load: at most 1/featLoad of its slots are
	// used, so that most values sit at their first slot (with tables up
	// to half full the demo leads' features cost 1.32 ns a value to add,
	// a quarter full 1.12, with featureBlockMiss out of line:
	// BenchmarkFeatureChunks/demo-later-add, medians of five).
	featLoad = 4
	hashMul  = 0x9E3779B97F4A7C15
)

func (d *featDict) init() {
	d.setSize(featSlotsMin)
}

// setSize replaces the table with an empty one of n slots.
func (d *featDict) setSize(n int) {
	d.slots = make([]slot32, n)
	for i := range d.slots {
		d.slots[i] = slot32{key: emptyKey32, idx: -1}
	}
	d.shift = uint(64 - bits.TrailingZeros(uint(n)))
	d.used = d.used[:0]
}

// reset empties the dictionary for the next row group, keeping the
// table's size.
func (d *featDict) reset() {
	for _, u := range d.used {
		d.slots[u] = slot32{key: emptyKey32, idx: -1}
	}
	d.used, d.values = d.used[:0], d.values[:0]
	d.hasNulls, d.overflowed = false, false
}

// find returns the slot of v, or the empty slot where v would go.
func (d *featDict) find(v uint32) int {
	mask := len(d.slots) - 1
	for h := int((uint64(v) * hashMul) >> d.shift); ; h = (h + 1) & mask {
		if s := d.slots[h]; s.key == v || s.key == emptyKey32 {
			return h
		}
	}
}

// index returns v's index, adding v to the dictionary if it is new (-1
// for a NaN); false when v is a new value and the dictionary is full.
func (d *featDict) index(v uint32) (int32, bool) {
	h := d.find(v)
	if s := d.slots[h]; s.key == v {
		return s.idx, true // a value, or a NaN seen before
	}
	isNaN := v&0x7fffffff > 0x7f800000
	if !isNaN && len(d.values) == dictMaxEntries {
		return 0, false
	}
	if featLoad*(len(d.used)+1) > len(d.slots) {
		if isNaN {
			return -1, true // not worth a larger table
		}
		d.grow()
		h = d.find(v)
	}
	i := int32(-1)
	if !isNaN {
		i = int32(len(d.values)) //nolint:gosec // <= dictMaxEntries
		d.values = append(d.values, v)
	}
	d.slots[h] = slot32{key: v, idx: i}
	d.used = append(d.used, uint16(h)) //nolint:gosec // < 1<<16 slots
	return i, true
}

// grow rebuilds the table with room for one more value, keeping the
// values (the NaNs' slots are dropped: they only spare a probe).
func (d *featDict) grow() {
	n := len(d.slots)
	for n < featLoad*(len(d.values)+1) {
		n *= 2
	}
	d.setSize(n)
	for i, v := range d.values {
		h := d.find(v)
		d.slots[h] = slot32{key: v, idx: int32(i)} //nolint:gosec // <= dictMaxEntries
		d.used = append(d.used, uint16(h))         //nolint:gosec // < 1<<16 slots
	}
}

// addFeatures stores one record's features at row row of the feature
// columns; a record with fewer than nf features (never with the queue's
// checks) has the rest missing.
func (w *predWriter) addFeatures(vals []float32, nf, row int) {
	if len(vals) > nf {
		vals = vals[:nf]
	}
	for j, v := range vals {
		w.addFeature(j, j*w.stride+row, math.Float32bits(v))
	}
	for j := len(vals); j < nf; j++ {
		w.addFeature(j, j*w.stride+row, nanBits32)
	}
}

// addFeature stores value v (float32 bits) of feature j at pos in feats.
func (w *predWriter) addFeature(j, pos int, v uint32) {
	d := &w.fdict[j]
	if d.plain {
		w.feats[pos] = v
		return
	}
	s := d.slots[(uint64(v)*hashMul)>>d.shift]
	if s.key != v {
		w.featureMiss(j, pos, v)
		return
	}
	w.feats[pos] = uint32(s.idx) //nolint:gosec // bits of the index
	if s.idx < 0 {
		d.hasNulls = true
	}
}

// featureMiss is addFeature past its common case: a value not at its
// first slot, new, a NaN seen the first time, or the value that overflows
// the dictionary, which turns the column PLAIN.
//
//go:noinline
func (w *predWriter) featureMiss(j, pos int, v uint32) {
	d := &w.fdict[j]
	if d.plain {
		w.feats[pos] = v
		return
	}
	i, ok := d.index(v)
	if !ok {
		w.featureToPlain(j, pos)
		w.feats[pos] = v
		return
	}
	w.feats[pos] = uint32(i) //nolint:gosec // bits of the index
	if i < 0 {
		d.hasNulls = true
	}
}

// featureToPlain turns feature j PLAIN for the rest of the file: the
// indexes stored in its column before pos become the values' bits again.
func (w *predWriter) featureToPlain(j, pos int) {
	d := &w.fdict[j]
	col := w.feats[j*w.stride : pos]
	for k, i := range col {
		if int32(i) < 0 { //nolint:gosec // bits of the index
			col[k] = nanBits32
		} else {
			col[k] = d.values[i]
		}
	}
	*d = featDict{plain: true, overflowed: true}
	w.noDict[nLead+j] = true
}

// runBlock is how many records addRun stores at once: each feature column
// then receives runBlock consecutive values per visit, one store per
// value into a line already being written, rather than one value per
// record into 50 lines far apart; the block's lookups in a column's table
// are independent, and four rows' slices fit in registers.
const runBlock = 4

// addFeatureRun stores recs' features at rows w.rows... of the feature
// columns, runBlock records at a time: per column, the block's four
// values looked up in its dictionary at once and their indexes stored
// side by side, or, when one of them is not at its first slot, value by
// value (featureMiss).
func (w *predWriter) addFeatureRun(recs []leadscore.Record, nf int) {
	if nf == 0 {
		return
	}
	stride := w.stride
	fdict := w.fdict[:nf]
	b0 := 0
	for ; b0+runBlock <= len(recs); b0 += runBlock {
		r0, r1, r2, r3 := recs[b0].Features, recs[b0+1].Features, recs[b0+2].Features, recs[b0+3].Features
		row := w.rows + b0
		if len(r0) < nf || len(r1) < nf || len(r2) < nf || len(r3) < nf {
			for k := range runBlock {
				w.addFeatures(recs[b0+k].Features, nf, row+k)
			}
			continue
		}
		r0, r1, r2, r3 = r0[:nf], r1[:nf], r2[:nf], r3[:nf]
		// The block's place in column 0; column j's is stride values on
		// (the bounds checked once for all, by the slice).
		dst := unsafe.Pointer(unsafe.SliceData(w.feats[row : row+(nf-1)*stride+runBlock])) // #nosec G103 -- within feats
		for j := range fdict {
			d := &fdict[j]
			out := (*[runBlock]uint32)(unsafe.Add(dst, 4*j*stride)) // #nosec G103 -- idem
			v0, v1, v2, v3 := math.Float32bits(r0[j]), math.Float32bits(r1[j]), math.Float32bits(r2[j]), math.Float32bits(r3[j])
			if d.plain {
				out[0], out[1], out[2], out[3] = v0, v1, v2, v3
				continue
			}
			// The slots, unchecked: a hash's top bits are below len(slots).
			t, sh := unsafe.Pointer(unsafe.SliceData(d.slots)), d.shift   // #nosec G103 -- within slots
			s0 := *(*slot32)(unsafe.Add(t, 8*((uint64(v0)*hashMul)>>sh))) // #nosec G103 -- idem
			s1 := *(*slot32)(unsafe.Add(t, 8*((uint64(v1)*hashMul)>>sh))) // #nosec G103 -- idem
			s2 := *(*slot32)(unsafe.Add(t, 8*((uint64(v2)*hashMul)>>sh))) // #nosec G103 -- idem
			s3 := *(*slot32)(unsafe.Add(t, 8*((uint64(v3)*hashMul)>>sh))) // #nosec G103 -- idem
			if s0.key != v0 || s1.key != v1 || s2.key != v2 || s3.key != v3 {
				w.featureBlockMiss(j, row+j*stride, v0, v1, v2, v3)
				continue
			}
			out[0], out[1], out[2], out[3] = uint32(s0.idx), uint32(s1.idx), uint32(s2.idx), uint32(s3.idx) //nolint:gosec // bits of the indexes
			if s0.idx|s1.idx|s2.idx|s3.idx < 0 {
				d.hasNulls = true
			}
		}
	}
	for ; b0 < len(recs); b0++ {
		w.addFeatures(recs[b0].Features, nf, w.rows+b0)
	}
}

// featureBlockMiss stores a block's four values of feature j at pos...
// one by one, when one of them is not at its first slot.
//
//go:noinline
func (w *predWriter) featureBlockMiss(j, pos int, v0, v1, v2, v3 uint32) {
	w.addFeature(j, pos, v0)
	w.addFeature(j, pos+1, v1)
	w.addFeature(j, pos+2, v2)
	w.addFeature(j, pos+3, v3)
}

// resetFeatures empties the feature dictionaries for the next row group.
func (w *predWriter) resetFeatures() {
	for j := range w.fdict {
		if d := &w.fdict[j]; d.plain {
			d.overflowed = false
		} else {
			d.reset()
		}
	}
}

// featureChunk encodes feature j's column (FLOAT, NaN null) of the row
// group: with its dictionary, the indexes stored without the nulls';
// PLAIN once the column passed its dictionary.
func (w *predWriter) featureChunk(col, j int) *chunk {
	e := &w.enc
	d := &w.fdict[j]
	n := w.rows
	vals := w.feats[j*w.stride : j*w.stride+n]
	if d.overflowed {
		w.f4seen = true // the table it shared had values
	}
	if d.plain {
		levels := growU8(e.levels, n)
		e.levels = levels
		nulls := 0
		p := growU32(e.plain32, n)
		k := 0
		for i, b := range vals {
			if b&0x7fffffff > 0x7f800000 { // NaN: missing
				levels[i] = 0
				nulls++
				continue
			}
			levels[i] = 1
			p[k] = b
			k++
		}
		e.plain32 = p
		return w.float32Chunk(col, levels, nulls, nil, nil, p[:k])
	}
	idx := unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(vals))), n) // #nosec G103 -- the same bits, as indexes
	var at []int32
	if d.hasNulls {
		// The indexes without the nulls, and where the nulls are.
		idx = growI32(e.idx, n)
		e.idx = idx
		k := 0
		at = e.nullAt[:0]
		for r, i := range vals {
			if int32(i) < 0 { //nolint:gosec // bits of the index
				at = append(at, int32(r)) //nolint:gosec // < row group rows
				continue
			}
			idx[k] = int32(i) //nolint:gosec // idem
			k++
		}
		e.nullAt = at
		idx = idx[:k]
	}
	var dict []uint32 // nil: only nulls, PLAIN without a dictionary (see f4seen)
	switch {
	case len(d.values) > 0:
		dict = d.values
		w.f4seen = true
	case w.f4seen:
		dict = noValues
	}
	return w.float32Chunk(col, e.levelsOf(n, at), len(at), dict, idx, nil)
}

// noValues is an empty dictionary.
var noValues = []uint32{}

// float32Chunk writes an optional FLOAT chunk of the levels given (nulls
// of them null): with dict (not nil), a dictionary page and the indexes
// idx of the present values; without, the present values PLAIN.
func (w *predWriter) float32Chunk(col int, levels []uint8, nulls int, dict []uint32, idx []int32, present []uint32) *chunk {
	n := len(levels)
	c := w.newChunk(col, w.pageRanges(n))
	c.meta.Type = format.Float
	c.meta.NumValues = int64(n)
	c.meta.Codec = format.Uncompressed // 4-byte values: see docs/lake.md, Encodings
	w.pages32(c, kindFloat, levels, nulls, dict, idx, present)
	return c
}
