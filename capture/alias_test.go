package capture

import (
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/leadscore/leadscore"
)

// TestCaptureCopiesFeatures: Capture copies the records' features into
// the queue's own storage (leadscore.FeatureCopier), recycled from batch
// to batch: concurrent callers, each reusing one buffer for its
// features and overwriting it right after Capture (as the HTTP server
// does), still find every record's own features in the lake.
func TestCaptureCopiesFeatures(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	if !leadscore.CopiesFeatures(w) {
		t.Fatal("Writer does not declare that it copies features")
	}
	const callers, requests, rows = 8, 60, 17
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			feats := make([]float32, rows*3)
			recs := make([]leadscore.Record, rows)
			for k := range requests {
				for j := range rows {
					f := feats[j*3 : j*3+3 : j*3+3]
					f[0], f[1], f[2] = float32(g*1000+k), float32(j), float32(g)
					recs[j] = leadscore.Record{
						Time: t0, RequestID: fmt.Sprint(g, "-", k), InferenceID: fmt.Sprint(g, "-", k, "-", j),
						Model: "m", ModelVersion: "1", Features: f,
					}
				}
				w.Capture(recs)
				for i := range feats { // the caller reuses its buffer at once
					feats[i] = float32(math.NaN())
				}
			}
		})
	}
	wg.Wait()
	closeWriter(t, w)
	rows2 := readLake(t, dir)
	if len(rows2) != callers*requests*rows {
		t.Fatalf("%d rows in the lake, want %d", len(rows2), callers*requests*rows)
	}
	seen := map[string]bool{}
	for _, r := range rows2 {
		var g, k, j int
		if _, err := fmt.Sscanf(r.InferenceID, "%d-%d-%d", &g, &k, &j); err != nil {
			t.Fatalf("inference id %q: %v", r.InferenceID, err)
		}
		if seen[r.InferenceID] {
			t.Fatalf("record %s twice", r.InferenceID)
		}
		seen[r.InferenceID] = true
		if r.Age == nil || r.Income == nil || r.Visits == nil ||
			*r.Age != float32(g*1000+k) || *r.Income != float32(j) || *r.Visits != float32(g) {
			t.Fatalf("record %s has another record's features: %v %v %v", r.InferenceID, r.Age, r.Income, r.Visits)
		}
	}
}
