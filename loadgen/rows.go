package loadgen

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// demoLeads is the first 1,900 rows of the demo model's test set
// (models/lead-demo/leads_10k.csv in the shared fixtures) without its label
// column, made with:
//
//	head -n 1901 leads_10k.csv | cut -d, -f1-50 > demo_leads.csv
//
//go:embed demo_leads.csv
var demoLeads []byte

// labelColumn is the demo data's outcome column; ReadRows drops it from CSV
// input so the demo files can be used as they are.
const labelColumn = "converted"

// Row is one lead's feature values in model order; NaN marks a missing value,
// which is sent as null.
type Row []float64

// DemoRows returns the embedded demo leads: 1,900 rows of the demo model's
// 50 features. Each call returns fresh slices the caller may modify.
func DemoRows() ([]Row, error) {
	rows, err := ReadRows(bytes.NewReader(demoLeads))
	if err != nil {
		return nil, fmt.Errorf("embedded demo leads: %w", err)
	}
	return rows, nil
}

// ReadRows reads leads from r, which holds either a JSON array of rows (each
// an array of numbers, null for missing) or CSV with a header row (an empty
// cell, "nan" or "null" for missing; a column named "converted" is dropped).
// Every row must have the same, non-zero number of values.
func ReadRows(r io.Reader) ([]Row, error) {
	br := bufio.NewReader(r)
	first, err := firstNonSpace(br)
	if err != nil {
		return nil, err
	}
	var rows []Row
	if first == '[' {
		rows, err = readJSONRows(br)
	} else {
		rows, err = readCSVRows(br)
	}
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errors.New("no rows")
	}
	width := len(rows[0])
	for i, row := range rows {
		if len(row) == 0 || len(row) != width {
			return nil, fmt.Errorf("row %d has %d values, want %d like row 0", i, len(row), width)
		}
	}
	return rows, nil
}

// firstNonSpace peeks at the first byte that is not white space.
func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return 0, errors.New("no rows: empty input")
		}
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case 0xEF: // UTF-8 byte order mark
			_, _ = br.Discard(2)
			continue
		}
		return b, br.UnreadByte()
	}
}

func readJSONRows(r io.Reader) ([]Row, error) {
	var raw [][]*float64
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("JSON rows: want an array of arrays of numbers or null: %w", err)
	}
	rows := make([]Row, len(raw))
	for i, in := range raw {
		row := make(Row, len(in))
		for j, v := range in {
			if v == nil {
				row[j] = math.NaN()
			} else {
				row[j] = *v
			}
		}
		rows[i] = row
	}
	return rows, nil
}

func readCSVRows(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	rec, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	header := slices.Clone(rec) // Read reuses rec
	drop := -1
	for i, name := range header {
		if strings.TrimSpace(name) == labelColumn {
			drop = i
		}
	}
	var rows []Row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		row := make(Row, 0, len(rec))
		for i, cell := range rec {
			if i == drop {
				continue
			}
			v, err := parseCell(cell)
			if err != nil {
				return nil, fmt.Errorf("CSV line %d, column %q: %w", line, header[i], err)
			}
			row = append(row, v)
		}
		rows = append(rows, row)
	}
}

// parseCell parses one CSV value; empty, "nan" and "null" are missing.
func parseCell(s string) (float64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "nan", "null":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a finite number", s)
	}
	return v, nil
}

// Body sizing: enough distinct bodies that the server does not see one
// request over and over, few enough that building them is quick.
const (
	maxBodies     = 512
	bodyByteQuota = 8 << 20
)

// Bodies encodes request bodies in the /score format, a JSON array of
// arrays of numbers (null for missing), each holding batch consecutive rows
// (wrapping around at the end). Bodies start at offsets spread evenly over
// rows; there are at most 512 of them and about 8 MB in all, at least one.
func Bodies(rows []Row, batch int) ([][]byte, error) {
	if len(rows) == 0 {
		return nil, errors.New("no rows")
	}
	if batch < 1 {
		return nil, fmt.Errorf("batch size %d, want at least 1", batch)
	}
	first := appendBody(nil, rows, 0, batch)
	n := min(maxBodies, len(rows), max(1, bodyByteQuota/len(first)))
	bodies := make([][]byte, n)
	bodies[0] = first
	for k := 1; k < n; k++ {
		bodies[k] = appendBody(make([]byte, 0, len(first)+len(first)/8), rows, k*len(rows)/n, batch)
	}
	return bodies, nil
}

// appendBody appends the JSON of batch rows starting at rows[start].
func appendBody(b []byte, rows []Row, start, batch int) []byte {
	b = append(b, '[')
	for k := range batch {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, v := range rows[(start+k)%len(rows)] {
			if j > 0 {
				b = append(b, ',')
			}
			if math.IsNaN(v) {
				b = append(b, "null"...)
			} else {
				b = strconv.AppendFloat(b, v, 'g', -1, 64)
			}
		}
		b = append(b, ']')
	}
	return append(b, ']')
}
