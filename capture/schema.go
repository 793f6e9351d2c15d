package capture

import (
	"bytes"
	"fmt"

	lakefmt "github.com/leadscore/leadscore/lake"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// nLead and nTail count the fixed columns of a prediction file before and
// after the features (lakefmt.LeadColumns, lakefmt.TailColumns).
const (
	nLead = len(lakefmt.LeadColumns)
	nTail = len(lakefmt.TailColumns)
)

// lakeSchema is the Parquet schema for one feature list.
type lakeSchema struct {
	features []string
	schema   *parquet.Schema
	names    []string // leaf column names, in order
	// footer holds what parquet-go writes in a file's metadata for this
	// schema (version, schema elements, created_by, column orders), which
	// predWriter repeats: the files' schema is the library's own.
	footer format.FileMetaData
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
	ls := &lakeSchema{features: features, schema: s}
	for _, col := range s.Columns() {
		ls.names = append(ls.names, col[len(col)-1])
	}
	if ls.footer, err = libraryFooter(s); err != nil {
		return nil, err
	}
	if len(ls.names) != ls.columns() {
		return nil, fmt.Errorf("parquet schema: %d leaf columns, want %d", len(ls.names), ls.columns())
	}
	return ls, nil
}

// libraryFooter is the metadata of an empty file parquet-go writes for s.
func libraryFooter(s *parquet.Schema) (format.FileMetaData, error) {
	var buf bytes.Buffer
	if err := parquet.NewGenericWriter[any](&buf, s).Close(); err != nil {
		return format.FileMetaData{}, fmt.Errorf("parquet schema: %w", err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return format.FileMetaData{}, fmt.Errorf("parquet schema: %w", err)
	}
	m := *f.Metadata()
	if len(m.ColumnOrders) == 0 {
		return format.FileMetaData{}, fmt.Errorf("parquet schema: parquet-go wrote no column orders")
	}
	return format.FileMetaData{Version: m.Version, Schema: m.Schema, CreatedBy: m.CreatedBy, ColumnOrders: m.ColumnOrders}, nil
}

// columns is the number of leaf columns.
func (s *lakeSchema) columns() int { return nLead + len(s.features) + nTail }
