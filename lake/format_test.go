package lake_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/capture"
	"github.com/leadscore/leadscore/monitor"
)

// TestCaptureWritesWhatMonitorReads writes predictions and outcomes with
// the capture writer and reads them back with the monitor's lake check:
// every row, every feature column and every outcome join must be found,
// so a change to the format on one side only fails here.
func TestCaptureWritesWhatMonitorReads(t *testing.T) {
	t.Parallel()
	b, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	base, err := monitor.ReadBaseline(b.ReadBaseline)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := capture.New(capture.Config{Dir: dir}, b.FeatureNames(), nil, log)
	if err != nil {
		t.Fatal(err)
	}
	// Two hours of predictions across a day boundary, with missing
	// features and lead ids, and outcomes for a third of them.
	at := time.Date(2025, 6, 1, 23, 30, 0, 0, time.UTC)
	const n = 600
	nf := b.NumFeature()
	recs := make([]leadscore.Record, n)
	var outs []leadscore.Outcome
	for i := range recs {
		f := make([]float32, nf)
		for j := range f {
			f[j] = float32((i*7+j*3)%40) / 4
		}
		if i%9 == 0 {
			f[i%nf] = float32(math.NaN())
		}
		lead := ""
		if i%2 == 0 {
			lead = fmt.Sprintf("lead-%d", i)
		}
		p := float64(i%100) / 100
		recs[i] = leadscore.Record{
			Time: at.Add(time.Duration(i) * 10 * time.Second), RequestID: fmt.Sprintf("req-%d", i),
			InferenceID: fmt.Sprintf("inf-%d", i), LeadID: lead, Model: b.Info().Name, ModelVersion: b.Info().Version,
			Features: f, Margin: math.Log(p+0.01) - math.Log(1.01-p), Probability: p, Tier: 1 + i%5, LatencyMS: 0.5,
		}
		switch {
		case i%3 == 0:
			outs = append(outs, leadscore.Outcome{InferenceID: recs[i].InferenceID, Converted: i%2 == 0, Time: recs[i].Time.Add(time.Hour)})
		case i%3 == 1 && lead != "":
			outs = append(outs, leadscore.Outcome{LeadID: lead, Converted: true, Time: recs[i].Time.Add(time.Hour)})
		}
	}
	w.Capture(recs)
	w.CaptureFeedback(outs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}

	q := monitor.LakeQuery{Dir: dir, From: at, To: at.Add(2 * time.Hour)}
	res, err := monitor.CheckLake(ctx, q, base, monitor.Checks{}, leadscore.Tiers{})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	if r.Window.Rows != n {
		t.Errorf("monitor read %d rows, capture wrote %d", r.Window.Rows, n)
	}
	if len(res.Files) < 2 {
		t.Errorf("files %v: want one per hour partition at least", res.Files)
	}
	if len(res.GroundTruthFiles) == 0 {
		t.Error("monitor found no ground-truth files")
	}
	for _, fr := range r.Features {
		if fr.Rows != n {
			t.Errorf("feature %s: %d rows, want %d (column not found?)", fr.Name, fr.Rows, n)
		}
	}
	for _, v := range r.ConstraintViolations.Violations {
		if v.ConstraintCheckType == monitor.CheckMissingCol || v.ConstraintCheckType == monitor.CheckExtraCol {
			t.Errorf("violation %+v: the reader does not know a column the writer wrote", v)
		}
	}
	if r.Quality == nil || r.Quality.LabeledRows != int64(len(outs)) {
		t.Fatalf("quality %+v: want %d labelled rows", r.Quality, len(outs))
	}
}
