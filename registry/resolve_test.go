package registry

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/internal/testutil"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
		err  string
	}{
		{in: "registry:/srv/models#lead-demo@prod", want: Ref{Root: "/srv/models", Name: "lead-demo", Stage: "prod"}},
		{in: "registry:s3://bucket/a/b#lead@staging", want: Ref{Root: "s3://bucket/a/b", Name: "lead", Stage: "staging"}},
		{in: "registry:dir#with#hash#m@prod", want: Ref{Root: "dir#with#hash", Name: "m", Stage: "prod"}},
		{in: "/srv/models#lead@prod", err: "want registry:"},
		{in: "registry:/srv/models", err: "missing #"},
		{in: "registry:/srv/models#lead", err: "missing @"},
		{in: "registry:#lead@prod", err: "empty registry root"},
		{in: "registry:/x#../lead@prod", err: "model name"},
		{in: "registry:/x#lead@qa", err: "stage"},
	} {
		got, err := ParseRef(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRef(%q): %v, want an error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, %v", tc.in, got, err)
		}
		if got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
		if !IsRef(tc.in) {
			t.Errorf("IsRef(%q) is false", tc.in)
		}
	}
}

func TestOptionsFromEnv(t *testing.T) {
	env := map[string]string{
		EnvCacheDir: "/var/cache/x", EnvS3Region: "eu-west-1",
		EnvS3Endpoint: "http://127.0.0.1:9000", EnvS3PathStyle: "true",
	}
	o, err := OptionsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.CacheDir != "/var/cache/x" || o.S3.Region != "eu-west-1" || o.S3.Endpoint != "http://127.0.0.1:9000" || !o.S3.PathStyle {
		t.Errorf("options %+v", o)
	}
	env[EnvS3PathStyle] = "maybe"
	if _, err := OptionsFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Error("path style 'maybe' accepted")
	}
}

func TestOpen(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	for root, want := range map[string]string{
		dir:                           dir,
		"file://" + dir:               dir,
		"s3://bucket":                 "s3://bucket",
		"s3://bucket/some/prefix/":    "s3://bucket/some/prefix",
		"gs://bucket/prefix":          "",
		"":                            "",
		"s3:///prefix-without-bucket": "",
	} {
		reg, err := Open(ctx, root, Options{S3: S3Config{Region: "us-east-1", AccessKeyID: "a", SecretAccessKey: "b"}})
		if want == "" {
			if err == nil {
				t.Errorf("Open(%q) succeeded", root)
			}
			continue
		}
		if err != nil || reg.String() != want {
			t.Errorf("Open(%q): %v, %v; want %s", root, reg, err, want)
		}
	}
	if _, err := Open(ctx, "s3://b", Options{S3: S3Config{AccessKeyID: "only-the-id"}}); err == nil {
		t.Error("half the static credentials accepted")
	}
}

// TestResolveAndWatch follows promotions and a rollback through Resolve
// and Watch, on each backend, as `serve --model registry:...` does.
func TestResolveAndWatch(t *testing.T) {
	for backend, b := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := testContext(t)
			reg, err := Open(ctx, b.root, b.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{"1", "2"} {
				if _, _, err := reg.Push(ctx, makeBundle(t, "lead", v, v), PushOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			ref := Ref{Root: b.root, Name: "lead", Stage: StageProd}.String()
			if _, _, err := Resolve(ctx, ref, b.opts); !errors.Is(err, ErrNotFound) {
				t.Errorf("resolve before any promotion: %v", err)
			}
			if _, err := reg.Promote(ctx, "lead", "1", StageProd, "alice", ""); err != nil {
				t.Fatal(err)
			}
			dir, version, err := Resolve(ctx, ref, b.opts)
			if err != nil || version != "1" {
				t.Fatalf("resolve: %q %q %v", dir, version, err)
			}
			checkBundle(t, dir, "1")

			type change struct{ dir, version string }
			changes := make(chan change, 10)
			wctx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Add(1)
			var werr error
			go func() {
				defer wg.Done()
				werr = Watch(wctx, ref, version, 10*time.Millisecond, b.opts, func(d, v string) { changes <- change{d, v} })
			}()
			next := func() change {
				t.Helper()
				select {
				case c := <-changes:
					return c
				case <-time.After(10 * time.Second):
					t.Fatal("no change seen")
					return change{}
				}
			}
			if _, err := reg.Promote(ctx, "lead", "2", StageProd, "alice", ""); err != nil {
				t.Fatal(err)
			}
			c := next()
			if c.version != "2" {
				t.Errorf("after promote: %+v", c)
			}
			checkBundle(t, c.dir, "2")
			if _, err := reg.Rollback(ctx, "lead", StageProd, "bob", ""); err != nil {
				t.Fatal(err)
			}
			c = next()
			if c.version != "1" {
				t.Errorf("after rollback: %+v", c)
			}
			checkBundle(t, c.dir, "1")
			stop()
			wg.Wait()
			if werr != nil {
				t.Errorf("Watch returned %v", werr)
			}
			select {
			case c := <-changes:
				t.Errorf("unexpected change %+v", c)
			default:
			}
		})
	}
}

// checkBundle loads dir and checks its version.
func checkBundle(t *testing.T, dir, version string) {
	t.Helper()
	b, err := bundle.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Info().Version; got != version {
		t.Errorf("%s serves version %s, want %s", dir, got, version)
	}
}

func TestWatchErrors(t *testing.T) {
	ctx := testContext(t)
	noop := func(string, string) {}
	if err := Watch(ctx, "nope", "", time.Second, Options{}, noop); err == nil {
		t.Error("bad reference accepted")
	}
	if err := Watch(ctx, "registry:/x#m@prod", "", 0, Options{}, noop); err == nil {
		t.Error("zero interval accepted")
	}
	if err := Watch(ctx, "registry:gs://x#m@prod", "", time.Second, Options{}, noop); err == nil {
		t.Error("unknown scheme accepted")
	}

	// A stage with nothing promoted: Watch logs once, keeps polling, and
	// calls back with "" as loaded once something is promoted.
	root := t.TempDir()
	var logs syncBuffer
	opts := Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	got := make(chan string, 4)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Watch(wctx, "registry:"+root+"#lead@staging", "", 5*time.Millisecond, opts, func(_, v string) { got <- v })
	}()
	time.Sleep(50 * time.Millisecond)
	reg := New(NewDirStore(root), nil)
	if _, _, err := reg.Push(ctx, makeBundle(t, "lead", "3", "3"), PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Promote(ctx, "lead", "3", StageStaging, "x", ""); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != "3" {
			t.Errorf("got version %q", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no callback")
	}
	stop()
	if err := <-done; err != nil {
		t.Error(err)
	}
	out := logs.String()
	if strings.Count(out, "registry watch failed") != 1 || !strings.Contains(out, "registry watch recovered") {
		t.Errorf("logs:\n%s", out)
	}
}

// syncBuffer is the shared goroutine-safe test buffer.
type syncBuffer = testutil.Buffer

// TestFetchCache checks that a fetch from S3 lands complete in the cache
// and that the default cache is the user cache directory.
func TestFetchCache(t *testing.T) {
	ctx := testContext(t)
	url := fakeS3(t)
	opts := s3Options(url)
	reg, err := Open(ctx, "s3://models", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.Push(ctx, makeBundle(t, "lead", "1", "1"), PushOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir, err := reg.Fetch(ctx, "lead", "1", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, filepath.Join(os.Getenv("XDG_CACHE_HOME"), "leadscore", "registry")) {
		t.Errorf("cached in %s", dir)
	}
	checkBundle(t, dir, "1")
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("cache holds %d entries, want just the version (no temporary folders)", len(entries))
	}
	// A cache that cannot be written is an error, not a partial bundle.
	ro := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(ro, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Fetch(ctx, "lead", "1", ro); err == nil {
		t.Error("fetch into a file succeeded")
	}
}

// TestFollower is what serve does: load from Dir, reload on change.
func TestFollower(t *testing.T) {
	ctx := testContext(t)
	root := t.TempDir()
	reg := New(NewDirStore(root), nil)
	for _, v := range []string{"1", "2"} {
		if _, _, err := reg.Push(ctx, makeBundle(t, "lead", v, v), PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ref := "registry:" + root + "#lead@prod"
	if _, err := Follow(ctx, ref, Options{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("follow before a promotion: %v", err)
	}
	if _, err := reg.Promote(ctx, "lead", "1", StageProd, "a", ""); err != nil {
		t.Fatal(err)
	}
	f, err := Follow(ctx, ref, Options{WatchInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if f.Version() != "1" || f.Ref() != ref {
		t.Errorf("following %s %s", f.Ref(), f.Version())
	}
	checkBundle(t, f.Dir(), "1")
	reloaded := make(chan string, 1)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- f.Watch(wctx, func(reason string) {
			v := f.Version()
			checkBundle(t, f.Dir(), v) // Dir is already the new version
			if reason != "registry: "+v {
				t.Errorf("reason %q for version %s", reason, v)
			}
			reloaded <- v
		})
	}()
	if _, err := reg.Promote(ctx, "lead", "2", StageProd, "a", ""); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-reloaded:
		if v != "2" || f.Version() != "2" {
			t.Errorf("reloaded %s, following %s", v, f.Version())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload")
	}
	stop()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// TestFetchRejectsEscapingKeys: an object key with ".." under a version's
// baseline (written to S3 behind the registry's back) must not make a
// fetch write outside the cache.
func TestFetchRejectsEscapingKeys(t *testing.T) {
	ctx := testContext(t)
	url := fakeS3(t)
	opts := s3Options(url)
	reg, err := Open(ctx, "s3://models/r", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.Push(ctx, makeBundle(t, "lead", "1", "1"), PushOptions{}); err != nil {
		t.Fatal(err)
	}
	api := reg.Store().(*S3Store).api
	if _, err := api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("models"), Key: aws.String("r/lead/1/baseline/../../../../escaped"),
		Body: strings.NewReader("x"),
	}); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "a", "b")
	if _, err := reg.Fetch(ctx, "lead", "1", cache); err == nil || !strings.Contains(err.Error(), "invalid key") {
		t.Errorf("fetch with an escaping key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cache), "escaped")); err == nil {
		t.Error("a file was written outside the cache")
	}
}
