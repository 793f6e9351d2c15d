package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/leadscore/leadscore/httpapi"
	"github.com/leadscore/leadscore/internal/testutil"
	"github.com/leadscore/leadscore/registry"
)

// regBundle writes a bundle of the demo model under a new version.
func regBundle(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	model, err := os.ReadFile(filepath.Join("..", "..", "bundle", "demo", "model.ubj"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := `{"name": "lead-demo", "version": "` + version + `", "model": "model.ubj"}`
	for name, data := range map[string][]byte{"model.ubj": model, "manifest.json": []byte(manifest)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mustRun runs the CLI and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("leadscore %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestModelRegistryCLI runs the whole lifecycle through the CLI on a local
// registry: push, list, promote (the approval), rollback, package.
func TestModelRegistryCLI(t *testing.T) {
	root := filepath.Join(t.TempDir(), "registry")
	v1, v2 := regBundle(t, "1.0.0"), regBundle(t, "1.1.0")
	t.Setenv("USER", "deployer")

	out := mustRun(t, "model", "push", v1, "--registry", root, "--by", "ci")
	if !regexp.MustCompile(`^pushed lead-demo 1\.0\.0 to .+ \(sha256:[0-9a-f]{64}\)\n$`).MatchString(out) {
		t.Errorf("push output %q", out)
	}
	mustRun(t, "model", "push", "--registry", root, v2) // flags before the bundle, default --by
	out = mustRun(t, "model", "push", v1, "--registry", root)
	if !strings.Contains(out, "already in") {
		t.Errorf("re-push output %q", out)
	}
	mustRun(t, "model", "push", filepath.Join("..", "..", "testdata", "xgboost", "bs_logistic_0p2", "model.json"),
		"--registry", root, "--name", "bare", "--version", "0.1")

	out = mustRun(t, "model", "promote", "lead-demo", "1.0.0", "--stage", "staging", "--registry", root, "--by", "alice")
	if !strings.HasPrefix(out, "promoted lead-demo 1.0.0 to staging, approved by alice at ") {
		t.Errorf("promote output %q", out)
	}
	mustRun(t, "model", "promote", "lead-demo", "1.0.0", "--stage", "prod", "--registry", root, "--by", "alice")
	out = mustRun(t, "model", "promote", "--stage", "prod", "lead-demo", "1.1.0", "--registry", root, "--note", "CHG-42")
	if !strings.HasPrefix(out, "promoted lead-demo 1.1.0 to prod (was 1.0.0), approved by deployer at ") {
		t.Errorf("promote output %q", out)
	}
	out = mustRun(t, "model", "promote", "lead-demo", "1.1.0", "--stage", "prod", "--registry", root)
	if out != "lead-demo 1.1.0 is already in prod\n" {
		t.Errorf("re-promote output %q", out)
	}
	golden(t, "model-list/stdout", mustRun(t, "model", "list", "--registry", root))

	out = mustRun(t, "model", "rollback", "lead-demo", "--stage", "prod", "--registry", root, "--by", "bob")
	if !strings.HasPrefix(out, "rolled back lead-demo in prod to 1.0.0 (was 1.1.0), by bob at ") {
		t.Errorf("rollback output %q", out)
	}
	var listed []registry.VersionInfo
	if err := json.Unmarshal([]byte(mustRun(t, "model", "list", "lead-demo", "--registry", root, "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || !slices.Equal(listed[0].Stages, []string{"staging", "prod"}) || len(listed[1].Stages) != 0 {
		t.Errorf("list --json: %+v", listed)
	}

	// The audit log: one JSON object per line, with who and what.
	f, err := os.Open(filepath.Join(root, "lead-demo", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e registry.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		lines = append(lines, e.Action+" "+e.Version+" "+e.Stage+" "+e.By+" "+e.Note)
	}
	want := []string{
		"push 1.0.0  ci ", "push 1.1.0  deployer ",
		"promote 1.0.0 staging alice ", "promote 1.0.0 prod alice ",
		"promote 1.1.0 prod deployer CHG-42", "rollback 1.0.0 prod bob ",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("audit log\n got %q\nwant %q", lines, want)
	}

	// package: from a bundle directory and from a registry reference.
	tarball := filepath.Join(t.TempDir(), "out", "model.tar.gz")
	out = mustRun(t, "model", "package", v2, "--out", tarball)
	if !strings.HasPrefix(out, "wrote "+tarball) {
		t.Errorf("package output %q", out)
	}
	if got := tarNames(t, tarball); !slices.Equal(got, []string{"manifest.json", "model.ubj"}) {
		t.Errorf("model.tar.gz holds %q", got)
	}
	mustRun(t, "model", "package", "registry:"+root+"#lead-demo@prod", "--out", tarball)
	if got := tarNames(t, tarball); !slices.Equal(got, []string{"manifest.json", "model.ubj"}) {
		t.Errorf("model.tar.gz from the registry holds %q", got)
	}
}

// tarNames lists a model.tar.gz's entries.
func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for range 100 {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
	return names
}

func TestModelRegistryCLIErrors(t *testing.T) {
	root := t.TempDir()
	v1 := regBundle(t, "1")
	mustRun(t, "model", "push", v1, "--registry", root)
	changed := regBundle(t, "1")
	if err := os.WriteFile(filepath.Join(changed, "extra-but-ignored"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LEADSCORE_REGISTRY", "")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"model", "push", v1}, 2, "--registry is required"},
		{[]string{"model", "push", "--registry", root}, 2, "BUNDLE"},
		{[]string{"model", "push", filepath.Join(root, "missing"), "--registry", root}, 2, "bad bundle"},
		{[]string{"model", "push", v1, "--registry", root, "--version", "2/3"}, 1, "version"},
		{[]string{"model", "promote", "lead-demo", "--stage", "prod", "--registry", root}, 2, "NAME VERSION"},
		{[]string{"model", "promote", "lead-demo", "1", "--registry", root}, 2, "--stage"},
		{[]string{"model", "promote", "lead-demo", "9", "--stage", "prod", "--registry", root}, 1, "not found"},
		{[]string{"model", "promote", "lead-demo", "1", "--stage", "live", "--registry", root}, 1, "stage"},
		{[]string{"model", "rollback", "lead-demo", "--stage", "prod", "--registry", root}, 1, "no earlier version"},
		{[]string{"model", "rollback", "--registry", root}, 2, "rollback NAME"},
		{[]string{"model", "list", "a", "b", "--registry", root}, 2, "NAME"},
		{[]string{"model", "list", "--registry", "ftp://x"}, 1, "s3://"},
		{[]string{"model", "package"}, 2, "BUNDLE"},
		{[]string{"model", "package", filepath.Join(root, "nope"), "--out", filepath.Join(t.TempDir(), "m.tgz")}, 2, "bad bundle"},
		{[]string{"model", "package", "registry:" + root + "#lead-demo@prod", "--out", filepath.Join(t.TempDir(), "m.tgz")}, 1, "no version in prod"},
		{[]string{"model", "list", "--registry", root, "--bogus"}, 2, "bogus"},
	} {
		code, _, errOut := runCLI(t, "", tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("leadscore %s: exit %d (want %d), stderr %q (want %q)", strings.Join(tc.args, " "), code, tc.code, errOut, tc.msg)
		}
	}
	if out := mustRun(t, "model", "list", "--registry", t.TempDir()); !strings.HasPrefix(out, "no models in ") {
		t.Errorf("empty list %q", out)
	}
	if out := mustRun(t, "model", "list", "--registry", t.TempDir(), "--json"); out != "[]\n" {
		t.Errorf("empty list --json %q", out)
	}
	golden(t, "model-help/stdout", mustRun(t, "model", "help"))
	for _, sub := range []string{"push", "list", "promote", "rollback", "package"} {
		code, out, _ := runCLI(t, "", "model", sub, "-h")
		if code != 0 || !strings.Contains(out, "Usage: leadscore model "+sub) {
			t.Errorf("model %s -h: exit %d, %q", sub, code, out)
		}
	}
}

// TestModelRegistryCLIS3 pushes and promotes through the CLI into an
// S3-compatible server on 127.0.0.1 (gofakes3) with static credentials
// from the environment, as CI or an operator would.
func TestModelRegistryCLIS3(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("models"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("LEADSCORE_S3_ENDPOINT", srv.URL)
	t.Setenv("LEADSCORE_S3_PATH_STYLE", "true")
	t.Setenv("LEADSCORE_REGISTRY", "s3://models/leadscore")
	t.Setenv("LEADSCORE_REGISTRY_CACHE", t.TempDir())

	mustRun(t, "model", "push", regBundle(t, "2.0.0"), "--by", "ci")
	mustRun(t, "model", "promote", "lead-demo", "2.0.0", "--stage", "prod", "--by", "alice")
	if out := mustRun(t, "model", "list"); !strings.Contains(out, "lead-demo  2.0.0    prod") {
		t.Errorf("list:\n%s", out)
	}
	// The objects sit where docs/deploy.md says.
	objs, err := backend.ListBucket("models", nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs.Contents {
		keys = append(keys, o.Key)
	}
	want := []string{
		"leadscore/lead-demo/2.0.0/manifest.json", "leadscore/lead-demo/2.0.0/model.ubj",
		"leadscore/lead-demo/2.0.0/push-claim.json", // the push's claim (docs/deploy.md)
		"leadscore/lead-demo/audit.log", "leadscore/lead-demo/stages.json",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("bucket holds %q, want %q", keys, want)
	}
	tarball := filepath.Join(t.TempDir(), "model.tar.gz")
	mustRun(t, "model", "package", "registry:s3://models/leadscore#lead-demo@prod", "--out", tarball)
	if got := tarNames(t, tarball); !slices.Equal(got, []string{"manifest.json", "model.ubj"}) {
		t.Errorf("model.tar.gz holds %q", got)
	}
	t.Setenv("LEADSCORE_S3_PATH_STYLE", "sometimes")
	if code, _, errOut := runCLI(t, "", "model", "list"); code != 2 || !strings.Contains(errOut, "LEADSCORE_S3_PATH_STYLE") {
		t.Errorf("bad path style: exit %d, %q", code, errOut)
	}
}

// TestServeFollowsRegistry wires registry.Follow into the HTTP server the
// way docs/deploy.md tells serve to: requests keep succeeding while a
// promotion and a rollback swap the model underneath.
func TestServeFollowsRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root := t.TempDir()
	mustRun(t, "model", "push", regBundle(t, "1.0.0"), "--registry", root)
	mustRun(t, "model", "push", regBundle(t, "1.1.0"), "--registry", root)
	mustRun(t, "model", "promote", "lead-demo", "1.0.0", "--stage", "prod", "--registry", root)

	f, err := registry.Follow(ctx, "registry:"+root+"#lead-demo@prod", registry.Options{WatchInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpapi.New(ctx, httpapi.Config{
		Loader: f.Loader(),
	})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = f.Watch(wctx, func(reason string) { _ = srv.Reload(wctx, reason) })
	}()

	// Score continuously (bounded) while the model changes.
	body := loadRef(t, 1).rows
	var failures, requests atomic.Int64
	stopLoad := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 100000 {
			select {
			case <-stopLoad:
				return
			default:
			}
			w := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/score", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			srv.ServeHTTP(w, req)
			requests.Add(1)
			if w.Code != 200 {
				failures.Add(1)
			}
		}
	}()
	waitVersion := func(want string) {
		t.Helper()
		testutil.EventuallyState(t, 20*time.Second, "version "+want, func() (bool, string) {
			v := srv.Model().Version
			return v == want, "serving " + v
		})
	}
	waitVersion("1.0.0")
	mustRun(t, "model", "promote", "lead-demo", "1.1.0", "--stage", "prod", "--registry", root)
	waitVersion("1.1.0")
	mustRun(t, "model", "rollback", "lead-demo", "--stage", "prod", "--registry", root)
	waitVersion("1.0.0")
	close(stopLoad)
	stopWatch()
	wg.Wait()
	if requests.Load() == 0 || failures.Load() != 0 {
		t.Errorf("%d of %d requests failed during the swaps", failures.Load(), requests.Load())
	}
	t.Logf("%d requests scored across a promotion and a rollback, %d failed", requests.Load(), failures.Load())
}
