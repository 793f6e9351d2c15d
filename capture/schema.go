package capture

import (
	"fmt"
	"math"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore"
)

// Fixed columns of every lake file, in file order. The feature columns sit
// between model_version and margin, in model order. variant (null with a
// single model) and role ("live" or "shadow") name the variant that
// scored the row; a shadow row shares its inference_id with the live one.
const (
	colEventTime    = "event_time"
	colRequestID    = "request_id"
	colInferenceID  = "inference_id"
	colLeadID       = "lead_id"
	colModelName    = "model_name"
	colModelVersion = "model_version"
	colMargin       = "margin"
	colProbability  = "probability"
	colTier         = "tier"
	colLatencyMS    = "latency_ms"
	colVariant      = "variant"
	colRole         = "role"

	// nLead and nTail count the fixed columns before and after the
	// features.
	nLead = 6
	nTail = 6
)

// Values of the role column.
var (
	roleLive   = []byte("live")
	roleShadow = []byte("shadow")
)

// reservedNames may not be used as feature names: the fixed columns and
// the Hive partition keys.
var reservedNames = [...]string{
	colEventTime, colRequestID, colInferenceID, colLeadID, colModelName,
	colModelVersion, colMargin, colProbability, colTier, colLatencyMS, colVariant, colRole,
	"dt", "hour",
}

// lakeSchema is the Parquet schema for one feature list.
type lakeSchema struct {
	features []string
	schema   *parquet.Schema
}

// orderedGroup is a parquet.Group whose fields keep an explicit order
// (parquet.Group sorts them by name), so that the file's columns read in
// the order analysts expect.
type orderedGroup struct {
	parquet.Group
	order []string
}

// Fields returns the group's fields in g.order.
func (g orderedGroup) Fields() []parquet.Field {
	all := g.Group.Fields()
	byName := make(map[string]parquet.Field, len(all))
	for _, f := range all {
		byName[f.Name()] = f
	}
	out := make([]parquet.Field, 0, len(g.order))
	for _, name := range g.order {
		out = append(out, byName[name])
	}
	return out
}

// validateFeatures checks that names can be column names of the lake.
func validateFeatures(features []string) error {
	if len(features) > maxFeatures {
		return fmt.Errorf("%d features, at most %d", len(features), maxFeatures)
	}
	seen := make(map[string]bool, len(features)+len(reservedNames))
	for _, r := range reservedNames {
		seen[r] = true
	}
	for i, f := range features {
		switch {
		case f == "":
			return fmt.Errorf("feature %d has an empty name", i)
		case seen[f]:
			return fmt.Errorf("feature name %q is used twice or collides with a lake column", f)
		}
		seen[f] = true
	}
	return nil
}

// newLakeSchema builds the schema for features (validated by the caller).
func newLakeSchema(features []string) (*lakeSchema, error) {
	g := parquet.Group{
		colEventTime:    parquet.Timestamp(parquet.Microsecond),
		colRequestID:    parquet.String(),
		colInferenceID:  parquet.String(),
		colLeadID:       parquet.Optional(parquet.String()),
		colModelName:    parquet.String(),
		colModelVersion: parquet.String(),
		colMargin:       parquet.Leaf(parquet.DoubleType),
		colProbability:  parquet.Leaf(parquet.DoubleType),
		colTier:         parquet.Leaf(parquet.Int32Type),
		colLatencyMS:    parquet.Leaf(parquet.DoubleType),
		colVariant:      parquet.Optional(parquet.String()),
		colRole:         parquet.String(),
	}
	order := make([]string, 0, nLead+len(features)+nTail)
	order = append(order, colEventTime, colRequestID, colInferenceID, colLeadID, colModelName, colModelVersion)
	for _, f := range features {
		g[f] = parquet.Optional(parquet.Leaf(parquet.FloatType))
		order = append(order, f)
	}
	order = append(order, colMargin, colProbability, colTier, colLatencyMS, colVariant, colRole)
	s := parquet.NewSchema("lead_score", orderedGroup{Group: g, order: order})
	// Rows are built positionally: make sure the column indexes are the
	// order above.
	for i, name := range order {
		leaf, ok := s.Lookup(name)
		if !ok || leaf.ColumnIndex != i {
			return nil, fmt.Errorf("parquet schema: column %q at index %d, want %d", name, leaf.ColumnIndex, i)
		}
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
