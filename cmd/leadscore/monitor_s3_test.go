package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/capture"
	lakes3 "github.com/leadscore/leadscore/lake/s3"
	"github.com/leadscore/leadscore/monitor"
)

// addGroundTruth stores outcomes for the first n rows of each test lake
// hour (inference ids inference_id0..) through a capture Writer, as serve
// does for POST /v1/feedback.
func addGroundTruth(t *testing.T, lake string, n int) {
	t.Helper()
	w, err := capture.New(capture.Config{Dir: lake}, []string{"x"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)
	var outs []leadscore.Outcome
	for i := range n {
		outs = append(outs, leadscore.Outcome{InferenceID: "inference_id" + strconv.Itoa(i), Converted: i%3 == 0, Time: at})
	}
	w.CaptureFeedback(outs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// readReport reads monitoring.json and constraint_violations.json of a
// monitor run, without the generation time.
func readReport(t *testing.T, out string) (monitor.Report, string) {
	t.Helper()
	var r monitor.Report
	raw, err := os.ReadFile(filepath.Join(out, "monitoring.json"))
	if err != nil || json.Unmarshal(raw, &r) != nil {
		t.Fatalf("monitoring.json: %v", err)
	}
	r.GeneratedAt = time.Time{}
	vs, err := os.ReadFile(filepath.Join(out, monitor.ViolationsFile))
	if err != nil {
		t.Fatal(err)
	}
	return r, string(vs)
}

// TestMonitorGroundTruthAndS3 checks quality from the lake's groundtruth/
// partitions, and that an s3:// lake gives the same results as its local
// copy.
func TestMonitorGroundTruthAndS3(t *testing.T) {
	lake := testLake(t)
	addGroundTruth(t, lake, 1000)
	args := []string{"--until", "2025-06-01T12:00:00Z", "--since", "2h"}

	localOut := filepath.Join(t.TempDir(), "local")
	code, stdout, stderr := runCLI(t, "", append([]string{"monitor", "--lake", lake, "--out", localOut}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "joined 1 groundtruth file of "+lake+": 2000 labelled rows") {
		t.Errorf("stdout: %s", stdout)
	}
	local, localVs := readReport(t, localOut)
	// Rows of both hours carry inference ids 0..2999: 1000 of each are labelled.
	if local.Quality == nil || local.Quality.LabeledRows != 2000 || local.Quality.BinaryClassificationMetrics == nil {
		t.Fatalf("quality %+v", local.Quality)
	}

	// The same lake in S3.
	backend := s3mem.New()
	if err := backend.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	t.Setenv("LEADSCORE_LAKE_S3_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("LEADSCORE_LAKE_S3_SECRET_ACCESS_KEY", "not-a-secret")
	up, err := lakes3.New(context.Background(), lakes3.Config{Bucket: "lake", Prefix: "prod/captures", Region: "eu-west-1",
		Endpoint: srv.URL, PathStyle: true, AccessKeyID: "AKIDTEST", SecretAccessKey: "not-a-secret"})
	if err != nil {
		t.Fatal(err)
	}
	var uploaded int
	err = filepath.WalkDir(lake, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		rel, _ := filepath.Rel(lake, p)
		data, err := os.ReadFile(p) // #nosec G122 -- a t.TempDir the test wrote
		if err != nil {
			return err
		}
		uploaded++
		return up.Upload(context.Background(), filepath.ToSlash(rel), bytes.NewReader(data), int64(len(data)))
	})
	if err != nil || uploaded != 3 {
		t.Fatalf("upload: %v, %d files", err, uploaded)
	}
	// Something outside the partitions is ignored.
	if err := up.Upload(context.Background(), "README.txt", strings.NewReader("hi"), 2); err != nil {
		t.Fatal(err)
	}

	s3Out := filepath.Join(t.TempDir(), "s3")
	code, stdout, stderr = runCLI(t, "", append([]string{"monitor", "--lake", "s3://lake/prod/captures", "--out", s3Out,
		"--lake-s3-endpoint", srv.URL, "--lake-s3-path-style", "--lake-s3-region", "eu-west-1"}, args...)...)
	if code != 0 {
		t.Fatalf("s3: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "read 6000 rows from 2 files of s3://lake/prod/captures") {
		t.Errorf("s3 stdout: %s", stdout)
	}
	remote, remoteVs := readReport(t, s3Out)
	if remoteVs != localVs {
		t.Errorf("violations differ:\nlocal %s\ns3 %s", localVs, remoteVs)
	}
	lj, _ := json.Marshal(local)
	rj, _ := json.Marshal(remote)
	if !bytes.Equal(lj, rj) {
		t.Errorf("reports differ:\nlocal %s\ns3    %s", lj, rj)
	}

	// A bucket that does not exist is an input error.
	code, _, stderr = runCLI(t, "", append([]string{"monitor", "--lake", "s3://nope/x", "--out", t.TempDir(),
		"--lake-s3-endpoint", srv.URL, "--lake-s3-path-style"}, args...)...)
	if code != 2 || !strings.Contains(stderr, "NoSuchBucket") {
		t.Errorf("missing bucket: exit %d, %s", code, stderr)
	}

	// Refused credentials are a failure (1) that says so, not bad input.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code>`+
			`<Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>`)
	}))
	defer refuse.Close()
	code, _, stderr = runCLI(t, "", append([]string{"monitor", "--lake", "s3://lake/x", "--out", t.TempDir(),
		"--s3-endpoint", refuse.URL, "--s3-path-style"}, args...)...)
	if code != 1 || !strings.Contains(stderr, "S3 refused the credentials (InvalidAccessKeyId)") {
		t.Errorf("refused credentials: exit %d, %s", code, stderr)
	}
}
