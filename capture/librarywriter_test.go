package capture

import (
	"io"
	"math"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore"
	lakefmt "github.com/leadscore/leadscore/lake"
)

// libraryWriter is the lake's writer before predWriter: parquet-go's
// GenericWriter fed parquet.Values column by column, zstd throughout, the
// options the lake used. Kept as the reference BenchmarkLakeCPU and
// BenchmarkFileWriter compare predWriter with, and as a second writer the
// read-back tests can check against.
type libraryWriter struct {
	w       *parquet.GenericWriter[any]
	cb      colBuilder
	s       *lakeSchema
	inGroup int
	rowsMax int
}

func newLibraryWriter(out io.Writer, s *lakeSchema, rowGroupRows int) lakeFileWriter {
	w := &libraryWriter{s: s, rowsMax: rowGroupRows}
	w.w = parquet.NewGenericWriter[any](out, s.schema,
		parquet.Compression(lakeZstd),
		parquet.MaxRowsPerRowGroup(int64(rowGroupRows)),
		parquet.DataPageStatistics(false),
	)
	w.cb = colBuilder{cols: make([][]parquet.Value, s.columns())}
	return w
}

const libraryPending = 256 // records gathered before they go to the column writers, as the lake did

func (w *libraryWriter) add(r *leadscore.Record) {
	w.cb.add(w.s, r)
	if w.cb.n == libraryPending {
		_ = w.writeColumns()
	}
}

func (w *libraryWriter) addRun(recs []leadscore.Record) {
	for i := range recs {
		w.add(&recs[i])
	}
}

func (w *libraryWriter) buffered() int { return w.inGroup + w.cb.n }

func (w *libraryWriter) writeColumns() error {
	cws := w.w.ColumnWriters()
	for i, vals := range w.cb.cols {
		if _, err := cws[i].WriteRowValues(vals); err != nil {
			return err
		}
	}
	w.inGroup += w.cb.n
	w.cb.reset()
	return nil
}

func (w *libraryWriter) flushRowGroup() error {
	if err := w.writeColumns(); err != nil {
		return err
	}
	w.inGroup = 0
	return w.w.Flush()
}

func (w *libraryWriter) close() error {
	if err := w.writeColumns(); err != nil {
		return err
	}
	return w.w.Close()
}

func (w *libraryWriter) Size() int64 { return w.w.Size() }

// Values of the role column.
var (
	roleLive   = []byte(lakefmt.RoleLive)
	roleShadow = []byte(lakefmt.RoleShadow)
)

// colBuilder gathers records column by column, ready for each column's
// ColumnWriter.WriteRowValues: no row assembly, no per-row splitting by
// the writer. Strings are copied into a reusable arena, so that adding a
// record does not allocate once the buffers have grown.
type colBuilder struct {
	cols  [][]parquet.Value // one slice per leaf column, one value per record
	arena []byte
	n     int // records added since the last reset
}

func (b *colBuilder) bytes(s string) []byte {
	start := len(b.arena)
	b.arena = append(b.arena, s...)
	return b.arena[start:len(b.arena):len(b.arena)]
}

// reset forgets the records added; their values are invalid after.
func (b *colBuilder) reset() {
	for i := range b.cols {
		b.cols[i] = b.cols[i][:0]
	}
	b.arena = b.arena[:0]
	b.n = 0
}

// val sets v's definition level (what parquet-go's optional columns read)
// and appends it to column col.
func (b *colBuilder) val(col int, v parquet.Value, def int) {
	v.SetDefinitionLevel(def)
	b.cols[col] = append(b.cols[col], v)
}

// add appends r's values, one to each column. r.Features must have
// len(s.features) values.
func (b *colBuilder) add(s *lakeSchema, r *leadscore.Record) {
	if len(b.cols) != s.columns() {
		b.cols = make([][]parquet.Value, s.columns())
	}
	b.val(0, parquet.Int64Value(r.Time.UnixMicro()), 0)
	b.val(1, parquet.ByteArrayValue(b.bytes(r.RequestID)), 0)
	b.val(2, parquet.ByteArrayValue(b.bytes(r.InferenceID)), 0)
	if r.LeadID == "" {
		b.val(3, parquet.NullValue(), 0)
	} else {
		b.val(3, parquet.ByteArrayValue(b.bytes(r.LeadID)), 1)
	}
	b.val(4, parquet.ByteArrayValue(b.bytes(r.Model)), 0)
	b.val(5, parquet.ByteArrayValue(b.bytes(r.ModelVersion)), 0)
	for i, v := range r.Features {
		if v != v { // NaN: missing
			b.val(nLead+i, parquet.NullValue(), 0)
		} else {
			b.val(nLead+i, parquet.FloatValue(v), 1)
		}
	}
	c := nLead + len(s.features)
	tier := r.Tier
	if tier > math.MaxInt32 || tier < math.MinInt32 {
		tier = 0
	}
	b.val(c, parquet.DoubleValue(r.Margin), 0)
	b.val(c+1, parquet.DoubleValue(r.Probability), 0)
	b.val(c+2, parquet.Int32Value(int32(tier)), 0) //nolint:gosec // clamped above
	b.val(c+3, parquet.DoubleValue(r.LatencyMS), 0)
	if r.Variant == "" {
		b.val(c+4, parquet.NullValue(), 0)
	} else {
		b.val(c+4, parquet.ByteArrayValue(b.bytes(r.Variant)), 1)
	}
	role := roleLive
	if r.Shadow {
		role = roleShadow
	}
	b.val(c+5, parquet.ByteArrayValue(role), 0)
	b.n++
}
