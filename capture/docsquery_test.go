package capture

import (
	"fmt"
	"log/slog"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
)

// TestDocsQueriesRun writes a lake with the demo model's features,
// predictions over two days and ground truth for some of them, then runs
// every SQL query of docs/lake.md on it with DuckDB (lakecheck/docs.mjs):
// the DuckDB queries as written, the Athena and Spark SQL ones against
// views named like their tables; all must return rows and agree.
func TestDocsQueriesRun(t *testing.T) {
	node := needLakecheck(t)
	demo, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	names := demo.FeatureNames()
	root := t.TempDir()
	dir := filepath.Join(root, "data", "lake")
	w, err := newWriter(Config{Dir: dir}, names, nil, slog.New(slog.DiscardHandler), testTuning())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 6, 1, 22, 0, 0, 0, time.UTC)
	recs := make([]leadscore.Record, 600)
	var outcomes []leadscore.Outcome
	for i := range recs {
		f := make([]float32, len(names))
		for j := range f {
			f[j] = float32((i + j) % 9)
		}
		if i%4 == 0 {
			f[len(f)-2] = float32(math.NaN()) // intent_score_3p missing
		}
		p := float64(i%97) / 97
		recs[i] = leadscore.Record{
			Time: start.Add(time.Duration(i) * 20 * time.Second), RequestID: fmt.Sprintf("r%d", i),
			InferenceID: fmt.Sprintf("inf-%d", i), Model: "lead-demo", ModelVersion: "1.0.0", Features: f,
			Probability: p, Margin: math.Log(p+1e-3) - math.Log(1.001-p), Tier: 1 + i%5, LatencyMS: 0.2,
		}
		if i%3 == 0 {
			outcomes = append(outcomes, leadscore.Outcome{InferenceID: recs[i].InferenceID, Converted: i%2 == 0, Time: recs[i].Time})
		}
	}
	w.Capture(recs)
	w.CaptureFeedback(outcomes)
	closeWriter(t, w)

	script, _ := filepath.Abs(filepath.Join(lakecheckDir, "docs.mjs"))
	docs, _ := filepath.Abs(filepath.Join("..", "docs", "lake.md"))
	cmd := exec.Command(node, script, docs, root)
	cmd.Dir = lakecheckDir
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("docs/lake.md queries: %v", err)
	}
	for _, q := range []string{"DuckDB: drift by day", "Athena: conversion by tier", "Spark SQL: conversion by tier"} {
		if !strings.Contains(string(out), "ok   "+q) {
			t.Errorf("query %q did not run", q)
		}
	}
}
