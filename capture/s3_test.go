package capture

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/leadscore/leadscore"
	lakefmt "github.com/leadscore/leadscore/lake"
	"github.com/leadscore/leadscore/lake/s3"
)

// fakeS3 is an in-process S3 on 127.0.0.1 that can be switched off.
type fakeS3 struct {
	backend *s3mem.Backend
	srv     *httptest.Server
	down    atomic.Bool
	puts    atomic.Int64
}

const testBucket = "lake"

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	f := &fakeS3{backend: s3mem.New()}
	if err := f.backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(f.backend).Server()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodPut {
			f.puts.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeS3) client(t *testing.T, prefix string) *s3.Client {
	t.Helper()
	c, err := s3.New(context.Background(), s3.Config{
		Bucket: testBucket, Prefix: prefix, Region: "eu-west-1",
		Endpoint: f.srv.URL, PathStyle: true,
		AccessKeyID: "AKIDTEST", SecretAccessKey: "not-a-secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// objects returns the bucket's keys and contents.
func (f *fakeS3) objects(t *testing.T) map[string][]byte {
	t.Helper()
	list, err := f.backend.ListBucket(testBucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, o := range list.Contents {
		obj, err := f.backend.GetObject(testBucket, o.Key, nil)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(obj.Contents)
		_ = obj.Contents.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[o.Key] = data
	}
	return out
}

// readBucket reads every object under prefix as lake rows.
func (f *fakeS3) readBucket(t *testing.T, prefix string) []lakeRow {
	t.Helper()
	var rows []lakeRow
	for key, data := range f.objects(t) {
		rel, ok := key, true
		if prefix != "" {
			rel, ok = strings.CutPrefix(key, prefix+"/")
		}
		if !ok || !strings.HasSuffix(key, ".parquet") {
			t.Fatalf("unexpected object %s", key)
		}
		rows = append(rows, readParquet(t, rel, data)...)
	}
	sortRows(rows)
	return rows
}

func TestS3Upload(t *testing.T) {
	fake := newFakeS3(t)
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir, Uploader: fake.client(t, "captures/prod")}, nil)
	recs := makeRecords(2000, t0, 2*time.Second)
	w.Capture(recs)
	closeWriter(t, w)

	objs := fake.objects(t)
	keys := make([]string, 0, len(objs))
	for k := range objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != 3 {
		t.Fatalf("objects %v, want one per hour partition", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "captures/prod/predictions/dt=2025-11-26/hour=") || path.Ext(k) != ".parquet" {
			t.Fatalf("key %s", k)
		}
	}
	checkRows(t, fake.readBucket(t, "captures/prod"), recs)
	// Uploaded files are removed locally, partition folders too.
	if files := lakeFiles(t, dir); len(files) != 0 {
		t.Fatalf("local files after upload: %v", files)
	}
	for _, e := range mustReadDir(t, dir) {
		if e.Name() != journalDir && (e.Name() != lakefmt.PredictionsDir || len(mustReadDir(t, filepath.Join(dir, e.Name()))) != 0) {
			t.Fatalf("local dir holds %s", e.Name())
		}
	}
	s := w.Stats()
	if s.Uploads != 3 || s.UploadFailures != 0 || s.BacklogFiles != 0 || s.BacklogBytes != 0 || s.LocalBytes != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestS3OutageBacklogDrains(t *testing.T) {
	fake := newFakeS3(t)
	fake.down.Store(true)
	dir := t.TempDir()
	logs := &logBuffer{}
	w := newTestWriter(t, Config{Dir: dir, RollAge: 20 * time.Millisecond, SyncInterval: 5 * time.Millisecond,
		Uploader: fake.client(t, "lake")}, logs)

	var sent []leadscore.Record
	batch := func(i int) {
		recs := makeRecords(100, t0.Add(time.Duration(i)*time.Minute), time.Millisecond)
		for j := range recs {
			recs[j].InferenceID = recs[j].InferenceID + "-" + string(rune('a'+i))
		}
		w.Capture(recs)
		sent = append(sent, recs...)
	}
	// While S3 is down, closed files pile up locally and capture reports
	// itself unhealthy.
	for i := 0; i < 3; i++ {
		batch(i)
		want := int64(i + 1)
		eventually(t, "a file in the backlog", func() bool { return w.Stats().BacklogFiles == want })
	}
	eventually(t, "failed attempts", func() bool { s := w.Stats(); return s.UploadFailures >= 2 && s.UploadRetries >= 1 })
	if w.Healthy() {
		t.Fatal("healthy while S3 is down")
	}
	if n := len(lakeFiles(t, dir)); n != 3 {
		t.Fatalf("%d local files, want 3 waiting", n)
	}
	s := w.Stats()
	if s.BacklogBytes <= 0 || s.LocalBytes < s.BacklogBytes || s.Uploads != 0 {
		t.Fatalf("stats during outage %+v", s)
	}
	if !strings.Contains(logs.String(), "upload failed") {
		t.Fatalf("no upload failure logged: %s", logs)
	}

	// S3 is back: the backlog drains by itself.
	fake.down.Store(false)
	eventually(t, "the backlog to drain", func() bool { return w.Stats().BacklogFiles == 0 })
	if !w.Healthy() {
		t.Fatalf("unhealthy after the backlog drained: %+v", w.Stats())
	}
	batch(3)
	closeWriter(t, w)
	checkRows(t, fake.readBucket(t, "lake"), sent)
	if files := lakeFiles(t, dir); len(files) != 0 {
		t.Fatalf("local files left: %v", files)
	}
	if s := w.Stats(); s.Uploads != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestS3BacklogBound(t *testing.T) {
	fake := newFakeS3(t)
	fake.down.Store(true)
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir, RollAge: 10 * time.Millisecond, SyncInterval: 5 * time.Millisecond,
		MaxLocalBytes: 1000, Uploader: fake.client(t, "")}, nil)
	first := makeRecords(200, t0, time.Millisecond)
	w.Capture(first)
	eventually(t, "the first file in the backlog", func() bool { return w.Stats().BacklogFiles == 1 })
	if s := w.Stats(); s.LocalBytes < 1000 {
		t.Fatalf("test needs a backlog over the bound: %+v", s)
	}
	// Over the bound: new records are dropped and counted, not queued.
	w.Capture(makeRecords(50, t0, time.Millisecond))
	if got := w.Stats().Dropped[DropBacklogFull]; got != 50 {
		t.Fatalf("backlog_full = %d, want 50", got)
	}
	fake.down.Store(false)
	eventually(t, "the backlog to drain", func() bool { return w.Stats().LocalBytes < 1000 })
	second := makeRecords(10, t0.Add(time.Minute), time.Millisecond)
	for i := range second {
		second[i].InferenceID = "second-" + second[i].InferenceID
	}
	w.Capture(second)
	closeWriter(t, w)
	checkRows(t, fake.readBucket(t, ""), append(first, second...))
}

func TestS3BacklogFromPreviousRun(t *testing.T) {
	fake := newFakeS3(t)
	fake.down.Store(true)
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir, RollAge: 20 * time.Millisecond, Uploader: fake.client(t, "p")}, nil)
	recs := makeRecords(500, t0, 5*time.Second)
	w.Capture(recs)
	eventually(t, "both files in the backlog", func() bool { return w.Stats().BacklogFiles == 2 })
	// S3 stays down through shutdown: Close gives up when its context ends
	// and leaves the files for the next run.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := w.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "2 file(s) not uploaded") {
		t.Fatalf("close: %v", err)
	}
	if n := len(lakeFiles(t, dir)); n != 2 {
		t.Fatalf("%d local files, want 2", n)
	}
	assertNoLeftovers(t, dir)

	fake.down.Store(false)
	logs := &logBuffer{}
	w = newTestWriter(t, Config{Dir: dir, Uploader: fake.client(t, "p")}, logs)
	closeWriter(t, w)
	checkRows(t, fake.readBucket(t, "p"), recs)
	if s := w.Stats(); s.Uploads != 2 {
		t.Fatalf("stats %+v", s)
	}
	if !strings.Contains(logs.String(), "upload backlog from a previous run") {
		t.Fatalf("logs: %s", logs)
	}
	if n := len(lakeFiles(t, dir)); n != 0 {
		t.Fatalf("%d local files left", n)
	}
}

// A crash with S3 on: replayed records are uploaded once.
func TestS3CrashRecovery(t *testing.T) {
	fake := newFakeS3(t)
	dir := t.TempDir()
	recs := makeRecords(1000, t0, 5*time.Second)
	crashAfterJournal(t, Config{Dir: dir, Uploader: fake.client(t, "x")}, recs)
	w := newTestWriter(t, Config{Dir: dir, Uploader: fake.client(t, "x")}, nil)
	closeWriter(t, w)
	checkRows(t, fake.readBucket(t, "x"), recs)
}

// uploaderFunc adapts a function to Uploader.
type uploaderFunc func(ctx context.Context, key string, body io.ReadSeeker, size int64) error

func (f uploaderFunc) Upload(ctx context.Context, key string, body io.ReadSeeker, size int64) error {
	return f(ctx, key, body, size)
}

func TestUploaderContract(t *testing.T) {
	dir := t.TempDir()
	var got []string
	up := uploaderFunc(func(_ context.Context, key string, body io.ReadSeeker, size int64) error {
		var buf bytes.Buffer
		n, err := io.Copy(&buf, body)
		if err != nil || n != size || !bytes.HasPrefix(buf.Bytes(), []byte("PAR1")) {
			t.Errorf("upload %s: %d bytes of %d, %v", key, n, size, err)
		}
		got = append(got, key)
		return nil
	})
	w := newTestWriter(t, Config{Dir: dir, Uploader: up}, nil)
	w.Capture(makeRecords(10, t0.Add(5*time.Minute), time.Second))
	closeWriter(t, w)
	if len(got) != 1 || !strings.HasPrefix(got[0], "predictions/dt=2025-11-26/hour=18/part-") {
		t.Fatalf("keys %v", got)
	}
	if uploaderName(up) == "" || uploaderName(nil) != "none" {
		t.Fatal("uploader names")
	}
}

func mustReadDir(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}
