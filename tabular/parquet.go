package tabular

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/parquet-go/parquet-go"
)

// MaxParquetBytes bounds a Parquet input, which is read into memory.
const MaxParquetBytes = 1 << 30

// ReadParquet reads rows from a Parquet file whose leaf columns are matched
// to features by name (the last element of the column path). Every feature
// must have a column; other columns are ignored, except numeric ones which
// are kept in Table.Extra. Float, double, integer and boolean columns are
// accepted; a null is a missing value.
func ReadParquet(r io.Reader, features []string, lim Limits) (*Table, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxParquetBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxParquetBytes {
		return nil, fmt.Errorf("parquet input is larger than %d bytes", MaxParquetBytes)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	index := make(map[string]int, len(features))
	for i, f := range features {
		index[f] = i
	}
	cols := pf.Schema().Columns()
	colOf := make([]int, len(cols))
	found := make([]bool, len(features))
	t := &Table{Cols: len(features), Extra: map[string][]float64{}}
	var extraNames []string
	for c, path := range cols {
		name := path[len(path)-1]
		i, ok := index[name]
		if !ok || found[i] {
			extraNames = append(extraNames, name)
			colOf[c] = -len(extraNames)
			continue
		}
		found[i] = true
		colOf[c] = i
	}
	if missing := absent(features, found); missing != "" {
		return nil, &InputError{Row: -1, Col: -1, Msg: missing}
	}
	rd := parquet.NewReader(pf)
	defer func() { _ = rd.Close() }()
	batch := make([]parquet.Row, 256)
	for {
		n, err := rd.ReadRows(batch)
		for _, row := range batch[:n] {
			if lim.MaxRows > 0 && t.Rows >= lim.MaxRows {
				return nil, &InputError{Row: t.Rows, Col: -1, Msg: fmt.Sprintf("more than %d rows", lim.MaxRows)}
			}
			start := len(t.Values)
			t.Values = append(t.Values, make([]float32, len(features))...)
			out := t.Values[start:]
			for i := range out {
				out[i] = nan32
			}
			for _, v := range row {
				c := v.Column()
				if c < 0 || c >= len(colOf) {
					continue
				}
				x, ok, verr := numeric(v)
				if colOf[c] < 0 {
					if verr == nil {
						name := extraNames[-colOf[c]-1]
						if !ok {
							x = math.NaN()
						}
						t.Extra[name] = append(t.Extra[name], x)
					}
					continue
				}
				if verr != nil {
					return nil, &InputError{Row: t.Rows, Col: c, Msg: fmt.Sprintf("%s: %v", features[colOf[c]], verr)}
				}
				if ok {
					f := float32(x)
					if math.IsInf(float64(f), 0) || math.IsNaN(x) {
						return nil, &InputError{Row: t.Rows, Col: c, Msg: fmt.Sprintf("%s: %v is not a finite float32", features[colOf[c]], x)}
					}
					out[colOf[c]] = f
				}
			}
			t.Rows++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &InputError{Row: t.Rows, Col: -1, Msg: err.Error()}
		}
	}
	return t, nil
}

// numeric converts a Parquet value; ok is false for null.
func numeric(v parquet.Value) (x float64, ok bool, err error) {
	if v.IsNull() {
		return 0, false, nil
	}
	switch v.Kind() {
	case parquet.Float:
		return float64(v.Float()), true, nil
	case parquet.Double:
		return v.Double(), true, nil
	case parquet.Int32:
		return float64(v.Int32()), true, nil
	case parquet.Int64:
		return float64(v.Int64()), true, nil
	case parquet.Boolean:
		if v.Boolean() {
			return 1, true, nil
		}
		return 0, true, nil
	}
	return 0, false, fmt.Errorf("column of type %v is not numeric", v.Kind())
}
