package loadgen

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// sameRows compares rows, NaN equal to NaN.
func sameRows(a, b []Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			x, y := a[i][j], b[i][j]
			if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
				return false
			}
		}
	}
	return true
}

func TestReadRows(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name, in string
		want     []Row
		err      string
	}{
		{name: "json", in: " [[1, 2.5, null], [-3e2, 0, 4]]", want: []Row{{1, 2.5, nan}, {-300, 0, 4}}},
		{name: "csv", in: "a,b,c\n1,,3\n4,nan,NULL\n", want: []Row{{1, nan, 3}, {4, nan, nan}}},
		{name: "csv drops label", in: "a,converted,b\n1,0,2\n3,1,4\n", want: []Row{{1, 2}, {3, 4}}},
		{name: "csv bom", in: "\xef\xbb\xbfa,b\n1,2\n", want: []Row{{1, 2}}},
		{name: "empty", in: "  \n", err: "empty input"},
		{name: "header only", in: "a,b\n", err: "no rows"},
		{name: "ragged json", in: "[[1,2],[3]]", err: "row 1 has 1 values, want 2"},
		{name: "empty row", in: "[[]]", err: "row 0 has 0 values"},
		{name: "json not numbers", in: `[["x"]]`, err: "JSON rows"},
		{name: "json object", in: `{"rows": []}`, err: "CSV"},
		{name: "csv bad number", in: "a,b\n1,x\n", err: `CSV line 2, column "b": "x" is not a finite number`},
		{name: "csv infinity", in: "a\ninf\n", err: "not a finite number"},
		{name: "csv ragged", in: "a,b\n1,2\n3\n", err: "CSV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadRows(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameRows(got, tt.want) {
				t.Errorf("rows = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDemoRows(t *testing.T) {
	rows, err := DemoRows()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1900 || len(rows[0]) != 50 {
		t.Fatalf("demo rows: %d x %d, want 1900 x 50", len(rows), len(rows[0]))
	}
	// First row of the demo test set.
	if rows[0][0] != 4.0077 || rows[0][49] != 1.2126 {
		t.Errorf("row 0 = %v ... %v, want 4.0077 ... 1.2126", rows[0][0], rows[0][49])
	}
	var missing int
	for _, r := range rows {
		for _, v := range r {
			if math.IsNaN(v) {
				missing++
			}
		}
	}
	if missing == 0 {
		t.Error("demo rows have no missing values; the demo set has some")
	}
}

func TestBodies(t *testing.T) {
	nan := math.NaN()
	rows := []Row{{1, nan}, {2, 0.5}, {3, 1e21}}
	tests := []struct {
		batch int
		want  []string
	}{
		{1, []string{`[[1,null]]`, `[[2,0.5]]`, `[[3,1e+21]]`}},
		// Batches wrap around the end of the rows.
		{2, []string{`[[1,null],[2,0.5]]`, `[[2,0.5],[3,1e+21]]`, `[[3,1e+21],[1,null]]`}},
		{4, []string{`[[1,null],[2,0.5],[3,1e+21],[1,null]]`, `[[2,0.5],[3,1e+21],[1,null],[2,0.5]]`, `[[3,1e+21],[1,null],[2,0.5],[3,1e+21]]`}},
	}
	for _, tt := range tests {
		got, err := Bodies(rows, tt.batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("batch %d: %d bodies, want %d", tt.batch, len(got), len(tt.want))
		}
		for i := range got {
			if string(got[i]) != tt.want[i] {
				t.Errorf("batch %d body %d = %s, want %s", tt.batch, i, got[i], tt.want[i])
			}
		}
	}
	if _, err := Bodies(rows, 0); err == nil {
		t.Error("Bodies(batch 0) succeeded, want an error")
	}
	if _, err := Bodies(nil, 1); err == nil {
		t.Error("Bodies(no rows) succeeded, want an error")
	}
}

func TestBodiesDemo(t *testing.T) {
	rows, err := DemoRows()
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 100} {
		bodies, err := Bodies(rows, batch)
		if err != nil {
			t.Fatal(err)
		}
		var total int
		for _, b := range bodies {
			total += len(b)
		}
		if len(bodies) < 16 || len(bodies) > maxBodies || total > bodyByteQuota+len(bodies[0]) {
			t.Errorf("batch %d: %d bodies, %d bytes; want 16..%d bodies within about %d bytes",
				batch, len(bodies), total, maxBodies, bodyByteQuota)
		}
		var decoded [][]*float64
		if err := json.Unmarshal(bodies[len(bodies)-1], &decoded); err != nil {
			t.Fatalf("batch %d: last body is not JSON: %v", batch, err)
		}
		if len(decoded) != batch || len(decoded[0]) != 50 {
			t.Errorf("batch %d: body has %d rows of %d", batch, len(decoded), len(decoded[0]))
		}
	}
}

// FuzzReadRows checks that ReadRows never panics and that what it accepts
// round-trips through Bodies.
func FuzzReadRows(f *testing.F) {
	f.Add("[[1,2,null],[3,4,5]]")
	f.Add("a,b\n1,\n2,3\n")
	f.Add("a,converted\n1,0\n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := ReadRows(strings.NewReader(in))
		if err != nil {
			return
		}
		bodies, err := Bodies(rows, 1)
		if err != nil {
			t.Fatalf("Bodies: %v", err)
		}
		var back []Row
		for _, b := range bodies {
			r, err := ReadRows(strings.NewReader(string(b)))
			if err != nil {
				t.Fatalf("body %s does not read back: %v", b, err)
			}
			back = append(back, r...)
		}
		if !sameRows(back, rows) {
			t.Fatalf("rows %v came back as %v", rows, back)
		}
	})
}

func BenchmarkBodies(b *testing.B) {
	rows, err := DemoRows()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Bodies(rows, 100); err != nil {
			b.Fatal(err)
		}
	}
}
