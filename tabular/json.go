package tabular

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ReadJSON reads a JSON array of rows, each an array of cols numbers with
// null for a missing value.
func ReadJSON(r io.Reader, cols int, lim Limits) (*Table, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	dec.UseNumber()
	t := &Table{Cols: cols}
	if err := expectDelim(dec, '[', -1); err != nil {
		return nil, err
	}
	for dec.More() {
		if lim.MaxRows > 0 && t.Rows >= lim.MaxRows {
			return nil, &InputError{Row: t.Rows, Col: -1, Msg: fmt.Sprintf("more than %d rows", lim.MaxRows)}
		}
		if err := expectDelim(dec, '[', t.Rows); err != nil {
			return nil, err
		}
		n := 0
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, &InputError{Row: t.Rows, Col: n, Msg: err.Error()}
			}
			if n >= cols {
				return nil, &InputError{Row: t.Rows, Col: -1, Msg: fmt.Sprintf("has more than %d values", cols)}
			}
			var v float32
			switch x := tok.(type) {
			case nil:
				v = nan32
			case json.Number:
				if v, err = parseValue(string(x)); err != nil {
					return nil, &InputError{Row: t.Rows, Col: n, Msg: err.Error()}
				}
			default:
				return nil, &InputError{Row: t.Rows, Col: n, Msg: fmt.Sprintf("%v is not a number or null", x)}
			}
			t.Values = append(t.Values, v)
			n++
		}
		if n != cols {
			return nil, &InputError{Row: t.Rows, Col: -1, Msg: fmt.Sprintf("has %d values, the model has %d features", n, cols)}
		}
		if _, err := dec.Token(); err != nil {
			return nil, &InputError{Row: t.Rows, Col: -1, Msg: err.Error()}
		}
		t.Rows++
	}
	if _, err := dec.Token(); err != nil {
		return nil, &InputError{Row: t.Rows, Col: -1, Msg: err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &InputError{Row: -1, Col: -1, Msg: "unexpected data after the array of rows"}
	}
	return t, nil
}

func expectDelim(dec *json.Decoder, want json.Delim, row int) error {
	tok, err := dec.Token()
	if err != nil {
		return &InputError{Row: row, Col: -1, Msg: err.Error()}
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		what := "the input"
		if row >= 0 {
			what = "a row"
		}
		return &InputError{Row: row, Col: -1, Msg: fmt.Sprintf("%s must be a JSON array, found %v", what, tok)}
	}
	return nil
}
