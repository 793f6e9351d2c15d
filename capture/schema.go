package capture

import (
	"fmt"
	"math"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore"
)

// Fixed columns of every lake file, in file order. The feature columns sit
// between model_version and margin, in model order.
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

	// nLead and nTail count the fixed columns before and after the
	// features.
	nLead = 6
	nTail = 4
)

// reservedNames may not be used as feature names: the fixed columns and
// the Hive partition keys.
var reservedNames = [...]string{
	colEventTime, colRequestID, colInferenceID, colLeadID, colModelName,
	colModelVersion, colMargin, colProbability, colTier, colLatencyMS,
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
	}
	order := make([]string, 0, nLead+len(features)+nTail)
	order = append(order, colEventTime, colRequestID, colInferenceID, colLeadID, colModelName, colModelVersion)
	for _, f := range features {
		g[f] = parquet.Optional(parquet.Leaf(parquet.FloatType))
		order = append(order, f)
	}
	order = append(order, colMargin, colProbability, colTier, colLatencyMS)
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

// rowBuilder turns records into parquet rows, copying strings into a
// reusable arena so that building a row does not allocate.
type rowBuilder struct {
	arena []byte
}

func (b *rowBuilder) bytes(s string) []byte {
	start := len(b.arena)
	b.arena = append(b.arena, s...)
	return b.arena[start:len(b.arena):len(b.arena)]
}

// reset forgets the arena's contents; rows built before are invalid after.
func (b *rowBuilder) reset() { b.arena = b.arena[:0] }

// put appends v with its definition level and column index. (Cheaper
// than Value.Level, which the compiler does not inline.)
func put(row parquet.Row, v parquet.Value, def, col int) parquet.Row {
	v.SetDefinitionLevel(def)
	v.SetColumnIndex(col)
	return append(row, v)
}

// build appends r's values to row[:0] in column order. r.Features must have
// len(s.features) values.
func (b *rowBuilder) build(row parquet.Row, s *lakeSchema, r *leadscore.Record) parquet.Row {
	row = row[:0]
	row = put(row, parquet.Int64Value(r.Time.UnixMicro()), 0, 0)
	row = put(row, parquet.ByteArrayValue(b.bytes(r.RequestID)), 0, 1)
	row = put(row, parquet.ByteArrayValue(b.bytes(r.InferenceID)), 0, 2)
	if r.LeadID == "" {
		row = put(row, parquet.NullValue(), 0, 3)
	} else {
		row = put(row, parquet.ByteArrayValue(b.bytes(r.LeadID)), 1, 3)
	}
	row = put(row, parquet.ByteArrayValue(b.bytes(r.Model)), 0, 4)
	row = put(row, parquet.ByteArrayValue(b.bytes(r.ModelVersion)), 0, 5)
	for i, v := range r.Features {
		if v != v { // NaN: missing
			row = put(row, parquet.NullValue(), 0, nLead+i)
		} else {
			row = put(row, parquet.FloatValue(v), 1, nLead+i)
		}
	}
	c := nLead + len(s.features)
	tier := r.Tier
	if tier > math.MaxInt32 || tier < math.MinInt32 {
		tier = 0
	}
	row = put(row, parquet.DoubleValue(r.Margin), 0, c)
	row = put(row, parquet.DoubleValue(r.Probability), 0, c+1)
	row = put(row, parquet.Int32Value(int32(tier)), 0, c+2) //nolint:gosec // clamped above
	row = put(row, parquet.DoubleValue(r.LatencyMS), 0, c+3)
	return row
}
