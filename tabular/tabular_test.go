package tabular

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

var names = []string{"a", "b", "c"}

func isNaN(v float32) bool { return v != v }

func TestReadCSV(t *testing.T) {
	cases := []struct {
		name, in string
		want     []float32 // NaN written as -999
		rows     int
		extra    map[string][]float64
	}{
		{"no header", "1,2,3\n4,,6\n", []float32{1, 2, 3, 4, -999, 6}, 2, nil},
		{"header reordered", "c,a,b\n3,1,2\n", []float32{1, 2, 3}, 1, map[string][]float64{}},
		{"extra column", "a,b,c,converted\n1,2,3,1\n4,5,6,\n", []float32{1, 2, 3, 4, 5, 6}, 2, map[string][]float64{"converted": {1, math.NaN()}}},
		{"spaces", " 1, 2 ,3\n", []float32{1, 2, 3}, 1, nil},
		{"empty", "", nil, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb, err := ReadCSV(strings.NewReader(c.in), names, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if tb.Rows != c.rows || len(tb.Values) != len(c.want) {
				t.Fatalf("rows %d values %v", tb.Rows, tb.Values)
			}
			for i, w := range c.want {
				if got := tb.Values[i]; (w == -999) != isNaN(got) || (w != -999 && got != w) {
					t.Errorf("value %d = %v, want %v", i, got, w)
				}
			}
			for k, col := range c.extra {
				if len(tb.Extra[k]) != len(col) {
					t.Errorf("extra %s = %v", k, tb.Extra[k])
				}
			}
		})
	}
}

func TestReadCSVErrors(t *testing.T) {
	cases := map[string]string{
		"few fields":       "1,2\n",
		"many fields":      "1,2,3,4\n",
		"not a number":     "1,x,3\n1,2,3\n",
		"NaN literal":      "1,2,3\n1,NaN,3\n",
		"infinity":         "1,2,3\n1,Inf,3\n",
		"beyond float32":   "1,1e39,3\n",
		"missing feature":  "a,b\n1,2\n",
		"duplicate column": "a,b,c,a\n1,2,3,4\n",
		"ragged":           "a,b,c\n1,2\n",
		"bad value named":  "a,b,c\n1,2,oops\n",
		"bad quote":        "1,\"2,3\n",
	}
	for name, in := range cases {
		_, err := ReadCSV(strings.NewReader(in), names, Limits{})
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("%s: error %v is not an InputError", name, err)
		}
	}
	_, err := ReadCSV(strings.NewReader("1,2,3\n4,5,6\n"), names, Limits{MaxRows: 1})
	if err == nil || !strings.Contains(err.Error(), "more than 1 rows") {
		t.Errorf("row limit: %v", err)
	}
	e := &InputError{Row: 2, Col: 1, Msg: "x"}
	if e.Error() != "row 2, column 1: x" {
		t.Error(e.Error())
	}
}

func TestReadJSON(t *testing.T) {
	tb, err := ReadJSON(strings.NewReader(` [[1, null, 3.5], [0, -1e-3, 2e10]] `), 3, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Rows != 2 || !isNaN(tb.Values[1]) || tb.Values[2] != 3.5 || tb.Values[5] != 2e10 {
		t.Errorf("table %+v", tb)
	}
	for name, in := range map[string]string{
		"not array":   `{"a":1}`,
		"row object":  `[{"a":1}]`,
		"short row":   `[[1,2]]`,
		"long row":    `[[1,2,3,4]]`,
		"string":      `[[1,"2",3]]`,
		"bool":        `[[1,true,3]]`,
		"NaN":         `[[1,NaN,3]]`,
		"huge":        `[[1,1e400,3]]`,
		"f32 range":   `[[1,1e39,3]]`,
		"truncated":   `[[1,2,3]`,
		"trailing":    `[[1,2,3]] [`,
		"nested":      `[[1,[2],3]]`,
		"empty input": ``,
	} {
		if _, err := ReadJSON(strings.NewReader(in), 3, Limits{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ReadJSON(strings.NewReader(`[[1,2,3],[1,2,3]]`), 3, Limits{MaxRows: 1}); err == nil {
		t.Error("row limit not enforced")
	}
}

type parquetRow struct {
	A         float32  `parquet:"a"`
	C         *float64 `parquet:"c,optional"`
	B         int64    `parquet:"b"`
	Converted bool     `parquet:"converted"`
	Note      string   `parquet:"note"`
}

func TestReadParquet(t *testing.T) {
	var buf bytes.Buffer
	c := 2.5
	rows := []parquetRow{{A: 1, C: &c, B: 7, Converted: true, Note: "x"}, {A: -1, B: 0}}
	if err := parquet.Write(&buf, rows); err != nil {
		t.Fatal(err)
	}
	tb, err := ReadParquet(bytes.NewReader(buf.Bytes()), names, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Rows != 2 || tb.Values[0] != 1 || tb.Values[1] != 7 || tb.Values[2] != 2.5 || !isNaN(tb.Values[5]) {
		t.Errorf("values %v", tb.Values)
	}
	if got := tb.Extra["converted"]; len(got) != 2 || got[0] != 1 || got[1] != 0 {
		t.Errorf("extra %v", tb.Extra)
	}
	if _, err := ReadParquet(bytes.NewReader(buf.Bytes()), []string{"a", "zz"}, Limits{}); err == nil {
		t.Error("missing column accepted")
	}
	if _, err := ReadParquet(bytes.NewReader(buf.Bytes()), names, Limits{MaxRows: 1}); err == nil {
		t.Error("row limit not enforced")
	}
	if _, err := ReadParquet(strings.NewReader("not parquet"), names, Limits{}); err == nil {
		t.Error("garbage accepted")
	}
	if _, err := ReadParquet(bytes.NewReader(buf.Bytes()), []string{"note"}, Limits{}); err == nil {
		t.Error("string column accepted as a feature")
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{"1,2,3\n", "a,b,c\n1,,3\n", "c,a,b,x\n1,2,3,4\n", "\"1\",2,3\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tb, err := ReadCSV(strings.NewReader(in), names, Limits{MaxRows: 1000})
		if err == nil && len(tb.Values) != tb.Rows*3 {
			t.Fatalf("%d values for %d rows", len(tb.Values), tb.Rows)
		}
	})
}

func FuzzReadJSON(f *testing.F) {
	for _, s := range []string{"[[1,2,3]]", "[[null,2e5,-3]]", "[]", "[[1,2,3],[4,5,6]]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tb, err := ReadJSON(strings.NewReader(in), 3, Limits{MaxRows: 1000})
		if err == nil {
			if len(tb.Values) != tb.Rows*3 {
				t.Fatalf("%d values for %d rows", len(tb.Values), tb.Rows)
			}
			for _, v := range tb.Values {
				if math.IsInf(float64(v), 0) {
					t.Fatal("infinite value accepted")
				}
			}
		}
	})
}

// TestHeaderNamesEveryMissingFeature: a header without several features
// names all of them, not only the first.
func TestHeaderNamesEveryMissingFeature(t *testing.T) {
	_, err := ReadCSV(strings.NewReader("b,x\n1,2\n"), []string{"a", "b", "c", "d"}, Limits{})
	if err == nil || !strings.Contains(err.Error(), `3 features have no column: "a", "c", "d"`) {
		t.Errorf("err %v", err)
	}
}
