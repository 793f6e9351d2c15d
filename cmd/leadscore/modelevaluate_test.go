package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// initBundle writes a bundle of model with bundle init on the demo leads.
func initBundle(t *testing.T, model, name, version string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+"-"+version)
	if code, _, stderr := runCLI(t, "", "bundle", "init", "--model", model, "--data", demoCSV, "--out", out, "--name", name, "--version", version); code != 0 {
		t.Fatalf("bundle init %s: %s", model, stderr)
	}
	return out
}

// TestModelEvaluate: the demo model against a weaker one (depth 2) on the
// same leads: the better candidate passes, the weaker fails with exit 3,
// and the current model may come from the registry.
func TestModelEvaluate(t *testing.T) {
	strong := initBundle(t, demoModel, "lead", "2")
	weak := initBundle(t, "../../testdata/xgboost/depth2_hist/model.json", "lead", "1")
	html := filepath.Join(t.TempDir(), "report.html")
	code, stdout, stderr := runCLI(t, "", "model", "evaluate", "--candidate", strong, "--against", weak, "--data", demoCSV, "--json", "--html", html)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res evaluateJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	c := res.Candidate
	if res.Current == nil || res.Verdict == nil || !res.Verdict.Pass || c.Rows != 10000 || c.Conversions != 1566 ||
		c.AUC < 0.88 || res.Current.AUC > c.AUC || c.LogLoss <= 0 || len(c.AtCutoffs) != 4 || len(c.Tiers) != 5 ||
		len(c.Calibration) == 0 || !(res.Verdict.TierChanged > 0 && res.Verdict.TierChanged < 1) || c.Tiers[0].Lift < 4 {
		t.Errorf("result %+v", res)
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "PASS") || !strings.Contains(string(page), "lift") {
		t.Errorf("html: %v", err)
	}

	code, stdout, stderr = runCLI(t, "", "model", "evaluate", "--candidate", weak, "--against", strong, "--data", demoCSV)
	if code != 3 || !strings.Contains(stdout, "verdict") || !strings.Contains(stdout, "FAIL") || !strings.Contains(stderr, "below the current") {
		t.Errorf("weaker candidate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// A generous --max-regression lets it through.
	if code, _, _ := runCLI(t, "", "model", "evaluate", "--candidate", weak, "--against", strong, "--data", demoCSV, "--max-regression", "0.05"); code != 0 {
		t.Errorf("--max-regression 0.05: exit %d", code)
	}

	// The current model from the registry's prod stage.
	reg := t.TempDir()
	mustRun(t, "model", "push", strong, "--registry", reg)
	mustRun(t, "model", "promote", "lead", "2", "--stage", "prod", "--registry", reg)
	if code, stdout, stderr := runCLI(t, "", "model", "evaluate", "--candidate", weak, "--against", "registry:"+reg+"#lead@prod", "--data", demoCSV); code != 3 || !strings.Contains(stdout, "current lead 2") {
		t.Errorf("registry: exit %d %s %s", code, stdout, stderr)
	}
	// Measuring alone, and mistakes.
	if code, stdout, _ := runCLI(t, "", "model", "evaluate", "--candidate", strong, "--data", demoCSV); code != 0 || !strings.Contains(stdout, "AUC") || strings.Contains(stdout, "verdict") {
		t.Errorf("alone: %d %s", code, stdout)
	}
	if code, _, _ := runCLI(t, "", "model", "evaluate", "--candidate", strong); code != 2 {
		t.Error("no --data accepted")
	}
}
