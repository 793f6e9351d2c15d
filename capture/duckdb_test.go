package capture

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
)

// lakecheckDir is the Node project that reads the lake with DuckDB.
var lakecheckDir = filepath.Join("..", "lakecheck")

// needLakecheck returns the node binary, or skips the test when node or
// lakecheck's packages are missing (fails instead with LEADSCORE_DUCKDB=1).
func needLakecheck(t *testing.T) string {
	t.Helper()
	required := os.Getenv("LEADSCORE_DUCKDB") == "1"
	missing := func(why string) {
		msg := "DuckDB lake check not run: " + why + " (install: npm ci --prefix lakecheck; LEADSCORE_DUCKDB=1 makes this a failure)"
		if required {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(lakecheckDir, "node_modules", "@duckdb", "node-api", "package.json")); err != nil {
		missing("lakecheck/node_modules has no @duckdb/node-api")
	}
	return node
}

// expectedRow is one row of lakecheck's EXPECTED.json.
type expectedRow struct {
	EventTimeUS  int64   `json:"event_time_us"`
	RequestID    string  `json:"request_id"`
	InferenceID  string  `json:"inference_id"`
	LeadID       *string `json:"lead_id"`
	ModelName    string  `json:"model_name"`
	ModelVersion string  `json:"model_version"`
	FeatureVals  []any   `json:"features"`
	Margin       float64 `json:"margin"`
	Probability  float64 `json:"probability"`
	Tier         int     `json:"tier"`
	LatencyMS    float64 `json:"latency_ms"`
	Variant      *string `json:"variant"`
	Role         string  `json:"role"`
	DT           string  `json:"dt"`
	Hour         int     `json:"hour"`
}

func writeExpected(t *testing.T, path string, features []string, recs []leadscore.Record) {
	t.Helper()
	rows := make([]expectedRow, len(recs))
	for i, r := range recs {
		var lead *string
		if r.LeadID != "" {
			lead = &recs[i].LeadID
		}
		vals := make([]any, len(r.Features))
		for j, v := range r.Features {
			if !math.IsNaN(float64(v)) {
				vals[j] = float64(v)
			}
		}
		utc := r.Time.UTC()
		var variant *string
		if r.Variant != "" {
			variant = &recs[i].Variant
		}
		role := "live"
		if r.Shadow {
			role = "shadow"
		}
		rows[i] = expectedRow{
			Variant: variant, Role: role,
			EventTimeUS: r.Time.UnixMicro(), RequestID: r.RequestID, InferenceID: r.InferenceID, LeadID: lead,
			ModelName: r.Model, ModelVersion: r.ModelVersion, FeatureVals: vals, Margin: r.Margin,
			Probability: r.Probability, Tier: r.Tier, LatencyMS: r.LatencyMS,
			DT: utc.Format("2006-01-02"), Hour: utc.Hour(),
		}
	}
	data, err := json.Marshal(map[string]any{"features": features, "rows": rows})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func runLakecheck(t *testing.T, node, dir, expected string) (string, error) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join(lakecheckDir, "check.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, dir, expected)
	cmd.Dir = lakecheckDir
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestDuckDBReadsLake writes a lake (several partitions, files rolled by
// size) and has DuckDB read it back with hive_partitioning: row count,
// types and every value must match what was sent.
func TestDuckDBReadsLake(t *testing.T) {
	node := needLakecheck(t)
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir, RollBytes: 32 << 10, RowGroupRows: 512}, nil)
	recs := makeRecords(6000, t0, 1500*time.Millisecond) // 17:58 to 20:28
	for i := 0; i < len(recs); i += 250 {
		w.Capture(recs[i : i+250])
	}
	closeWriter(t, w)
	if n := len(lakeFiles(t, dir)); n < 5 {
		t.Fatalf("only %d files; the check wants several per partition", n)
	}

	expected := filepath.Join(t.TempDir(), "expected.json")
	writeExpected(t, expected, testFeatures, recs)
	out, err := runLakecheck(t, node, dir, expected)
	if err != nil {
		t.Fatalf("lakecheck: %v\n%s", err, out)
	}
	t.Log(out)
	if !strings.Contains(out, "lakecheck: ok, 6000 rows in 4 partition(s)") {
		t.Fatalf("unexpected output: %s", out)
	}

	// The check does catch a lake that differs from what was sent.
	recs[17].Margin++
	writeExpected(t, expected, testFeatures, recs[1:])
	out, err = runLakecheck(t, node, dir, expected)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 ||
		!strings.Contains(out, "5999 were sent") || !strings.Contains(out, "margin") {
		t.Fatalf("lakecheck on a wrong expectation: %v\n%s", err, out)
	}
}
