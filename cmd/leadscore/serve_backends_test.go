package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got := checkScores(t, s.url, f); got.Model.Version == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not serving version 2:\n%s", s.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
