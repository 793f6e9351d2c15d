// Package tabular reads feature rows from files: JSON arrays of rows, CSV
// with an optional header, and Parquet. Rows come back as one row-major
// float32 matrix with NaN for missing values, ready to score.
package tabular

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Table is a matrix of feature rows.
type Table struct {
	// Values holds Rows*Cols values, row-major; NaN marks a missing value.
	Values []float32
	Rows   int
	Cols   int
	// Extra holds columns of a named input that are not features (such as
	// a label), by name, NaN where empty.
	Extra map[string][]float64
}

// Row returns row i.
func (t *Table) Row(i int) []float32 { return t.Values[i*t.Cols : (i+1)*t.Cols] }

// InputError is a problem with the input data, located by row and column
// (0-based; -1 when not applicable).
type InputError struct {
	Row, Col int
	Msg      string
}

func (e *InputError) Error() string {
	switch {
	case e.Row >= 0 && e.Col >= 0:
		return fmt.Sprintf("row %d, column %d: %s", e.Row, e.Col, e.Msg)
	case e.Row >= 0:
		return fmt.Sprintf("row %d: %s", e.Row, e.Msg)
	}
	return e.Msg
}

// Limits bound what a reader accepts.
type Limits struct {
	MaxRows int // 0 means no limit
}

var nan32 = float32(math.NaN())

// parseValue parses one numeric field. Empty means missing. Values outside
// float32's range are an error, as are NaN and infinity spelled out.
func parseValue(s string) (float32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nan32, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a finite number", s)
	}
	f := float32(v)
	if math.IsInf(float64(f), 0) {
		return 0, fmt.Errorf("%s is outside the float32 range", s)
	}
	return f, nil
}

// ReadCSV reads comma-separated rows. When the first line is a header (any
// field is not a number), columns are matched to features by name: every
// feature must be present, and other columns are kept in Table.Extra.
// Without a header each line must hold exactly len(features) fields in
// model order. An empty field means missing.
func ReadCSV(r io.Reader, features []string, lim Limits) (*Table, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	t := &Table{Cols: len(features)}
	var colOf []int // input column -> feature index, or -1
	var extraNames []string
	line := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &InputError{Row: t.Rows, Col: -1, Msg: err.Error()}
		}
		if line == 0 && isHeader(rec) {
			line++
			colOf, extraNames, err = matchHeader(rec, features)
			if err != nil {
				return nil, err
			}
			t.Extra = make(map[string][]float64, len(extraNames))
			continue
		}
		line++
		if lim.MaxRows > 0 && t.Rows >= lim.MaxRows {
			return nil, &InputError{Row: t.Rows, Col: -1, Msg: fmt.Sprintf("more than %d rows", lim.MaxRows)}
		}
		if colOf == nil {
			if len(rec) != len(features) {
				return nil, &InputError{Row: t.Rows, Col: -1, Msg: fmt.Sprintf("has %d fields, the model has %d features", len(rec), len(features))}
			}
			for j, s := range rec {
				v, err := parseValue(s)
				if err != nil {
					return nil, &InputError{Row: t.Rows, Col: j, Msg: err.Error()}
				}
				t.Values = append(t.Values, v)
			}
		} else {
			if len(rec) != len(colOf) {
				return nil, &InputError{Row: t.Rows, Col: -1, Msg: fmt.Sprintf("has %d fields, the header %d", len(rec), len(colOf))}
			}
			start := len(t.Values)
			t.Values = append(t.Values, make([]float32, len(features))...)
			row := t.Values[start:]
			for j, s := range rec {
				if colOf[j] < 0 {
					v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
					if err != nil {
						v = math.NaN()
					}
					name := extraNames[-colOf[j]-1]
					t.Extra[name] = append(t.Extra[name], v)
					continue
				}
				v, err := parseValue(s)
				if err != nil {
					return nil, &InputError{Row: t.Rows, Col: j, Msg: fmt.Sprintf("%s: %v", features[colOf[j]], err)}
				}
				row[colOf[j]] = v
			}
		}
		t.Rows++
	}
	return t, nil
}

// isHeader reports whether a CSV record names columns rather than holding
// values.
func isHeader(rec []string) bool {
	for _, s := range rec {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return true
		}
	}
	return false
}

// matchHeader maps header columns to feature indexes; a non-feature column
// k is mapped to -(k+1) into the returned extra names.
func matchHeader(rec []string, features []string) ([]int, []string, error) {
	index := make(map[string]int, len(features))
	for i, f := range features {
		index[f] = i
	}
	colOf := make([]int, len(rec))
	found := make([]bool, len(features))
	var extra []string
	for j, name := range rec {
		name = strings.TrimSpace(name)
		i, ok := index[name]
		if !ok {
			extra = append(extra, name)
			colOf[j] = -len(extra)
			continue
		}
		if found[i] {
			return nil, nil, &InputError{Row: -1, Col: j, Msg: fmt.Sprintf("header: column %q appears twice", name)}
		}
		found[i] = true
		colOf[j] = i
	}
	if missing := absent(features, found); missing != "" {
		return nil, nil, &InputError{Row: -1, Col: -1, Msg: "header: " + missing}
	}
	return colOf, extra, nil
}

// absent names every feature without a column ("" when none is), so that
// a file's user fixes all of them at once.
func absent(features []string, found []bool) string {
	var names []string
	for i, ok := range found {
		if !ok {
			names = append(names, strconv.Quote(features[i]))
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return "feature " + names[0] + " has no column"
	}
	return fmt.Sprintf("%d features have no column: %s", len(names), strings.Join(names, ", "))
}
