package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore/internal/testutil"
	"github.com/leadscore/leadscore/tabular"
)

// checkScores posts the fixture rows to url and compares probabilities
// with XGBoost's.
func checkScores(t *testing.T, url string, f fixture) scoreResponse {
	t.Helper()
	resp := send(t, nil, "POST", url+"/score", "application/json", f.rowsJSON(f.Rows))
	if resp.status != 200 {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	var got scoreResponse
	resp.json(t, &got)
	if len(got.Results) != len(f.Prediction) {
		t.Fatalf("%d results for %d rows", len(got.Results), len(f.Prediction))
	}
	for i, r := range got.Results {
		if !closeTo(r.Probability, f.Prediction[i]) {
			t.Errorf("row %d: probability %v, XGBoost %v", i, r.Probability, f.Prediction[i])
		}
	}
	return got
}

// testServeRemoteBackend runs serve --backend sagemaker against a second
// serve standing in for the endpoint (it answers SageMaker runtime's
// POST /endpoints/{name}/invocations), then stops the endpoint: the
// breaker opens and the local fallback keeps scoring.
func testServeRemoteBackend(t *testing.T, bin string) {
	f := loadFixture(t)
	endpoint := startServer(t, bin, nil)
	creds := []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1", "HOME=" + t.TempDir()}
	front := startServer(t, bin, creds, "--backend", "sagemaker", "--sagemaker-endpoint", "lead-demo",
		"--endpoint-url", endpoint.url, "--sagemaker-timeout", "2s", "--sagemaker-breaker-failures", "2")
	checkScores(t, front.url, f)
	endpoint.waitLog(`"status":200`) // its access log: the front called it
	if strings.Contains(front.output(), "fallback") {
		t.Errorf("the front fell back while the endpoint was up:\n%s", front.output())
	}
	if code := endpoint.stop(os.Interrupt); code != 0 {
		t.Errorf("endpoint exit %d", code)
	}
	for i := 0; i < 3; i++ { // the fallback answers while the endpoint is down
		checkScores(t, front.url, f)
	}
	resp := send(t, nil, "POST", front.url+"/score", "application/json", "[[1,2]]")
	if resp.status != 422 {
		t.Errorf("bad row via the remote backend: %d %s", resp.status, resp.body)
	}
}

// testServeRegistry serves registry:ROOT#lead-demo@prod and follows a
// promotion without restarting.
func testServeRegistry(t *testing.T, bin string) {
	root := t.TempDir()
	demo := filepath.Join("..", "..", "bundle", "demo")
	for _, args := range [][]string{
		{"model", "push", demo, "--registry", root, "--version", "1"},
		{"model", "push", demo, "--registry", root, "--version", "2"},
		{"model", "promote", "lead-demo", "1", "--stage", "prod", "--registry", root, "--by", "ci"},
	} {
		if code, _, errOut := runCLI(t, "", args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	f := loadFixture(t)
	s := startServer(t, bin, []string{"LEADSCORE_REGISTRY_CACHE=" + t.TempDir()},
		"--model", "registry:"+root+"#lead-demo@prod", "--watch-interval", "100ms")
	if got := checkScores(t, s.url, f); got.Model.Version != "1" {
		t.Fatalf("serving version %q, want 1", got.Model.Version)
	}
	if code, _, errOut := runCLI(t, "", "model", "promote", "lead-demo", "2", "--stage", "prod", "--registry", root, "--by", "ci"); code != 0 {
		t.Fatalf("promote: %s", errOut)
	}
	testutil.Eventually(t, 20*time.Second, "version 2 to serve", func() bool {
		return checkScores(t, s.url, f).Model.Version == "2"
	})
}

// testServeMonitoring scores drifted leads and checks that GET
// /v1/monitoring reports drift on a feature the drifted generator shifts,
// that /metrics exposes the monitor's gauges, and that feedback is taken
// and stored in the lake's groundtruth/ partitions.
func testServeMonitoring(t *testing.T, bin string) {
	in, err := os.Open(filepath.Join("..", "..", "testdata", "lead-demo", "leads_10k_drift.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = in.Close() }()
	names := loadFixture(t).Names
	tb, err := tabular.ReadCSV(in, names, tabular.Limits{MaxRows: 20000})
	if err != nil {
		t.Fatal(err)
	}
	lake := t.TempDir()
	s := startServer(t, bin, []string{"LEADSCORE_LAKE_DIR=" + lake}, "--monitor-interval", "200ms", "--monitor-min-rows", "100")
	for start := 0; start < 2000; start += 100 {
		rows := make([][]*float64, 0, 100)
		for i := start; i < start+100; i++ {
			row := make([]*float64, len(names))
			for j, v := range tb.Row(i) {
				if v == v {
					x := float64(v)
					row[j] = &x
				}
			}
			rows = append(rows, row)
		}
		body, _ := json.Marshal(rows)
		if resp := send(t, nil, "POST", s.url+"/score", "application/json", string(body)); resp.status != 200 {
			t.Fatalf("score: %d %s", resp.status, resp.body)
		}
	}
	var report struct {
		Window struct {
			Rows int `json:"rows"`
		} `json:"window"`
		Violations struct {
			Violations []struct {
				Feature string `json:"feature_name"`
				Check   string `json:"constraint_check_type"`
			} `json:"violations"`
		} `json:"constraint_violations"`
	}
	testutil.EventuallyState(t, 20*time.Second, "2000 rows in the monitoring window", func() (bool, string) {
		resp := send(t, nil, "GET", s.url+"/v1/monitoring", "", "")
		if resp.status != 200 {
			t.Fatalf("monitoring: %d %s", resp.status, resp.body)
		}
		resp.json(t, &report)
		return report.Window.Rows >= 2000, fmt.Sprintf("%d rows", report.Window.Rows)
	})
	drifted := false
	for _, v := range report.Violations.Violations {
		drifted = drifted || (v.Feature == "company_size_log" && v.Check == "baseline_drift_check")
	}
	if report.Window.Rows < 2000 || !drifted {
		t.Errorf("window %d rows, violations %+v: want drift on company_size_log", report.Window.Rows, report.Violations.Violations)
	}
	if resp := send(t, nil, "GET", s.url+"/metrics", "", ""); !strings.Contains(string(resp.body), "leadscore_monitor_") {
		t.Error("no monitor gauges in /metrics")
	}
	fb := send(t, nil, "POST", s.url+"/v1/feedback", "application/json", `{"lead_id":"x","converted":1}`)
	if fb.status/100 != 2 || !strings.Contains(string(fb.body), `"stored":true`) {
		t.Errorf("feedback: %d %s", fb.status, fb.body)
	}
	if bad := send(t, nil, "POST", s.url+"/v1/feedback", "application/json", `{"converted":7}`); bad.status/100 != 4 {
		t.Errorf("bad feedback: %d %s", bad.status, bad.body)
	}
	if resp := send(t, nil, "GET", s.url+"/metrics", "", ""); !strings.Contains(string(resp.body), "leadscore_capture_feedback_outcomes_total 1") {
		t.Error("no leadscore_capture_feedback_outcomes_total 1 in /metrics")
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if got := lakeRows(t, filepath.Join(lake, "groundtruth")); got != 1 {
		t.Errorf("groundtruth holds %d outcomes, want 1", got)
	}
}

// lakeRows counts the rows in every Parquet file under dir.
func lakeRows(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	walkParquet(t, dir, func(_ string, pf *parquet.File) { n += pf.NumRows() })
	return n
}

// walkParquet opens every Parquet file under dir (outcomes under
// groundtruth/ included) and hands it to fn.
func walkParquet(t *testing.T, dir string, fn func(path string, pf *parquet.File)) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".parquet" {
			return err
		}
		f, err := os.Open(p) // #nosec G122 -- a t.TempDir the test wrote
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		fn(p, pf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// scoreLeads posts batches of fixture rows and returns how many were
// scored.
func scoreLeads(t *testing.T, url string, f fixture, batches int) int64 {
	t.Helper()
	var n int64
	for i := 0; i < batches; i++ {
		resp := send(t, nil, "POST", url+"/score", "application/json", f.rowsJSON(f.Rows))
		if resp.status != 200 {
			t.Fatalf("score: %d %s", resp.status, resp.body)
		}
		n += int64(len(f.Rows))
	}
	return n
}

// testServeLake checks the data lake's durability through the real binary:
// after SIGTERM every scored row is in a closed Parquet file; after SIGKILL
// the next start replays the journal, so rows synced before the kill are
// not lost.
func testServeLake(t *testing.T, bin string) {
	f := loadFixture(t)
	dir := t.TempDir()
	env := []string{"LEADSCORE_LAKE_DIR=" + dir}

	s := startServer(t, bin, env)
	sent := scoreLeads(t, s.url, f, 5)
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if got := lakeRows(t, dir); got != sent {
		t.Fatalf("after SIGTERM the lake holds %d rows, %d were scored", got, sent)
	}

	s = startServer(t, bin, env, "--lake-sync-interval", "20ms")
	sent += scoreLeads(t, s.url, f, 5)
	time.Sleep(500 * time.Millisecond) // well past the group-commit interval
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.wait()
	s = startServer(t, bin, env) // replays the journal
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if got := lakeRows(t, dir); got != sent {
		t.Fatalf("after SIGKILL and restart the lake holds %d rows, %d were scored", got, sent)
	}
}
