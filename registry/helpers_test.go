package registry

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// modelFixture is a small binary:logistic model written by XGBoost 1.7.4
// (testdata/xgboost/gen_fixtures.py made it).
var modelFixture = filepath.Join("..", "testdata", "xgboost", "bs_logistic_0p2", "model.json")

// makeBundle writes a bundle directory: manifest (name, version), the
// fixture model and a baseline file holding stats, so that bundles of
// different stats differ in content.
func makeBundle(t *testing.T, name, version, stats string) string {
	t.Helper()
	dir := t.TempDir()
	model, err := os.ReadFile(modelFixture)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{"name": name, "version": version, "model": "model.json", "baseline": "baseline"}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"manifest.json":            raw,
		"model.json":               model,
		"baseline/statistics.json": []byte(stats),
		"baseline/.hidden":         []byte("not part of the bundle"),
		"README.md":                []byte("not part of the bundle either"),
	}
	for rel, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeS3 serves an in-memory S3 on 127.0.0.1 with the bucket "models" and
// returns its URL.
func fakeS3(t *testing.T) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("models"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return srv.URL
}

// s3Options reach the fake S3 with static credentials.
func s3Options(url string) Options {
	return Options{S3: S3Config{Region: "us-east-1", Endpoint: url, PathStyle: true, AccessKeyID: "test", SecretAccessKey: "test"}}
}

// backends opens an empty registry on each backend: a directory and
// s3://models/<prefix> on a fake S3.
func backends(t *testing.T) map[string]struct {
	root string
	opts Options
} {
	t.Helper()
	url := fakeS3(t)
	o := s3Options(url)
	o.CacheDir = t.TempDir()
	return map[string]struct {
		root string
		opts Options
	}{
		"dir": {root: filepath.Join(t.TempDir(), "registry"), opts: Options{}},
		"s3":  {root: "s3://models/team/registry", opts: o},
	}
}

// clock is a test clock that advances one second per reading; safe for
// concurrent use.
func clock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
