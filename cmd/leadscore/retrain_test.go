package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestRetrainLoop runs the whole loop on a demo lake: the demo model (in
// the registry's prod stage) serves 10,000 leads with the lake on, some
// twice; synthetic feedback (the leads' real outcomes) arrives for 9,000 of
// them; examples/retrain.sh builds the dataset, trains with Debian's
// python3-xgboost, writes the bundle, evaluates it against prod, pushes it
// and promotes it to staging; a server following staging then serves it.
func TestRetrainLoop(t *testing.T) {
	bin := testBinary(t)
	if _, err := exec.Command("/usr/bin/python3", "-c", "import xgboost, pandas").CombinedOutput(); err != nil {
		t.Skip("needs /usr/bin/python3 with xgboost and pandas (scripts/install-tools.sh installs them)")
	}
	dir := t.TempDir()
	lakeDir, reg := filepath.Join(dir, "lake"), filepath.Join(dir, "registry")
	prod := initBundle(t, demoModel, "lead-score", "1")
	mustRun(t, "model", "push", prod, "--registry", reg)
	mustRun(t, "model", "promote", "lead-score", "1", "--stage", "prod", "--registry", reg)

	env := []string{"LEADSCORE_LAKE_DIR=" + lakeDir, "LEADSCORE_REGISTRY_CACHE=" + filepath.Join(dir, "cache")}
	s := startServer(t, bin, env, "--model", "registry:"+reg+"#lead-score@prod", "--max-batch", "1000")
	raw, err := os.ReadFile(demoCSV)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := recs[0], recs[1:]
	label := len(header) - 1
	score := func(lo, hi int) {
		var leads []string
		for i := lo; i < hi; i++ {
			var fields []string
			for j, v := range rows[i][:label] {
				if v != "" {
					fields = append(fields, strconv.Quote(header[j])+":"+v)
				}
			}
			leads = append(leads, fmt.Sprintf(`{"id":"L-%d","features":{%s}}`, i, strings.Join(fields, ",")))
		}
		if r := send(t, nil, "POST", s.url+"/score", "application/json", `{"leads":[`+strings.Join(leads, ",")+`]}`); r.status != 200 {
			t.Fatalf("score: %d %s", r.status, r.body)
		}
	}
	for lo := 0; lo < len(rows); lo += 1000 {
		score(lo, min(lo+1000, len(rows)))
	}
	score(0, 200) // scored again: the first scoring wins
	for lo := 0; lo < 9000; lo += 1000 {
		var fb []string
		for i := lo; i < lo+1000; i++ {
			fb = append(fb, fmt.Sprintf(`{"lead_id":"L-%d","converted":%s}`, i, rows[i][label]))
		}
		if r := send(t, nil, "POST", s.url+"/v1/feedback", "application/json", "["+strings.Join(fb, ",")+"]"); r.status != 200 {
			t.Fatalf("feedback: %d %s", r.status, r.body)
		}
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exit %d", code)
	}

	// The dataset alone: one row per lead, 1,000 still inside the window.
	code, out, stderr := runCLI(t, "", "dataset", "--lake", lakeDir, "--since", "1d", "--label-window", "14d",
		"--out", filepath.Join(dir, "ds.parquet"), "--json")
	var ds datasetJSON
	if code != 0 || json.Unmarshal([]byte(out), &ds) != nil {
		t.Fatalf("dataset: %d %s %s", code, out, stderr)
	}
	if ds.Rows != 9000 || ds.Pending != 1000 || ds.Scored != 10200 || ds.Rescored != 200 || ds.Features != 50 ||
		len(ds.Models) != 1 || ds.Models[0] != "lead-score 1" {
		t.Errorf("dataset %+v", ds)
	}

	work := filepath.Join(dir, "work")
	cmd := exec.Command("bash", "../../examples/retrain.sh")
	cmd.Env = append(os.Environ(), "LEADSCORE="+bin, "LAKE="+lakeDir, "REGISTRY="+reg, "NAME=lead-score", "VERSION=2",
		"SINCE=1d", "MAX_REGRESSION=0.05", "WORK="+work, "LEADSCORE_REGISTRY_CACHE="+filepath.Join(dir, "cache2"))
	loop, err := cmd.CombinedOutput()
	t.Logf("retrain.sh:\n%s", loop)
	if err != nil {
		t.Fatalf("retrain.sh: %v", err)
	}
	for _, want := range []string{"wrote 9000 leads", "holdout_auc", "verdict", "PASS", "pushed lead-score 2", "lead-score 2 is in staging",
		"--stage prod"} {
		if !strings.Contains(string(loop), want) {
			t.Errorf("retrain.sh output lacks %q", want)
		}
	}
	stages := mustRun(t, "model", "list", "lead-score", "--registry", reg)
	if !strings.Contains(stages, "2") || !strings.Contains(stages, "staging") {
		t.Errorf("registry:\n%s", stages)
	}
	// The new bundle is served after promotion.
	s = startServer(t, bin, []string{"LEADSCORE_LAKE=false", "LEADSCORE_REGISTRY_CACHE=" + filepath.Join(dir, "cache3")},
		"--model", "registry:"+reg+"#lead-score@staging")
	r := send(t, nil, "POST", s.url+"/score", "application/json", `{"leads":[{"id":"x","features":{"demo_requested":1}}]}`)
	var body struct {
		Model struct{ Name, Version string } `json:"model"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &body) != nil || body.Model.Name != "lead-score" || body.Model.Version != "2" {
		t.Errorf("staging serves %d %s", r.status, r.body)
	}
	s.stop(syscall.SIGTERM)
}
