package httpapi

import (
	"encoding/json"
	"os"
	"testing"
)

// TestPythonBodies posts the bodies pandas and Python's json module write
// (testdata/pandas, made by gen.py with the real tools) to /score and
// /invocations and compares each probability with XGBoost's: NaN and null
// are missing, records and split orientations are read by name, and the
// split index becomes the leads' ids.
func TestPythonBodies(t *testing.T) {
	var want struct {
		IDs           []string  `json:"ids"`
		Probabilities []float64 `json:"probabilities"`
	}
	raw, err := os.ReadFile("testdata/pandas/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	s := demoServer(t, SageMaker{})
	for _, file := range []string{"records.json", "split.json", "dumps.json"} {
		body, err := os.ReadFile("testdata/pandas/" + file)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/score", "/invocations"} {
			w := do(s, "POST", path, "application/json", string(body), "Accept", "application/vnd.leadscore+json")
			if w.Code != 200 {
				t.Fatalf("%s %s: %d %s", path, file, w.Code, w.Body)
			}
			got := decodeScore(t, w)
			if len(got.Results) != len(want.Probabilities) {
				t.Fatalf("%s %s: %d results, want %d", path, file, len(got.Results), len(want.Probabilities))
			}
			for i, r := range got.Results {
				if float32(r.Probability) != float32(want.Probabilities[i]) {
					t.Errorf("%s %s row %d: %v, XGBoost %v", path, file, i, r.Probability, want.Probabilities[i])
				}
				if file == "split.json" && string(r.ID) != `"`+want.IDs[i]+`"` {
					t.Errorf("%s row %d: id %s, want %q", file, i, r.ID, want.IDs[i])
				}
			}
		}
	}
}
