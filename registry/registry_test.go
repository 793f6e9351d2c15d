package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/leadscore/leadscore/bundle"
)

// TestLifecycle pushes, lists, promotes and rolls back on each backend and
// checks stages.json and the audit log.
func TestLifecycle(t *testing.T) {
	for backend, b := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := testContext(t)
			b.opts.Now = clock()
			reg, err := Open(ctx, b.root, b.opts)
			if err != nil {
				t.Fatal(err)
			}
			if vs, err := reg.Versions(ctx, ""); err != nil || len(vs) != 0 {
				t.Fatalf("empty registry lists %v, %v", vs, err)
			}
			v1 := makeBundle(t, "lead", "1", `{"n":1}`)
			v2 := makeBundle(t, "lead", "2", `{"n":2}`)
			v10 := makeBundle(t, "lead", "10", `{"n":10}`)
			for _, src := range []string{v1, v2, v10} {
				ev, created, err := reg.Push(ctx, src, PushOptions{By: "ci"})
				if err != nil || !created {
					t.Fatalf("push %s: created %v, %v", src, created, err)
				}
				if !strings.HasPrefix(ev.Digest, "sha256:") || ev.By != "ci" || ev.Action != ActionPush {
					t.Errorf("push event %+v", ev)
				}
			}
			// Immutability: the same content again is a no-op, other
			// content under the same version an error.
			if _, created, err := reg.Push(ctx, v1, PushOptions{By: "ci"}); err != nil || created {
				t.Errorf("re-push of identical 1: created %v, %v", created, err)
			}
			other := makeBundle(t, "lead", "1", `{"n":"changed"}`)
			if _, _, err := reg.Push(ctx, other, PushOptions{By: "ci"}); !errors.Is(err, ErrVersionExists) {
				t.Errorf("push of changed 1: %v, want ErrVersionExists", err)
			}

			mustPromote := func(version, stage, by string) Event {
				t.Helper()
				ev, err := reg.Promote(ctx, "lead", version, stage, by, "ticket-"+version)
				if err != nil {
					t.Fatal(err)
				}
				return ev
			}
			mustPromote("1", StageStaging, "alice")
			mustPromote("1", StageProd, "bob")
			mustPromote("2", StageStaging, "alice")
			ev := mustPromote("2", StageProd, "bob")
			if ev.From != "1" || ev.Version != "2" || ev.By != "bob" || ev.Time.IsZero() {
				t.Errorf("promote event %+v", ev)
			}
			if again := mustPromote("2", StageProd, "bob"); again.From != "2" {
				t.Errorf("re-promote: %+v, want a no-op", again)
			}
			if _, err := reg.Promote(ctx, "lead", "3", StageProd, "bob", ""); !errors.Is(err, ErrNotFound) {
				t.Errorf("promote of a missing version: %v", err)
			}
			if _, err := reg.Promote(ctx, "lead", "1", "qa", "bob", ""); err == nil {
				t.Error("promote to an unknown stage succeeded")
			}

			vs, err := reg.Versions(ctx, "lead")
			if err != nil {
				t.Fatal(err)
			}
			want := []VersionInfo{
				{Name: "lead", Version: "1"},
				{Name: "lead", Version: "2", Stages: []string{StageStaging, StageProd}},
				{Name: "lead", Version: "10"},
			}
			if !reflect.DeepEqual(vs, want) {
				t.Errorf("versions\n got %+v\nwant %+v", vs, want)
			}

			rb, err := reg.Rollback(ctx, "lead", StageProd, "carol", "bad metrics")
			if err != nil {
				t.Fatal(err)
			}
			if rb.Version != "1" || rb.From != "2" || rb.By != "carol" {
				t.Errorf("rollback event %+v", rb)
			}
			if _, err := reg.Rollback(ctx, "lead", StageProd, "carol", ""); !errors.Is(err, ErrNotFound) {
				t.Errorf("second rollback: %v, want ErrNotFound (nothing before 1)", err)
			}
			if v, err := reg.StageVersion(ctx, "lead", StageProd); err != nil || v != "1" {
				t.Errorf("prod serves %q, %v; want 1", v, err)
			}
			st, err := reg.Stages(ctx, "lead")
			if err != nil {
				t.Fatal(err)
			}
			if p := st.Stages[StageProd]; p.PromotedBy != "carol" || len(p.Previous) != 0 {
				t.Errorf("prod state %+v", p)
			}
			if s := st.Stages[StageStaging]; s.Version != "2" || !reflect.DeepEqual(s.Previous, []string{"1"}) {
				t.Errorf("staging state %+v", s)
			}
			if len(st.History) != 5 {
				t.Errorf("history has %d events, want 5", len(st.History))
			}

			audit, err := reg.Audit(ctx, "lead")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range audit {
				got = append(got, fmt.Sprintf("%s %s %s from=%s by=%s", e.Action, e.Version, e.Stage, e.From, e.By))
				if e.Time.IsZero() || e.Name != "lead" {
					t.Errorf("audit event %+v", e)
				}
			}
			wantAudit := []string{
				"push 1  from= by=ci",
				"push 2  from= by=ci",
				"push 10  from= by=ci",
				"promote 1 staging from= by=alice",
				"promote 1 prod from= by=bob",
				"promote 2 staging from=1 by=alice",
				"promote 2 prod from=1 by=bob",
				"rollback 1 prod from=2 by=carol",
			}
			if !reflect.DeepEqual(got, wantAudit) {
				t.Errorf("audit log\n got %q\nwant %q", got, wantAudit)
			}
			if audit[6].Note != "ticket-2" || audit[7].Note != "bad metrics" {
				t.Errorf("notes: %q, %q", audit[6].Note, audit[7].Note)
			}
			for i := 1; i < len(audit); i++ {
				if !audit[i].Time.After(audit[i-1].Time) {
					t.Errorf("audit times out of order at %d", i)
				}
			}

			// The stored version is the bundle: it loads, and the stray
			// files of the source are not part of it.
			dir, err := reg.Fetch(ctx, "lead", "2", b.opts.CacheDir)
			if err != nil {
				t.Fatal(err)
			}
			bd, err := bundle.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if info := bd.Info(); info.Name != "lead" || info.Version != "2" {
				t.Errorf("fetched bundle is %s %s", info.Name, info.Version)
			}
			if stats, err := bd.ReadBaseline("statistics.json"); err != nil || string(stats) != `{"n":2}` {
				t.Errorf("baseline: %q, %v", stats, err)
			}
			for _, stray := range []string{"README.md", "baseline/.hidden"} {
				if _, err := os.Stat(filepath.Join(dir, stray)); err == nil {
					t.Errorf("%s was pushed", stray)
				}
			}
			again, err := reg.Fetch(ctx, "lead", "2", b.opts.CacheDir)
			if err != nil || again != dir {
				t.Errorf("second fetch: %q, %v; want the cached %q", again, err, dir)
			}
		})
	}
}

// TestPushOverrides covers --name/--version, bare model files and the
// generated version.
func TestPushOverrides(t *testing.T) {
	ctx := testContext(t)
	reg := New(NewDirStore(t.TempDir()), clock())
	src := makeBundle(t, "lead", "1", "{}")
	ev, _, err := reg.Push(ctx, src, PushOptions{Name: "other", Version: "7.0.1"})
	if err != nil || ev.Name != "other" || ev.Version != "7.0.1" {
		t.Fatalf("push with overrides: %+v, %v", ev, err)
	}
	dir, err := reg.Fetch(ctx, "other", "7.0.1", "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := bundle.ParseManifest(m)
	if err != nil || pm.Name != "other" || pm.Version != "7.0.1" || pm.Baseline != "baseline" {
		t.Errorf("stored manifest %+v, %v", pm, err)
	}

	// A bare model file: a generated manifest and a content-derived
	// version, stable across pushes.
	ev1, created, err := reg.Push(ctx, modelFixture, PushOptions{})
	if err != nil || !created {
		t.Fatalf("push bare model: %v", err)
	}
	if ev1.Name != "model" || !strings.HasPrefix(ev1.Version, "sha-") || len(ev1.Version) != 16 {
		t.Errorf("bare model pushed as %s %s", ev1.Name, ev1.Version)
	}
	ev2, created, err := reg.Push(ctx, modelFixture, PushOptions{})
	if err != nil || created || ev2.Version != ev1.Version {
		t.Errorf("second bare push: %+v created %v, %v", ev2, created, err)
	}
	dir, err = reg.Fetch(ctx, "model", ev1.Version, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Load(dir); err != nil {
		t.Errorf("pushed bare model does not load as a bundle: %v", err)
	}

	for _, tc := range []struct {
		name string
		src  string
		opts PushOptions
	}{
		{"missing", filepath.Join(t.TempDir(), "nope"), PushOptions{}},
		{"not a model", writeTemp(t, "junk.json", "{}"), PushOptions{}},
		{"bad name", src, PushOptions{Name: "../x"}},
		{"bad version", src, PushOptions{Version: ".hidden"}},
	} {
		if _, _, err := reg.Push(ctx, tc.src, tc.opts); err == nil {
			t.Errorf("%s: push succeeded", tc.name)
		} else if tc.name == "missing" || tc.name == "not a model" {
			if !errors.Is(err, ErrBadBundle) {
				t.Errorf("%s: %v is not ErrBadBundle", tc.name, err)
			}
		}
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConcurrentPromotions races promotions from several goroutines on each
// backend: every one lands, none is lost from the history or the audit log.
func TestConcurrentPromotions(t *testing.T) {
	for backend, b := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := testContext(t)
			b.opts.Now = clock()
			reg, err := Open(ctx, b.root, b.opts)
			if err != nil {
				t.Fatal(err)
			}
			const n = 4
			for i := range n {
				if _, _, err := reg.Push(ctx, makeBundle(t, "lead", fmt.Sprint(i), fmt.Sprint(i)), PushOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := reg.Promote(ctx, "lead", fmt.Sprint(i), StageProd, fmt.Sprint("user", i), "")
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			st, err := reg.Stages(ctx, "lead")
			if err != nil {
				t.Fatal(err)
			}
			if len(st.History) != n || len(st.Stages[StageProd].Previous) != n-1 {
				t.Errorf("history %d events, %d previous; want %d, %d", len(st.History), len(st.Stages[StageProd].Previous), n, n-1)
			}
			audit, err := reg.Audit(ctx, "lead")
			if err != nil {
				t.Fatal(err)
			}
			if len(audit) != 2*n {
				t.Errorf("audit log has %d events, want %d", len(audit), 2*n)
			}
		})
	}
}

func TestBadNames(t *testing.T) {
	ctx := testContext(t)
	reg := New(NewDirStore(t.TempDir()), nil)
	if _, err := reg.Stages(ctx, "a/b"); err == nil {
		t.Error("Stages accepted a/b")
	}
	if _, err := reg.Audit(ctx, ""); err == nil {
		t.Error("Audit accepted an empty name")
	}
	if _, err := reg.Versions(ctx, "-x"); err == nil {
		t.Error("Versions accepted -x")
	}
	if _, err := reg.HasVersion(ctx, "a", "b/c"); err == nil {
		t.Error("HasVersion accepted b/c")
	}
	if _, err := reg.Rollback(ctx, "a", "dev", "x", ""); err == nil {
		t.Error("Rollback accepted stage dev")
	}
	if _, err := reg.Rollback(ctx, "a b", StageProd, "x", ""); err == nil {
		t.Error("Rollback accepted name 'a b'")
	}
	if _, err := reg.StageVersion(ctx, "a", StageProd); !errors.Is(err, ErrNotFound) {
		t.Errorf("StageVersion of nothing: %v", err)
	}
	if _, err := reg.Fetch(ctx, "a", "1", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("Fetch of nothing: %v", err)
	}
	if reg.String() == "" || reg.Store() == nil {
		t.Error("String or Store empty")
	}
}

func TestCorruptMetadata(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	reg := New(NewDirStore(dir), nil)
	if err := os.MkdirAll(filepath.Join(dir, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	for file, content := range map[string]string{StagesFile: "{", AuditFile: "{\"action\":\"push\"}\nnot json\n"} {
		if err := os.WriteFile(filepath.Join(dir, "m", file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.Stages(ctx, "m"); err == nil {
		t.Error("corrupt stages.json read")
	}
	if _, err := reg.Audit(ctx, "m"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("corrupt audit log: %v", err)
	}
	if _, err := reg.Rollback(ctx, "m", StageProd, "x", ""); err == nil {
		t.Error("rollback over a corrupt stages.json succeeded")
	}
}

func TestVersionLess(t *testing.T) {
	ordered := []string{"0.9", "1", "1.2", "1.10", "1.10a", "2", "10", "a", "b1", "b02", "b2", "v2", "v10"}
	for i, a := range ordered {
		for j, b := range ordered {
			if got, want := versionLess(a, b), i < j; got != want {
				t.Errorf("versionLess(%q, %q) = %v", a, b, got)
			}
		}
	}
}

func TestUpdateGivesUp(t *testing.T) {
	ctx := testContext(t)
	reg := New(conflictStore{NewDirStore(t.TempDir())}, nil)
	err := reg.update(ctx, "m/x", func([]byte) ([]byte, error) { return []byte("x"), nil })
	if !errors.Is(err, ErrConflict) {
		t.Errorf("update: %v, want ErrConflict", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := reg.update(cctx, "m/x", func([]byte) ([]byte, error) { return []byte("x"), nil }); err == nil {
		t.Error("update with a cancelled context succeeded")
	}
}

// conflictStore loses every conditional write.
type conflictStore struct{ *DirStore }

func (conflictStore) Put(context.Context, string, io.ReadSeeker, int64, Cond) error {
	return ErrConflict
}
