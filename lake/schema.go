package lake

import (
	"fmt"
	"time"

	"github.com/parquet-go/parquet-go"
)

// OutcomeRow is one row of a ground-truth file. EventTime is when the
// outcome happened, as its sender said; ReceivedTime when leadscore
// received it, which decides the file's partition.
type OutcomeRow struct {
	EventTime    time.Time `parquet:"event_time,timestamp(microsecond)"`
	ReceivedTime time.Time `parquet:"received_time,timestamp(microsecond)"`
	InferenceID  string    `parquet:"inference_id,optional"`
	LeadID       string    `parquet:"lead_id,optional"`
	Converted    bool      `parquet:"converted"`
}

// CheckFeatureNames checks that features can be column names of a
// prediction file: not empty, not used twice, not Reserved.
func CheckFeatureNames(features []string) error {
	seen := make(map[string]bool, len(features))
	for i, f := range features {
		switch {
		case f == "":
			return fmt.Errorf("feature %d has an empty name", i)
		case seen[f] || Reserved(f):
			return fmt.Errorf("feature name %q is used twice or collides with a lake column", f)
		}
		seen[f] = true
	}
	return nil
}

// PredictionSchema is the Parquet schema of a prediction file for a model
// with these features: LeadColumns, one optional FLOAT column per feature
// in model order, then TailColumns. Leaf column i is the i-th of that
// list, so rows can be built positionally.
func PredictionSchema(features []string) (*parquet.Schema, error) {
	if err := CheckFeatureNames(features); err != nil {
		return nil, err
	}
	g := parquet.Group{
		ColEventTime:    parquet.Timestamp(parquet.Microsecond),
		ColRequestID:    parquet.String(),
		ColInferenceID:  parquet.String(),
		ColLeadID:       parquet.Optional(parquet.String()),
		ColModelName:    parquet.String(),
		ColModelVersion: parquet.String(),
		ColMargin:       parquet.Leaf(parquet.DoubleType),
		ColProbability:  parquet.Leaf(parquet.DoubleType),
		ColTier:         parquet.Leaf(parquet.Int32Type),
		ColLatencyMS:    parquet.Leaf(parquet.DoubleType),
		ColVariant:      parquet.Optional(parquet.String()),
		ColRole:         parquet.String(),
	}
	order := make([]string, 0, len(LeadColumns)+len(features)+len(TailColumns))
	order = append(order, LeadColumns[:]...)
	for _, f := range features {
		g[f] = parquet.Optional(parquet.Leaf(parquet.FloatType))
		order = append(order, f)
	}
	order = append(order, TailColumns[:]...)
	s := parquet.NewSchema("lead_score", orderedGroup{Group: g, order: order})
	for i, name := range order {
		leaf, ok := s.Lookup(name)
		if !ok || leaf.ColumnIndex != i {
			return nil, fmt.Errorf("parquet schema: column %q at index %d, want %d", name, leaf.ColumnIndex, i)
		}
	}
	return s, nil
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
