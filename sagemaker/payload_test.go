package sagemaker

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseProbabilities(t *testing.T) {
	tests := []struct {
		name string
		body string
		n    int
		want []float64
	}{
		{"lines", "0.1\n0.2\n0.3\n", 3, []float64{0.1, 0.2, 0.3}},
		{"crlf and blank lines", "0.1\r\n\r\n0.2\r\n", 2, []float64{0.1, 0.2}},
		{"comma separated", "0.1,0.2,0.3", 3, []float64{0.1, 0.2, 0.3}},
		{"spaces", " 0.1 , 1e-3 ,1\n", 3, []float64{0.1, 0.001, 1}},
		{"json array", "[0.1, 0.2]", 2, []float64{0.1, 0.2}},
		{"json nested", "[[0.1],[0.2]]", 2, []float64{0.1, 0.2}},
		{"xgboost container json", `{"predictions": [{"score": 0.25}, {"score": 0.75}]}`, 2, []float64{0.25, 0.75}},
		{"probabilities key", `{"probabilities": [0.5]}`, 1, []float64{0.5}},
		{"leadscore /score", `{"request_id":"x","results":[{"score":4,"probability":0.7}]}`, 1, []float64{0.7}},
		{"empty for none", "", 0, []float64{}},
	}
	for _, tt := range tests {
		got, err := parseProbabilities([]byte(tt.body), tt.n, nil)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			}
		}
	}
	bad := []struct {
		name string
		body string
		n    int
	}{
		{"too few", "0.1\n", 2},
		{"too many", "0.1,0.2", 1},
		{"not a number", "0.1\nabc\n", 2},
		{"empty field", "0.1,,0.2", 3},
		{"out of range", "1.5", 1},
		{"negative", "-0.1", 1},
		{"nan", "NaN", 1},
		{"bad json", "[0.1,", 1},
		{"json object without predictions", `{"error":{"code":"x"}}`, 1},
		{"json not a list", `{"predictions": 0.1}`, 1},
		{"json strings", `["0.1"]`, 1},
		{"json pairs", `[[0.1, 0.9]]`, 1},
		{"json object without a score", `[{"label": 1}]`, 1},
	}
	for _, tt := range bad {
		if got, err := parseProbabilities([]byte(tt.body), tt.n, nil); err == nil {
			t.Errorf("%s: accepted as %v", tt.name, got)
		}
	}
	if _, err := parseProbabilities([]byte(strings.Repeat("x", 100)), 1, nil); err == nil || !strings.Contains(err.Error(), "...") {
		t.Errorf("long field not shortened: %v", err)
	}
}

func TestAppendCSVRoundTrip(t *testing.T) {
	rows := []float32{1.5, float32(math.NaN()), -3, 0.1, 1e30, float32(math.NaN())}
	got := string(appendCSV(nil, rows, 3))
	if want := "1.5,,-3\n0.1,1e+30,\n"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	for i, line := range strings.Split(strings.TrimSpace(got), "\n") {
		for j, f := range strings.Split(line, ",") {
			v := rows[i*3+j]
			if f == "" {
				if !math.IsNaN(float64(v)) {
					t.Errorf("(%d,%d) empty for %v", i, j, v)
				}
				continue
			}
			back, err := strconv.ParseFloat(f, 32)
			if err != nil || float32(back) != v {
				t.Errorf("(%d,%d) %q reads back as %v, want %v", i, j, f, back, v)
			}
		}
	}
	if len(appendCSV(nil, nil, 3)) != 0 {
		t.Error("no rows should be no bytes")
	}
}

func TestLogit(t *testing.T) {
	for _, p := range []float64{0, 1e-20, 0.25, 0.5, 0.9, 1} {
		m := logit(p)
		if math.IsInf(m, 0) || math.IsNaN(m) {
			t.Errorf("logit(%v) = %v", p, m)
		}
		if p > 1e-9 && p < 1-1e-9 {
			if back := 1 / (1 + math.Exp(-m)); math.Abs(back-p) > 1e-12 {
				t.Errorf("sigmoid(logit(%v)) = %v", p, back)
			}
		}
	}
}

// FuzzParseProbabilities checks the response parser never panics and that
// whatever it accepts is n probabilities.
func FuzzParseProbabilities(f *testing.F) {
	for _, seed := range []string{"0.1\n0.2\n", "0.5,0.5", "[0.1]", `{"predictions":[{"score":0.3}]}`, `{"results":[{"probability":1}]}`, "", "[[", "1e400"} {
		f.Add([]byte(seed), 2)
	}
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		got, err := parseProbabilities(body, n, nil)
		if err != nil {
			return
		}
		if len(got) != n {
			t.Fatalf("%d values for n=%d", len(got), n)
		}
		for _, p := range got {
			if !(p >= 0 && p <= 1) {
				t.Fatalf("accepted %v", p)
			}
		}
	})
}
