package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/leadscore/leadscore"
	lakefmt "github.com/leadscore/leadscore/lake"
)

// lakeFileWriter writes one prediction file: add buffers a record (addRun
// a run of them),
// flushRowGroup writes the buffered rows as a row group (the lake calls it
// every RowGroupRows rows), close writes the rest and the footer, Size is
// the file's size with its buffered rows, what RollBytes is compared with.
type lakeFileWriter interface {
	add(r *leadscore.Record)
	// addRun adds records that go to this file one after another; the
	// caller keeps buffered()+len(recs) within the row group.
	addRun(recs []leadscore.Record)
	buffered() int
	flushRowGroup() error
	close() error
	Size() int64
}

// predWriter writes one prediction file (lakefmt.PredictionSchema) straight
// from leadscore.Records: each record's values are appended to typed,
// per-column buffers (no parquet.Value, no row assembly), and a row group
// is encoded column by column when it is full. The file is what parquet-go
// writes for the same schema (its schema elements, created_by and column
// orders are taken from parquet-go itself, see lakeSchema.footer), with
// these encodings, chosen by BenchmarkLakeCPU and BenchmarkPredWriter
// (docs/lake.md, "Encodings"):
//
//   - every column chunk first tries a dictionary (RLE_DICTIONARY data
//     pages, a PLAIN dictionary page, uncompressed: the bit-packed indices
//     are smaller than zstd of the values for the low-cardinality features,
//     model names, roles, tiers and a batch's shared request id); a chunk
//     whose dictionary passes dictMaxEntries values is written PLAIN, and
//     that column skips the dictionary for the rest of the file;
//   - PLAIN chunks of FLOAT and DOUBLE are not compressed (measured: zstd
//     saves 2% of random floats' bytes at 1.2 ns a byte); PLAIN strings
//     (ids) and timestamps are compressed with plainCodec;
//   - data pages are DATA_PAGE_V2 (levels outside the compressed values),
//     definition levels RLE/bit-packed (parquet-go's rle package), chunk
//     statistics (min, max, null count) and the column and offset indexes
//     (one entry per page), as parquet-go writes them.
//
// Thrift structures are parquet-go's format package, encoded by its thrift
// codec. A predWriter is not safe for concurrent use.
type predWriter struct {
	out      io.Writer
	offset   int64 // bytes written so far
	err      error // sticky write error
	schema   *lakeSchema
	groupMax int // rows per row group
	pageMax  int // rows per data page

	rows    int // rows buffered in the row group
	capRows int // rows each feature column in feats can hold
	stride  int // distance between two feature columns in feats

	times []int64
	strs  [nStrCols]strColumn
	// feats holds the feature columns one after another, stride values
	// each: a column in dictionary mode holds its values' indexes in its
	// dictionary (fdict, built as the values are added; -1: missing), a
	// column past its dictionary (noDict) the float32 bits (NaN:
	// missing). Either way missing values are written as nulls.
	feats []uint32
	fdict []featDict // by feature
	// f4seen: a 4-byte dictionary chunk of this file had a value, after
	// which a feature chunk of nulls only gets an empty dictionary
	// (before, it is written PLAIN): the files stay the bytes they were
	// when the features and the tier shared one dictionary table.
	f4seen bool
	margin []uint64
	prob   []uint64
	tier   []uint32
	lat    []uint64

	noDict []bool // by leaf column: its dictionary overflowed in this file

	rowGroups []format.RowGroup
	colIndex  [][]format.ColumnIndex // by row group, by column
	offIndex  [][]format.OffsetIndex
	total     int64 // rows in finished row groups
	// raw bytes of the row groups written, and what they encoded to
	rawFlushed, encFlushed int64

	enc encScratch
}

// The string columns of a prediction file, in strs.
const (
	sRequest = iota
	sInference
	sLead
	sModel
	sVersion
	sVariant
	sRole
	nStrCols
)

const (
	// dictMaxEntries bounds a chunk's dictionary (10-bit indices); a
	// column with more distinct values in a row group is written PLAIN.
	dictMaxEntries = 1024
	// defaultPageRows bounds the rows of one data page.
	defaultPageRows = 8192
)

// plainCodec compresses PLAIN string and timestamp chunks.
var plainCodec = format.Snappy

func newPredWriter(out io.Writer, s *lakeSchema, groupRows, pageRows int) *predWriter {
	return reusePredWriter(nil, out, s, groupRows, pageRows)
}

// reusePredWriter is newPredWriter with the buffers of old (nil: none), a
// writer whose file is complete (closed) or abandoned: its columns, their
// dictionaries and the encoder's scratch keep their room, so that a new
// file does not grow them again from nothing (at 100-lead requests the
// lake rolls a generation, and so its files, every few seconds; growing a
// file's buffers cost some 2 µs a request in page faults and copies).
func reusePredWriter(old *predWriter, out io.Writer, s *lakeSchema, groupRows, pageRows int) *predWriter {
	w := &predWriter{out: out, schema: s, groupMax: groupRows, pageMax: pageRows}
	if w.pageMax <= 0 {
		w.pageMax = defaultPageRows
	}
	nf := len(s.features)
	if old != nil {
		w.times, w.margin, w.prob, w.tier, w.lat = old.times[:0], old.margin[:0], old.prob[:0], old.tier[:0], old.lat[:0]
		for i := range w.strs {
			w.strs[i] = old.strs[i]
			w.strs[i].reset()
			w.strs[i].plain = false
		}
		if len(old.fdict) == nf {
			w.feats, w.stride, w.capRows = old.feats, old.stride, old.capRows
			w.fdict = old.fdict
		}
		if len(old.noDict) == s.columns() {
			w.noDict = old.noDict
			clear(w.noDict)
		}
		e := &old.enc
		w.enc = encScratch{levels: e.levels, defs: e.defs, values: e.values, comp: e.comp, rle: e.rle, idx: e.idx,
			ones: e.ones, nullAt: e.nullAt, dictI32: e.dictI32, dict64: e.dict64, plain32: e.plain32, plain64: e.plain64,
			tbuf: e.tbuf, hbuf: e.hbuf}
		w.enc.tbuf.Reset()
	}
	for i := range w.strs {
		w.strs[i].optional = i == sLead || i == sVariant
	}
	if w.noDict == nil {
		w.noDict = make([]bool, s.columns())
	}
	if w.fdict == nil {
		w.fdict = make([]featDict, nf)
	}
	for i := range w.fdict {
		d := &w.fdict[i]
		if d.slots == nil {
			*d = featDict{}
			d.init()
		} else {
			d.reset()
		}
	}
	w.write([]byte("PAR1"))
	return w
}

func (w *predWriter) write(p []byte) {
	if w.err != nil {
		return
	}
	n, err := w.out.Write(p)
	w.offset += int64(n)
	if err != nil {
		w.err = err
	}
}

// add appends one record to the row group. The caller flushes the row
// group (flushRowGroup) when rows reaches groupMax.
func (w *predWriter) add(r *leadscore.Record) {
	nf := len(w.schema.features)
	if w.rows == w.capRows {
		w.growFeatures(nf, w.rows+1)
	}
	w.times = append(w.times, r.Time.UnixMicro())
	w.strs[sRequest].add(r.RequestID)
	w.strs[sInference].add(r.InferenceID)
	w.strs[sLead].add(r.LeadID)
	w.strs[sModel].add(r.Model)
	w.strs[sVersion].add(r.ModelVersion)
	w.addFeatures(r.Features, nf, w.rows)
	w.margin = append(w.margin, math.Float64bits(r.Margin))
	w.prob = append(w.prob, math.Float64bits(r.Probability))
	tier := r.Tier
	if tier > math.MaxInt32 || tier < math.MinInt32 {
		tier = 0
	}
	w.tier = append(w.tier, uint32(int32(tier))) //nolint:gosec // clamped above
	w.lat = append(w.lat, math.Float64bits(r.LatencyMS))
	w.strs[sVariant].add(r.Variant)
	if r.Shadow {
		w.strs[sRole].add(lakefmt.RoleShadow)
	} else {
		w.strs[sRole].add(lakefmt.RoleLive)
	}
	w.rows++
}

const nanBits32 = 0x7fc00000

// addRunMin is the shortest run addRun fills column by column; shorter
// ones go record by record. BenchmarkRowBuild, per record: add 60 ns,
// runs of 2 column by column 90, of 4 60, of 8 56, of 100 55.
const addRunMin = 4

// addRun appends recs to the row group, as add would one by one (the
// file is byte for byte the same), but column by column: the features
// transposed in blocks of runBlock records, then each scalar and string
// column in one loop, the strings by runs of equal values (a request's
// records share its request id, model and version, which then cost one
// comparison per record and one dictionary lookup per run). The caller
// flushes the row group (flushRowGroup) when rows reaches groupMax, so
// rows+len(recs) should not pass it; the buffers grow if it does.
func (w *predWriter) addRun(recs []leadscore.Record) {
	n := len(recs)
	if n < addRunMin {
		// Column by column costs a loop per column and record: for a
		// single lead's record, twice add's cost (BenchmarkRowBuild).
		for i := range recs {
			w.add(&recs[i])
		}
		return
	}
	nf := len(w.schema.features)
	if w.rows+n > w.capRows {
		w.growFeatures(nf, w.rows+n)
	}
	for i := range recs {
		w.times = append(w.times, recs[i].Time.UnixMicro())
	}
	w.addStrings(recs)
	w.addFeatureRun(recs, nf)
	for i := range recs {
		w.margin = append(w.margin, math.Float64bits(recs[i].Margin))
	}
	for i := range recs {
		w.prob = append(w.prob, math.Float64bits(recs[i].Probability))
	}
	for i := range recs {
		tier := recs[i].Tier
		if tier > math.MaxInt32 || tier < math.MinInt32 {
			tier = 0
		}
		w.tier = append(w.tier, uint32(int32(tier))) //nolint:gosec // clamped above
	}
	for i := range recs {
		w.lat = append(w.lat, math.Float64bits(recs[i].LatencyMS))
	}
	w.rows += n
}

// runConst are the string columns that addStrings checks for one value
// across a run: a request's records share its request id, model, version,
// variant and role, and lead ids are often absent.
const runConst = 1<<sRequest | 1<<sLead | 1<<sModel | 1<<sVersion | 1<<sVariant | 1<<sRole

// addStrings adds the string columns of recs (at least one record). One
// pass over the records finds the columns whose value is the first
// record's throughout (runConst): each of those is then added at once
// (addRepeat, a dictionary lookup and a fill), the others value by value
// (addRecs). A column's bytes are the same either way; the pass reads
// each record once instead of once per column.
func (w *predWriter) addStrings(recs []leadscore.Record) {
	r0 := &recs[0]
	same := uint(runConst)
	for i := 1; i < len(recs) && same != 0; i++ {
		r := &recs[i]
		if same&(1<<sRequest) != 0 && !sameString(r.RequestID, r0.RequestID) {
			same &^= 1 << sRequest
		}
		if same&(1<<sLead) != 0 && !sameString(r.LeadID, r0.LeadID) {
			same &^= 1 << sLead
		}
		if same&(1<<sModel) != 0 && !sameString(r.Model, r0.Model) {
			same &^= 1 << sModel
		}
		if same&(1<<sVersion) != 0 && !sameString(r.ModelVersion, r0.ModelVersion) {
			same &^= 1 << sVersion
		}
		if same&(1<<sVariant) != 0 && !sameString(r.Variant, r0.Variant) {
			same &^= 1 << sVariant
		}
		if r.Shadow != r0.Shadow {
			same &^= 1 << sRole
		}
	}
	for col := range nStrCols {
		if same&(1<<col) != 0 {
			w.strs[col].addRepeat(recString(r0, col), len(recs))
		} else {
			w.strs[col].addRecs(recs, col)
		}
	}
}

// recString is r's value of string column col.
func recString(r *leadscore.Record, col int) string {
	switch col {
	case sRequest:
		return r.RequestID
	case sInference:
		return r.InferenceID
	case sLead:
		return r.LeadID
	case sModel:
		return r.Model
	case sVersion:
		return r.ModelVersion
	case sVariant:
		return r.Variant
	}
	if r.Shadow {
		return lakefmt.RoleShadow
	}
	return lakefmt.RoleLive
}

// growFeatures makes room for need rows in each feature column: double
// the rows they hold (up to the row group's size, or need if more),
// moving the columns already buffered.
func (w *predWriter) growFeatures(nf, need int) {
	capRows := max(min(max(2*w.capRows, 256), w.groupMax), need)
	// Columns a power of two apart would share the cache's sets (every
	// record stores one value in each); 16 values (a cache line) more
	// spreads them.
	stride := capRows + 16
	feats := make([]uint32, nf*stride)
	for i := 0; i < nf; i++ {
		copy(feats[i*stride:i*stride+w.rows], w.feats[i*w.stride:i*w.stride+w.rows])
	}
	w.feats, w.stride, w.capRows = feats, stride, capRows
}

// Size is the file's size so far plus an estimate of the buffered row
// group, what RollBytes is compared with: its raw column bytes, scaled by
// what the file's earlier row groups encoded to (dictionaries make them
// several times smaller).
func (w *predWriter) Size() int64 {
	raw := w.rawBytes()
	if w.rawFlushed > 0 {
		raw = raw * w.encFlushed / w.rawFlushed
	}
	return w.offset + raw
}

// rawBytes is the size of the buffered rows' values.
func (w *predWriter) rawBytes() int64 {
	n := int64(w.rows) * int64(8+8*3+4+4*len(w.schema.features))
	for i := range w.strs {
		n += int64(w.strs[i].rawBytes)
	}
	return n
}

// buffered is the number of rows in the row group being built.
func (w *predWriter) buffered() int { return w.rows }

// ---- string columns -----------------------------------------------------------

// strColumn buffers a BYTE_ARRAY column. While its values fit a dictionary
// they are kept as dictionary indices (the previous value is checked first,
// so a batch's shared id or a constant model name costs a comparison); past
// dictMaxEntries the column turns PLAIN for the rest of the file.
type strColumn struct {
	optional bool
	plain    bool
	defs     []uint8 // optional columns: 1 present, 0 null ("")
	nulls    int
	rawBytes int

	// dictionary mode
	dict    []string
	byValue map[string]int32
	idx     []int32
	last    string
	lastIdx int32

	// plain mode: PLAIN-encoded values, and how many
	data   []byte
	plainN int
}

func (c *strColumn) add(s string) {
	if c.optional {
		if s == "" {
			c.defs = append(c.defs, 0)
			c.nulls++
			return
		}
		c.defs = append(c.defs, 1)
	}
	c.rawBytes += 4 + len(s)
	if c.plain {
		c.addPlain(s)
		return
	}
	if len(c.idx) > 0 && s == c.last {
		c.idx = append(c.idx, c.lastIdx)
		return
	}
	i := c.lookup(s)
	if i < 0 {
		c.toPlain()
		c.addPlain(s)
		return
	}
	c.idx = append(c.idx, i)
}

// addRecs adds column col of recs, as add would record by record, but a
// run of equal values at a time (a request's records share its request
// id, model and version: one comparison per record, one dictionary
// lookup per run), and PLAIN values (ids past their dictionary) in one
// loop. It reads the records directly rather than a gathered []string:
// storing strings in a buffer costs a write barrier each while the
// collector runs, which is often in a busy server.
func (c *strColumn) addRecs(recs []leadscore.Record, col int) {
	for i := 0; i < len(recs); {
		if c.plain {
			c.addPlainRecs(recs[i:], col)
			return
		}
		s := recString(&recs[i], col)
		j := i + 1
		for j < len(recs) && sameString(recString(&recs[j], col), s) {
			j++
		}
		c.addRepeat(s, j-i)
		i = j
	}
}

// addPlainRecs is addRecs for a PLAIN column.
func (c *strColumn) addPlainRecs(recs []leadscore.Record, col int) {
	if col == sInference {
		// Ids, one per record: sized once, appended in place.
		need := 0
		for i := range recs {
			need += 4 + len(recs[i].InferenceID)
		}
		c.data = slices.Grow(c.data, need)
		for i := range recs {
			s := recs[i].InferenceID
			c.data = binary.LittleEndian.AppendUint32(c.data, uint32(len(s))) //nolint:gosec // ids are bounded far below 4 GiB
			c.data = append(c.data, s...)
		}
		c.rawBytes += need
		c.plainN += len(recs)
		return
	}
	for i := range recs {
		s := recString(&recs[i], col)
		if c.optional {
			if s == "" {
				c.defs = append(c.defs, 0)
				c.nulls++
				continue
			}
			c.defs = append(c.defs, 1)
		}
		c.rawBytes += 4 + len(s)
		c.addPlain(s)
	}
}

// sameString is a == b, without a call when both are the same bytes (a
// request's records share its id, model and version strings).
func sameString(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	return unsafe.StringData(a) == unsafe.StringData(b) || a == b // #nosec G103 -- compares pointers only
}

// addRepeat adds s n times.
func (c *strColumn) addRepeat(s string, n int) {
	if c.optional {
		if s == "" {
			c.defs = appendRepeat(c.defs, 0, n)
			c.nulls += n
			return
		}
		c.defs = appendRepeat(c.defs, 1, n)
	}
	c.rawBytes += n * (4 + len(s))
	if !c.plain {
		var i int32
		if len(c.idx) > 0 && s == c.last {
			i = c.lastIdx
		} else if i = c.lookup(s); i < 0 {
			c.toPlain()
		}
		if !c.plain {
			c.idx = appendRepeat(c.idx, i, n)
			return
		}
	}
	c.data = slices.Grow(c.data, n*(4+len(s)))
	for range n {
		c.addPlain(s)
	}
}

// appendRepeat appends n copies of v to b.
func appendRepeat[T any](b []T, v T, n int) []T {
	l := len(b)
	b = slices.Grow(b, n)[:l+n]
	tail := b[l:]
	for k := range tail {
		tail[k] = v
	}
	return b
}

// lookup returns s's dictionary index, adding it (and making it the last
// value); -1 when the dictionary is full.
func (c *strColumn) lookup(s string) int32 {
	i, ok := c.byValue[s]
	if !ok {
		if len(c.dict) == dictMaxEntries {
			return -1
		}
		if c.byValue == nil {
			c.byValue = make(map[string]int32)
		}
		i = int32(len(c.dict))   //nolint:gosec // <= dictMaxEntries
		own := string([]byte(s)) // not a view of a larger request body
		c.dict = append(c.dict, own)
		c.byValue[own] = i
	}
	// The dictionary's copy, not the caller's string: last outlives the
	// record's batch, whose storage (the ids in Batch.IDs) is another
	// request's once released.
	c.last, c.lastIdx = c.dict[i], i
	return i
}

func (c *strColumn) addPlain(s string) {
	c.plainN++
	c.data = binary.LittleEndian.AppendUint32(c.data, uint32(len(s)))
	c.data = append(c.data, s...)
}

// toPlain rewrites the values gathered as dictionary indices as PLAIN
// values; the column stays PLAIN until the file ends.
func (c *strColumn) toPlain() {
	c.plain = true
	c.data, c.plainN = c.data[:0], 0
	for _, i := range c.idx {
		c.addPlain(c.dict[i])
	}
	c.resetDict()
}

func (c *strColumn) resetDict() {
	c.dict = c.dict[:0]
	clear(c.byValue)
	c.idx = c.idx[:0]
	c.last, c.lastIdx = "", 0
}

func (c *strColumn) reset() {
	c.resetDict()
	c.defs = c.defs[:0]
	c.nulls, c.rawBytes = 0, 0
	c.data, c.plainN = c.data[:0], 0
}

// ---- encoding a row group -------------------------------------------------------

// encScratch holds the buffers reused for every chunk.
type encScratch struct {
	levels  []uint8
	defs    []byte
	values  []byte
	comp    []byte
	rle     []byte
	idx     []int32
	ones    []uint8 // definition levels of rows without nulls
	nullAt  []int32 // positions of a feature chunk's nulls
	dictI32 dictTable[uint32]
	dict64  dictTable[uint64]
	plain32 []uint32
	plain64 []uint64
	thrift  thrift.CompactProtocol
	// tbuf and tenc encode thrift structures (Marshal would allocate an
	// encoder and a buffer each time); what they encode is written before
	// the next one.
	tbuf bytes.Buffer
	tenc *thrift.Encoder
	hdr  format.PageHeader // the page header being written
	hbuf []byte            // its bytes

	// chunk is the chunk being encoded; the row group copies what it
	// reports. Its index and statistics slices are carved from the slabs
	// below, which the row groups' metadata keeps (until the file is
	// closed): a few allocations per row group instead of some twenty
	// per column chunk.
	chunk      chunk
	stats      byteArena
	nullPages  []bool
	nullCounts []int64
	minMax     [][]byte
	locs       []format.PageLocation
	encStats   []format.PageEncodingStats
	encodings  []format.Encoding
}

// marshal encodes v (a pointer to a thrift structure); the bytes are
// valid until the next call.
func (e *encScratch) marshal(v any) ([]byte, error) {
	if e.tenc == nil {
		e.tenc = thrift.NewEncoder(e.thrift.NewWriter(&e.tbuf))
	}
	e.tbuf.Reset()
	err := e.tenc.Encode(v)
	return e.tbuf.Bytes(), err
}

// carve returns an empty slice with room for n elements from *slab,
// which it replaces with a new block when full: the slices handed out
// share blocks, and appending past n moves only that slice.
func carve[T any](slab *[]T, n int) []T {
	if cap(*slab)-len(*slab) < n {
		*slab = make([]T, 0, max(n, slabElems))
	}
	l := len(*slab)
	*slab = (*slab)[:l+n]
	return (*slab)[l : l : l+n]
}

// slabElems is the size of a new slab block, in elements: a few row
// groups' worth of chunks with one page each.
const slabElems = 256

// newChunk resets the scratch chunk for column col of a row group of
// pages pages.
func (w *predWriter) newChunk(col, pages int) *chunk {
	e := &w.enc
	c := &e.chunk
	*c = chunk{}
	c.meta.PathInSchema = w.schema.names[col : col+1 : col+1]
	c.ci.NullPages = carve(&e.nullPages, pages)
	c.ci.NullCounts = carve(&e.nullCounts, pages)
	c.ci.MinValues = carve(&e.minMax, pages)
	c.ci.MaxValues = carve(&e.minMax, pages)
	c.oi.PageLocations = carve(&e.locs, pages)
	c.meta.EncodingStats = carve(&e.encStats, 2)
	c.meta.Encoding = carve(&e.encodings, 3)
	return c
}

// byteArena hands out small byte slices carved from shared blocks (the
// statistics' min and max values, kept until the file is closed). A nil
// arena allocates each.
type byteArena struct {
	block []byte
}

// copy returns a copy of b.
func (a *byteArena) copy(b []byte) []byte {
	if a == nil {
		return bytes.Clone(b)
	}
	if cap(a.block)-len(a.block) < len(b) {
		a.block = make([]byte, 0, max(len(b), 4096))
	}
	l := len(a.block)
	a.block = append(a.block, b...)
	return a.block[l:len(a.block):len(a.block)]
}

func (a *byteArena) u32(v uint32) []byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return a.copy(b[:])
}

func (a *byteArena) u64(v uint64) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return a.copy(b[:])
}

// chunk is what one column chunk's encoder reports.
type chunk struct {
	meta   format.ColumnMetaData
	ci     format.ColumnIndex
	oi     format.OffsetIndex
	offset int64 // of its first page
}

// flushRowGroup encodes the buffered rows as one row group.
func (w *predWriter) flushRowGroup() error {
	if w.err != nil || w.rows == 0 {
		w.resetRows()
		return w.err
	}
	start := w.offset
	n := w.rows
	raw := w.rawBytes()
	s := w.schema
	ncol := s.columns()
	cols := make([]format.ColumnChunk, ncol)
	cis := make([]format.ColumnIndex, ncol)
	ois := make([]format.OffsetIndex, ncol)
	var totalUncompressed int64
	emit := func(col int, c *chunk) {
		cols[col] = format.ColumnChunk{FileOffset: c.offset, MetaData: c.meta}
		cis[col], ois[col] = c.ci, c.oi
		totalUncompressed += c.meta.TotalUncompressedSize
	}
	col := 0
	emit(col, w.fixed64Chunk(col, format.Int64, kindInt64, w.times64(), plainCodec))
	col++
	for i := sRequest; i <= sVersion; i++ {
		emit(col, w.stringChunk(col, &w.strs[i]))
		col++
	}
	for i := range s.features {
		emit(col, w.featureChunk(col, i))
		col++
	}
	emit(col, w.fixed64Chunk(col, format.Double, kindDouble, w.margin, format.Uncompressed))
	col++
	emit(col, w.fixed64Chunk(col, format.Double, kindDouble, w.prob, format.Uncompressed))
	col++
	emit(col, w.int32Chunk(col, w.tier))
	col++
	emit(col, w.fixed64Chunk(col, format.Double, kindDouble, w.lat, format.Uncompressed))
	col++
	emit(col, w.stringChunk(col, &w.strs[sVariant]))
	col++
	emit(col, w.stringChunk(col, &w.strs[sRole]))
	if w.err != nil {
		return w.err
	}
	w.rowGroups = append(w.rowGroups, format.RowGroup{
		Columns:             cols,
		TotalByteSize:       totalUncompressed,
		NumRows:             int64(n),
		FileOffset:          start,
		TotalCompressedSize: w.offset - start,
		Ordinal:             int16(len(w.rowGroups)), //nolint:gosec // wraps past 32k row groups, as parquet-go's; readers use it only to decrypt
	})
	w.colIndex = append(w.colIndex, cis)
	w.offIndex = append(w.offIndex, ois)
	w.total += int64(n)
	w.rawFlushed += raw
	w.encFlushed += w.offset - start
	w.resetRows()
	return nil
}

func (w *predWriter) resetRows() {
	w.rows = 0
	w.times = w.times[:0]
	for i := range w.strs {
		w.strs[i].reset()
	}
	w.margin, w.prob, w.tier, w.lat = w.margin[:0], w.prob[:0], w.tier[:0], w.lat[:0]
	w.resetFeatures()
}

// times64 views the timestamps as the uint64 bits the encoder takes.
func (w *predWriter) times64() []uint64 {
	out := w.enc.plain64[:0]
	for _, t := range w.times {
		out = append(out, uint64(t)) //nolint:gosec // bit pattern
	}
	w.enc.plain64 = out
	return out
}

// value kinds for statistics
type numKind uint8

const (
	kindFloat numKind = iota
	kindInt32
	kindDouble
	kindInt64
)

// pageRanges returns the row bounds of the pages of n rows.
func (w *predWriter) pageRanges(n int) int { return (n + w.pageMax - 1) / w.pageMax }

// int32Chunk encodes a required INT32 column (the tier).
func (w *predWriter) int32Chunk(col int, vals []uint32) *chunk {
	e := &w.enc
	n := len(vals)
	var dict []uint32
	var idx []int32
	if !w.noDict[col] {
		var ok bool
		dict, idx, ok = e.dictI32.build(vals, &e.idx)
		if !ok {
			w.noDict[col] = true
			dict, idx = nil, nil
		} else if len(dict) > 0 {
			w.f4seen = true // the table it shared had values
		}
	}
	c := w.newChunk(col, w.pageRanges(n))
	c.meta.Type = format.Int32
	c.meta.NumValues = int64(n)
	c.meta.Codec = format.Uncompressed // 4-byte values: see docs/lake.md, Encodings
	w.pages32(c, kindInt32, nil, 0, dict, idx, vals)
	return c
}

// pages32 writes a 4-byte column's dictionary page (dict not nil) and its
// data pages of levels (nulls of them null; nil for a required column):
// the indexes idx of the present values, or without a dictionary the
// present values vals PLAIN.
func (w *predWriter) pages32(c *chunk, kind numKind, levels []uint8, nulls int, dict []uint32, idx []int32, vals []uint32) {
	e := &w.enc
	n := int(c.meta.NumValues)
	if dict != nil {
		w.writeDict32(c, dict)
	}
	w.pages(c, levels, nulls, n-nulls, func(va, vb int) ([]byte, []byte, []byte, format.Encoding) {
		var mn, mx []byte
		if dict != nil {
			mn, mx = minMax32(&e.stats, kind, dict, idx[va:vb], w.pageRanges(n) == 1)
			return w.dictIndexes(len(dict), idx[va:vb]), mn, mx, format.RLEDictionary
		}
		mn, mx = minMax32(&e.stats, kind, vals[va:vb], nil, true)
		e.values = appendU32(e.values[:0], vals[va:vb])
		return e.values, mn, mx, format.Plain
	})
}

// fixed64Chunk encodes a required INT64 or DOUBLE column.
func (w *predWriter) fixed64Chunk(col int, typ format.Type, kind numKind, vals []uint64, codec format.CompressionCodec) *chunk {
	e := &w.enc
	n := len(vals)
	var dict []uint64
	var idx []int32
	if !w.noDict[col] {
		var ok bool
		dict, idx, ok = e.dict64.build(vals, &e.idx)
		if !ok {
			w.noDict[col] = true
			dict, idx = nil, nil
		}
	}
	c := w.newChunk(col, w.pageRanges(n))
	c.meta.Type = typ
	c.meta.NumValues = int64(n)
	if dict != nil {
		c.meta.Codec = format.Uncompressed
		w.writeDict64(c, dict)
	} else {
		c.meta.Codec = codec
	}
	w.pages(c, nil, 0, n, func(va, vb int) ([]byte, []byte, []byte, format.Encoding) {
		var mn, mx []byte
		if dict != nil {
			mn, mx = minMax64(&e.stats, kind, dict, idx[va:vb], w.pageRanges(n) == 1)
			return w.dictIndexes(len(dict), idx[va:vb]), mn, mx, format.RLEDictionary
		}
		mn, mx = minMax64(&e.stats, kind, vals[va:vb], nil, true)
		e.values = appendU64(e.values[:0], vals[va:vb])
		return e.values, mn, mx, format.Plain
	})
	return c
}

// stringChunk encodes a BYTE_ARRAY column.
func (w *predWriter) stringChunk(col int, s *strColumn) *chunk {
	e := &w.enc
	n := len(s.idx) + s.plainN + s.nulls
	c := w.newChunk(col, w.pageRanges(n))
	c.meta.Type = format.ByteArray
	c.meta.NumValues = int64(n)
	dictMode := !s.plain
	if dictMode {
		c.meta.Codec = format.Uncompressed
		e.values = e.values[:0]
		for _, v := range s.dict {
			e.values = binary.LittleEndian.AppendUint32(e.values, uint32(len(v))) //nolint:gosec // ids are bounded far below 4 GiB
			e.values = append(e.values, v...)
		}
		w.writeDictPage(c, e.values, len(s.dict))
	} else {
		c.meta.Codec = plainCodec
		w.noDict[col] = true
	}
	present := n - s.nulls
	var levels []uint8
	if s.optional {
		levels = s.defs
	}
	pos := 0 // in s.data, of the next page's values
	w.pages(c, levels, s.nulls, present, func(va, vb int) ([]byte, []byte, []byte, format.Encoding) {
		if dictMode {
			mn, mx := minMaxStr(&e.stats, s.dict, s.idx[va:vb], w.pageRanges(n) == 1)
			return w.dictIndexes(len(s.dict), s.idx[va:vb]), mn, mx, format.RLEDictionary
		}
		lo := pos
		if va == 0 && vb == present {
			pos = len(s.data)
		} else {
			for k := va; k < vb; k++ {
				pos += 4 + int(binary.LittleEndian.Uint32(s.data[pos:]))
			}
		}
		page := s.data[lo:pos]
		mn, mx := minMaxPlainStr(&e.stats, page)
		return page, mn, mx, format.Plain
	})
	// rawBytes counts 4 bytes of length before each value
	c.meta.SizeStatistics.UnencodedByteArrayDataBytes = int64(s.rawBytes - 4*present)
	return c
}

// pages writes a chunk's data pages: levels (nil for a required column)
// cut by rows, the values by their non-null count; values returns the
// encoded values of non-null values [va, vb), their min and max (nil when
// none) and the encoding. It fills c's metadata, statistics and indexes.
func (w *predWriter) pages(c *chunk, levels []uint8, nulls, present int,
	values func(va, vb int) (enc, mn, mx []byte, encoding format.Encoding)) {
	e := &w.enc
	n := int(c.meta.NumValues)
	if c.meta.DictionaryPageOffset == 0 {
		c.offset = w.offset
	}
	c.meta.DataPageOffset = w.offset
	var encs encodingSet
	if levels != nil {
		encs.add(format.RLE)
	}
	if c.meta.DictionaryPageOffset != 0 {
		encs.add(format.Plain)
	}
	var stats format.Statistics
	stats.NullCount = int64(nulls)
	va := 0
	pagesWritten := int32(0)
	var pageEnc format.Encoding
	for ra := 0; ra < n; ra += w.pageMax {
		rb := min(ra+w.pageMax, n)
		pageNulls := 0
		e.defs = e.defs[:0]
		if levels != nil {
			if ra == 0 && rb == n {
				pageNulls = nulls
			} else {
				for _, l := range levels[ra:rb] {
					pageNulls += int(1 - l)
				}
			}
			if pageNulls == 0 {
				e.defs = appendPresentLevels(e.defs, rb-ra)
			} else {
				var err error
				e.defs, err = (&rle.Encoding{BitWidth: 1}).EncodeLevels(e.defs, levels[ra:rb])
				if err != nil && w.err == nil {
					w.err = err
				}
			}
		}
		vb := va + (rb - ra) - pageNulls
		enc, mn, mx, encoding := values(va, vb)
		pageEnc = encoding
		encs.add(encoding)
		body := enc
		compressed := false
		if c.meta.Codec != format.Uncompressed && len(enc) > 0 {
			body = w.compress(c.meta.Codec, enc)
			compressed = true
		}
		hdr := &e.hdr // not a new one per page: marshal takes it as an interface
		*hdr = format.PageHeader{
			Type:                 format.DataPageV2,
			UncompressedPageSize: int32(len(e.defs) + len(enc)),  //nolint:gosec // pages are far below 2 GiB
			CompressedPageSize:   int32(len(e.defs) + len(body)), //nolint:gosec // idem
		}
		hdr.DataPageHeaderV2.Valid = true
		hdr.DataPageHeaderV2.V = format.DataPageHeaderV2{
			NumValues:                  int32(rb - ra), //nolint:gosec // <= pageMax
			NumNulls:                   int32(pageNulls),
			NumRows:                    int32(rb - ra), //nolint:gosec // <= pageMax
			Encoding:                   encoding,
			DefinitionLevelsByteLength: int32(len(e.defs)), //nolint:gosec // idem
		}
		hdr.DataPageHeaderV2.V.IsCompressed = thrift.Null[bool]{V: compressed, Valid: true}
		pageOffset := w.offset
		hsize := w.writePage(hdr, e.defs, body)
		c.meta.TotalUncompressedSize += hsize + int64(len(e.defs)+len(enc))
		c.meta.TotalCompressedSize += hsize + int64(len(e.defs)+len(body))
		c.oi.PageLocations = append(c.oi.PageLocations, format.PageLocation{
			Offset: pageOffset, CompressedPageSize: int32(hsize) + hdr.CompressedPageSize, //nolint:gosec // idem
			FirstRowIndex: int64(ra),
		})
		allNull := vb == va
		c.ci.NullPages = append(c.ci.NullPages, allNull)
		c.ci.NullCounts = append(c.ci.NullCounts, int64(pageNulls))
		if allNull {
			c.ci.MinValues = append(c.ci.MinValues, []byte{})
			c.ci.MaxValues = append(c.ci.MaxValues, []byte{})
		} else {
			if mn == nil { // only NaN (a required DOUBLE): no order to tell
				mn, mx = nanOf(c.meta.Type), nanOf(c.meta.Type)
				c.ci.MinValues = append(c.ci.MinValues, mn)
				c.ci.MaxValues = append(c.ci.MaxValues, mx)
			} else {
				c.ci.MinValues = append(c.ci.MinValues, mn)
				c.ci.MaxValues = append(c.ci.MaxValues, mx)
				if stats.MinValue == nil || w.less(c.meta.Type, mn, stats.MinValue) {
					stats.MinValue = mn
				}
				if stats.MaxValue == nil || w.less(c.meta.Type, stats.MaxValue, mx) {
					stats.MaxValue = mx
				}
			}
		}
		pagesWritten++
		va = vb
	}
	if va != present && w.err == nil {
		w.err = fmt.Errorf("column %v: %d values paged, %d present", c.meta.PathInSchema, va, present)
	}
	c.ci.BoundaryOrder = format.Unordered
	c.meta.Statistics = stats
	c.meta.EncodingStats = append(c.meta.EncodingStats, format.PageEncodingStats{
		PageType: format.DataPageV2, Encoding: pageEnc, Count: pagesWritten,
	})
	for _, enc := range []format.Encoding{format.Plain, format.RLE, format.RLEDictionary} {
		if encs.has(enc) {
			c.meta.Encoding = append(c.meta.Encoding, enc)
		}
	}
}

// appendPresentLevels appends the definition levels of n rows that are
// all present (1), the bytes parquet-go's rle encoder writes for them
// without reading n levels: a run of the multiple of eight rows below n,
// then a run of the rest (most pages of most columns have no nulls).
func appendPresentLevels(b []byte, n int) []byte {
	if m := n &^ 7; m > 0 {
		b = append(binary.AppendUvarint(b, uint64(m)<<1), 1) //nolint:gosec // n > 0
	}
	if r := n & 7; r > 0 {
		b = append(binary.AppendUvarint(b, uint64(r)<<1), 1) //nolint:gosec // idem
	}
	return b
}

// encodingSet is a set of the encodings a chunk uses.
type encodingSet uint32

func (s *encodingSet) add(e format.Encoding) { *s |= 1 << (uint(e) & 31) }

func (s encodingSet) has(e format.Encoding) bool { return s&(1<<(uint(e)&31)) != 0 }

// nanOf is the PLAIN bytes of a NaN of a floating type t.
func nanOf(t format.Type) []byte {
	if t == format.Float {
		return binary.LittleEndian.AppendUint32(nil, nanBits32)
	}
	return binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.NaN()))
}

// less compares two PLAIN-encoded statistics values of type t.
func (w *predWriter) less(t format.Type, a, b []byte) bool {
	switch t {
	case format.Float:
		return math.Float32frombits(binary.LittleEndian.Uint32(a)) < math.Float32frombits(binary.LittleEndian.Uint32(b))
	case format.Int32:
		return int32(binary.LittleEndian.Uint32(a)) < int32(binary.LittleEndian.Uint32(b)) //nolint:gosec // bit pattern
	case format.Double:
		return math.Float64frombits(binary.LittleEndian.Uint64(a)) < math.Float64frombits(binary.LittleEndian.Uint64(b))
	case format.Int64:
		return int64(binary.LittleEndian.Uint64(a)) < int64(binary.LittleEndian.Uint64(b)) //nolint:gosec // bit pattern
	default:
		return bytes.Compare(a, b) < 0
	}
}

func (w *predWriter) compress(codec format.CompressionCodec, src []byte) []byte {
	e := &w.enc
	switch codec {
	case format.Snappy:
		e.comp = s2.EncodeSnappy(e.comp[:cap(e.comp)], src)
	case format.Zstd:
		var err error
		e.comp, err = lakeZstd.Encode(e.comp, src)
		if err != nil && w.err == nil {
			w.err = err
		}
	default:
		panic(fmt.Sprintf("capture: codec %v", codec))
	}
	return e.comp
}

// writeDict32 writes the dictionary page of a 4-byte column.
func (w *predWriter) writeDict32(c *chunk, dict []uint32) {
	w.enc.values = appendU32(w.enc.values[:0], dict)
	w.writeDictPage(c, w.enc.values, len(dict))
}

func (w *predWriter) writeDict64(c *chunk, dict []uint64) {
	w.enc.values = appendU64(w.enc.values[:0], dict)
	w.writeDictPage(c, w.enc.values, len(dict))
}

// writeDictPage writes an uncompressed PLAIN dictionary page.
func (w *predWriter) writeDictPage(c *chunk, plain []byte, n int) {
	c.offset = w.offset
	c.meta.DictionaryPageOffset = w.offset
	hdr := &w.enc.hdr
	*hdr = format.PageHeader{
		Type:                 format.DictionaryPage,
		UncompressedPageSize: int32(len(plain)), //nolint:gosec // <= dictMaxEntries values
		CompressedPageSize:   int32(len(plain)), //nolint:gosec // idem
	}
	hdr.DictionaryPageHeader.Valid = true
	hdr.DictionaryPageHeader.V = format.DictionaryPageHeader{NumValues: int32(n), Encoding: format.Plain} //nolint:gosec // idem
	hsize := w.writePage(hdr, nil, plain)
	c.meta.TotalUncompressedSize += hsize + int64(len(plain))
	c.meta.TotalCompressedSize += hsize + int64(len(plain))
	c.meta.EncodingStats = append(c.meta.EncodingStats, format.PageEncodingStats{
		PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1,
	})
}

// writePage writes a page header and its body parts; it returns the
// header's size.
func (w *predWriter) writePage(hdr *format.PageHeader, parts ...[]byte) int64 {
	b, ok := appendPageHeader(w.enc.hbuf[:0], hdr)
	if ok {
		w.enc.hbuf = b
	} else {
		var err error
		if b, err = w.enc.marshal(hdr); err != nil {
			if w.err == nil {
				w.err = fmt.Errorf("page header: %w", err)
			}
			return 0
		}
	}
	w.write(b)
	for _, p := range parts {
		if len(p) > 0 {
			w.write(p)
		}
	}
	return int64(len(b))
}

// appendPageHeader appends hdr in thrift's compact protocol, the bytes
// parquet-go's thrift codec writes for it, when it is one of the two
// forms predWriter writes: a DATA_PAGE_V2 header (is_compressed set, no
// page statistics) or a DICTIONARY_PAGE header, without a CRC; false for
// anything else (the caller then marshals it). Every chunk writes one or
// two page headers per row group, some 110 with 50 features, and the
// codec's reflection costs 600 ns a header against 16 here
// (BenchmarkPageHeader): 8 ns a record at 8,192-row row groups.
// TestPageHeaderBytes holds the two to the same bytes.
func appendPageHeader(b []byte, hdr *format.PageHeader) ([]byte, bool) {
	if hdr.CRC != 0 || hdr.DataPageHeader.Valid || hdr.IndexPageHeader.Valid {
		return b, false
	}
	const (
		tBoolTrue  = 1
		tBoolFalse = 2
		tI32       = 5
		tI64       = 6
		tStruct    = 12
	)
	i32 := func(b []byte, delta byte, v int32) []byte {
		b = append(b, delta<<4|tI32)
		return binary.AppendUvarint(b, uint64(uint32(v<<1)^uint32(v>>31))) //nolint:gosec // zigzag
	}
	b = i32(b, 1, int32(hdr.Type))
	b = i32(b, 1, hdr.UncompressedPageSize)
	b = i32(b, 1, hdr.CompressedPageSize)
	switch {
	case hdr.Type == format.DataPageV2 && hdr.DataPageHeaderV2.Valid && !hdr.DictionaryPageHeader.Valid:
		v := &hdr.DataPageHeaderV2.V
		if !v.IsCompressed.Valid || v.Statistics.Max != nil || v.Statistics.Min != nil || v.Statistics.NullCount != 0 ||
			v.Statistics.DistinctCount != 0 || v.Statistics.MaxValue != nil || v.Statistics.MinValue != nil {
			return b, false
		}
		b = append(b, 5<<4|tStruct) // field 8
		b = i32(b, 1, v.NumValues)
		b = i32(b, 1, v.NumNulls)
		b = i32(b, 1, v.NumRows)
		b = i32(b, 1, int32(v.Encoding))
		b = i32(b, 1, v.DefinitionLevelsByteLength)
		b = i32(b, 1, v.RepetitionLevelsByteLength)
		if v.IsCompressed.V {
			b = append(b, 1<<4|tBoolTrue)
		} else {
			b = append(b, 1<<4|tBoolFalse)
		}
		// statistics (written even when empty: a null count of 0), then
		// the ends of statistics, the page header V2 and the header
		b = append(b, 1<<4|tStruct, 3<<4|tI64, 0, 0, 0, 0)
	case hdr.Type == format.DictionaryPage && hdr.DictionaryPageHeader.Valid && !hdr.DataPageHeaderV2.Valid:
		v := &hdr.DictionaryPageHeader.V
		b = append(b, 4<<4|tStruct) // field 7
		b = i32(b, 1, v.NumValues)
		b = i32(b, 1, int32(v.Encoding))
		if v.IsSorted {
			b = append(b, 1<<4|tBoolTrue)
		}
		b = append(b, 0, 0)
	default:
		return b, false
	}
	return b, true
}

// close flushes the last row group and writes the page indexes and the
// footer. The file is complete when it returns nil.
func (w *predWriter) close() error {
	if err := w.flushRowGroup(); err != nil {
		return err
	}
	for g := range w.rowGroups {
		for c := range w.rowGroups[g].Columns {
			b := appendColumnIndex(w.enc.hbuf[:0], &w.colIndex[g][c])
			w.enc.hbuf = b
			cc := &w.rowGroups[g].Columns[c]
			cc.ColumnIndexOffset, cc.ColumnIndexLength = w.offset, int32(len(b)) //nolint:gosec // small
			w.write(b)
		}
	}
	for g := range w.rowGroups {
		for c := range w.rowGroups[g].Columns {
			b := appendOffsetIndex(w.enc.hbuf[:0], &w.offIndex[g][c])
			w.enc.hbuf = b
			cc := &w.rowGroups[g].Columns[c]
			cc.OffsetIndexOffset, cc.OffsetIndexLength = w.offset, int32(len(b)) //nolint:gosec // small
			w.write(b)
		}
	}
	ft := w.schema.footer
	meta := format.FileMetaData{
		Version:      ft.Version,
		Schema:       ft.Schema,
		NumRows:      w.total,
		RowGroups:    w.rowGroups,
		CreatedBy:    ft.CreatedBy,
		ColumnOrders: ft.ColumnOrders,
	}
	b, err := w.enc.marshal(&meta)
	if err != nil {
		return fmt.Errorf("footer: %w", err)
	}
	w.write(b)
	w.write(binary.LittleEndian.AppendUint32(nil, uint32(len(b)))) //nolint:gosec // footers are small
	w.write([]byte("PAR1"))
	return w.err
}

// ---- dictionaries -----------------------------------------------------------------

// dictTable builds a chunk's dictionary of fixed-size values (their bits:
// -0 and +0, and every NaN payload, are distinct entries, so values read
// back bit for bit). Open addressing, linear probing; a slot holds the
// key beside its index+1 (0: empty), so that a probe reads one place.
type dictTable[K uint32 | uint64] struct {
	slots  []dictSlot[K]
	used   []uint16 // the slots in use, cleared for the next chunk
	values []K
}

type dictSlot[K uint32 | uint64] struct {
	key K
	n   int32 // index+1; 0: empty
}

const dictTableBits = 11 // 2048 slots for at most dictMaxEntries values

// build returns the dictionary of vals (a required column's: no nulls)
// and each value's index, or false when vals has more than dictMaxEntries
// distinct values. As dict32's, its loop holds the common case, a value
// found at its first slot, without calls.
func (t *dictTable[K]) build(vals []K, idxBuf *[]int32) ([]K, []int32, bool) {
	if t.slots == nil {
		t.slots = make([]dictSlot[K], 1<<dictTableBits)
	} else {
		// Only the slots used: most chunks use a few of the 2,048.
		for _, u := range t.used {
			t.slots[u] = dictSlot[K]{}
		}
	}
	t.used = t.used[:0]
	t.values = t.values[:0]
	idx := growI32(*idxBuf, len(vals))
	*idxBuf = idx
	idx = idx[:len(vals)]
	slots := t.slots[: 1<<dictTableBits : 1<<dictTableBits]
	for j := 0; j < len(vals); j++ {
		for ; j < len(vals); j++ {
			v := vals[j]
			s := slots[(uint64(v)*0x9E3779B97F4A7C15)>>(64-dictTableBits)]
			if s.key != v || s.n == 0 {
				break
			}
			idx[j] = s.n - 1
		}
		if j == len(vals) {
			break
		}
		i := t.insert(vals[j])
		if i < 0 {
			return nil, nil, false
		}
		idx[j] = i
	}
	return t.values, idx, true
}

// insert returns v's index, adding v if it is new; -1 when the dictionary
// is full.
//
//go:noinline
func (t *dictTable[K]) insert(v K) int32 {
	const mask = 1<<dictTableBits - 1
	for h := (uint64(v) * 0x9E3779B97F4A7C15) >> (64 - dictTableBits); ; h++ {
		s := &t.slots[h&mask]
		if s.key == v && s.n != 0 {
			return s.n - 1
		}
		if s.n == 0 {
			if len(t.values) == dictMaxEntries {
				return -1
			}
			t.values = append(t.values, v)
			t.used = append(t.used, uint16(h&mask))
			s.key = v
			s.n = int32(len(t.values)) //nolint:gosec // <= dictMaxEntries
			return s.n - 1
		}
	}
}

// levelsOf returns the definition levels of n rows whose nulls are at
// the positions nulls (ascending): a row of ones, with zeros copied in
// when there are nulls.
func (e *encScratch) levelsOf(n int, nulls []int32) []uint8 {
	if len(e.ones) < n {
		e.ones = make([]uint8, n)
		for i := range e.ones {
			e.ones[i] = 1
		}
	}
	if len(nulls) == 0 {
		return e.ones[:n]
	}
	lv := growU8(e.levels, n)
	e.levels = lv
	copy(lv, e.ones)
	for _, j := range nulls {
		lv[j] = 0
	}
	return lv
}

// dictIndexes encodes dictionary indexes as RLE_DICTIONARY data: the bit
// width of the dictionary's largest index, then the RLE/bit-packed hybrid
// (parquet-go's rle encoder).
func (w *predWriter) dictIndexes(dictLen int, idx []int32) []byte {
	e := &w.enc
	width := bits.Len32(uint32(max(dictLen-1, 0))) //nolint:gosec // <= dictMaxEntries
	if width == 0 {
		// A dictionary of one value: every index is 0, one run, the
		// bytes the encoder writes after reading all of them.
		e.rle = binary.AppendUvarint(append(e.rle[:0], 0), uint64(len(idx))<<1)
		return e.rle
	}
	// Room for the width byte and the worst case (every value bit-packed
	// at 32 bits, plus run headers), so that the encoder appends in place
	// after the width byte.
	if need := 1 + 5*len(idx) + 16; cap(e.rle) < need {
		e.rle = make([]byte, 0, need)
	}
	e.rle = append(e.rle[:0], byte(width))
	out, err := (&rle.Encoding{BitWidth: width}).EncodeInt32(e.rle[1:1], idx)
	if err != nil && w.err == nil {
		w.err = err
	}
	if len(out) > 0 && &out[0] == &e.rle[:2][1] {
		return e.rle[:1+len(out)]
	}
	e.values = append(append(e.values[:0], byte(width)), out...) // the encoder grew its own buffer
	return e.values
}

// ---- statistics -------------------------------------------------------------------

// minMax32 returns the PLAIN bytes of the least and greatest values of
// vals (or of dict[idx] when idx is not nil; with whole, of every dict
// entry, which are exactly the chunk's values), ignoring NaN; nil when
// there are none. Zeros follow the Parquet rule: a min of zero is -0, a
// max of zero is +0.
func minMax32(a *byteArena, kind numKind, vals []uint32, idx []int32, whole bool) ([]byte, []byte) {
	if !whole && idx != nil {
		sel := make([]uint32, len(idx))
		for k, i := range idx {
			sel[k] = vals[i]
		}
		vals = sel
	}
	// Compared as integers that order as the values do, with the min and
	// max builtins (conditional moves): a PLAIN feature chunk is 8,192
	// values, and the float compares' branches cost more.
	have := false
	mnk, mxk := uint32(math.MaxUint32), uint32(0)
	if kind == kindFloat {
		for _, b := range vals {
			if b&0x7fffffff > 0x7f800000 { // NaN: no order
				continue
			}
			k := floatKey32(b)
			mnk, mxk = min(mnk, k), max(mxk, k)
			have = true
		}
	} else {
		for _, b := range vals {
			k := b ^ 0x80000000 // int32 order
			mnk, mxk = min(mnk, k), max(mxk, k)
		}
		have = len(vals) > 0
	}
	if !have {
		return nil, nil
	}
	var mnb, mxb uint32
	if kind == kindFloat {
		mnb, mxb = floatBits32(mnk), floatBits32(mxk)
		if mnb&0x7fffffff == 0 {
			mnb = 0x80000000
		}
		if mxb&0x7fffffff == 0 {
			mxb = 0
		}
	} else {
		mnb, mxb = mnk^0x80000000, mxk^0x80000000
	}
	return a.u32(mnb), a.u32(mxb)
}

// floatKey32 maps the bits of a float32 that is not NaN to an integer of
// the same order (-0 just before +0); floatBits32 is its inverse.
func floatKey32(b uint32) uint32 { return b ^ (uint32(int32(b)>>31) | 0x80000000) } //nolint:gosec // sign mask

func floatBits32(k uint32) uint32 {
	if k&0x80000000 != 0 {
		return k ^ 0x80000000
	}
	return ^k
}

// floatKey64 and floatBits64 are floatKey32 and floatBits32 for float64.
func floatKey64(b uint64) uint64 { return b ^ (uint64(int64(b)>>63) | 1<<63) } //nolint:gosec // sign mask

func floatBits64(k uint64) uint64 {
	if k&(1<<63) != 0 {
		return k ^ 1<<63
	}
	return ^k
}

func minMax64(a *byteArena, kind numKind, vals []uint64, idx []int32, whole bool) ([]byte, []byte) {
	if !whole && idx != nil {
		sel := make([]uint64, len(idx))
		for k, i := range idx {
			sel[k] = vals[i]
		}
		vals = sel
	}
	have := false
	mnk, mxk := uint64(math.MaxUint64), uint64(0)
	if kind == kindDouble {
		for _, b := range vals {
			if b&0x7fffffffffffffff > 0x7ff0000000000000 { // NaN: no order
				continue
			}
			k := floatKey64(b)
			mnk, mxk = min(mnk, k), max(mxk, k)
			have = true
		}
	} else {
		for _, b := range vals {
			k := b ^ 1<<63 // int64 order
			mnk, mxk = min(mnk, k), max(mxk, k)
		}
		have = len(vals) > 0
	}
	if !have {
		return nil, nil
	}
	var mnb, mxb uint64
	if kind == kindDouble {
		mnb, mxb = floatBits64(mnk), floatBits64(mxk)
		if mnb&0x7fffffffffffffff == 0 {
			mnb = 0x8000000000000000
		}
		if mxb&0x7fffffffffffffff == 0 {
			mxb = 0
		}
	} else {
		mnb, mxb = mnk^1<<63, mxk^1<<63
	}
	return a.u64(mnb), a.u64(mxb)
}

// minMaxStr is minMax32 for a string dictionary: the bytes of the least
// and greatest strings (unsigned byte order).
func minMaxStr(a *byteArena, dict []string, idx []int32, whole bool) ([]byte, []byte) {
	var mn, mx string
	have := false
	consider := func(s string) {
		if !have || s < mn {
			mn = s
		}
		if !have || s > mx {
			mx = s
		}
		have = true
	}
	if whole {
		for _, s := range dict {
			consider(s)
		}
	} else {
		for _, i := range idx {
			consider(dict[i])
		}
	}
	if !have {
		return nil, nil
	}
	return a.copy(unsafe.Slice(unsafe.StringData(mn), len(mn))), a.copy(unsafe.Slice(unsafe.StringData(mx), len(mx))) // #nosec G103 -- only read
}

// minMaxPlainStr is the least and greatest values of PLAIN BYTE_ARRAY data.
// A value above the greatest so far is not compared with the least:
// generated ids mostly grow, so most values take one comparison.
func minMaxPlainStr(a *byteArena, data []byte) ([]byte, []byte) {
	var mn, mx []byte
	have := false
	for len(data) >= 4 {
		n := binary.LittleEndian.Uint32(data)
		v := data[4 : 4+n]
		data = data[4+n:]
		switch {
		case !have:
			mn, mx, have = v, v, true
		case compareBytes(v, mx) > 0:
			mx = v
		case compareBytes(v, mn) < 0:
			mn = v
		}
	}
	if !have {
		return nil, nil
	}
	return a.copy(mn), a.copy(mx)
}

// compareBytes is bytes.Compare, eight bytes at a time without a call:
// ids are a few dozen bytes and differ mostly at their ends, where a
// call's setup is most of the work.
func compareBytes(a, b []byte) int {
	for len(a) >= 8 && len(b) >= 8 {
		x, y := binary.BigEndian.Uint64(a), binary.BigEndian.Uint64(b)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
		a, b = a[8:], b[8:]
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// ---- buffers ----------------------------------------------------------------------

func growU8(b []uint8, n int) []uint8 {
	if cap(b) < n {
		return make([]uint8, n)
	}
	return b[:n]
}

func growU32(b []uint32, n int) []uint32 {
	if cap(b) < n {
		return make([]uint32, n)
	}
	return b[:n]
}

func growI32(b []int32, n int) []int32 {
	if cap(b) < n {
		return make([]int32, n)
	}
	return b[:n]
}

// appendU32 appends vals' PLAIN bytes; sized once, not append by append
// (a PLAIN chunk is up to 8,192 values, written every row group).
func appendU32(dst []byte, vals []uint32) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 4*len(vals))[:n+4*len(vals)]
	out := dst[n:]
	for i, v := range vals {
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return dst
}

func appendU64(dst []byte, vals []uint64) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 8*len(vals))[:n+8*len(vals)]
	out := dst[n:]
	for i, v := range vals {
		binary.LittleEndian.PutUint64(out[8*i:], v)
	}
	return dst
}
