package capture

import (
	"fmt"
	"math"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore"
	lakefmt "github.com/leadscore/leadscore/lake"
)

// nLead and nTail count the fixed columns of a prediction file before and
// after the features (lakefmt.LeadColumns, lakefmt.TailColumns).
const (
	nLead = len(lakefmt.LeadColumns)
	nTail = len(lakefmt.TailColumns)
)

// Values of the role column.
var (
	roleLive   = []byte(lakefmt.RoleLive)
	roleShadow = []byte(lakefmt.RoleShadow)
)

// lakeSchema is the Parquet schema for one feature list.
type lakeSchema struct {
	features []string
	schema   *parquet.Schema
}

// validateFeatures checks that names can be column names of the lake and
// that a journal header can hold them.
func validateFeatures(features []string) error {
	if len(features) > maxFeatures {
		return fmt.Errorf("%d features, at most %d", len(features), maxFeatures)
	}
	return lakefmt.CheckFeatureNames(features)
}

// newLakeSchema builds the schema for features (validated by the caller).
func newLakeSchema(features []string) (*lakeSchema, error) {
	s, err := lakefmt.PredictionSchema(features)
	if err != nil {
		return nil, err
	}
	return &lakeSchema{features: features, schema: s}, nil
}

// columns is the number of leaf columns.
func (s *lakeSchema) columns() int { return nLead + len(s.features) + nTail }

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
