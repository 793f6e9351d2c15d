package capture

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/leadscore/leadscore"
)

// TestRunsOfSharedTimes: records that share their times (a request's),
// runs of them on both sides of an hour's end and back, in one batch,
// each go to their hour's partition.
func TestRunsOfSharedTimes(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	recs := makeRecords(40, t0, time.Second)
	before, after := time.Date(2025, 11, 26, 17, 59, 59, 999_999_000, time.UTC), time.Date(2025, 11, 26, 18, 0, 0, 0, time.UTC)
	for i := range recs {
		recs[i].Time = before
		if (i/5)%2 == 1 {
			recs[i].Time = after
		}
	}
	w.Capture(recs)
	closeWriter(t, w)
	files := lakeFiles(t, dir)
	var parts []string
	for _, f := range files {
		parts = append(parts, filepath.Dir(f))
	}
	if want := []string{"predictions/dt=2025-11-26/hour=17", "predictions/dt=2025-11-26/hour=18"}; !slices.Equal(parts, want) {
		t.Fatalf("partitions %v, want %v", parts, want)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range readParquet(t, f, data) {
			if hour := r.EventTime.UTC().Hour(); !strings.HasSuffix(filepath.Dir(f), fmt.Sprintf("hour=%d", hour)) {
				t.Fatalf("%s holds a record of hour %d", f, hour)
			}
		}
	}
	checkRows(t, readLake(t, dir), recs)
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	// 3000 records, one every 3 s from 17:58: they span hours 17, 18 and 19
	// of one day, in batches of varied size as requests would send them.
	recs := makeRecords(3000, t0, 3*time.Second)
	for i := 0; i < len(recs); {
		n := min(1+i%37, len(recs)-i)
		w.Capture(recs[i : i+n])
		i += n
	}
	closeWriter(t, w)

	files := lakeFiles(t, dir)
	var parts []string
	for _, f := range files {
		parts = append(parts, filepath.Dir(f))
	}
	if want := []string{"predictions/dt=2025-11-26/hour=17", "predictions/dt=2025-11-26/hour=18", "predictions/dt=2025-11-26/hour=19", "predictions/dt=2025-11-26/hour=20"}; !slices.Equal(parts, want) {
		t.Fatalf("partitions %v, want %v", parts, want)
	}
	checkRows(t, readLake(t, dir), recs)

	s := w.Stats()
	if s.Captured != 3000 || s.Written != 3000 || s.Journaled != 3000 || s.Files != 4 || s.Bytes == 0 {
		t.Fatalf("stats %+v", s)
	}
	if !s.Healthy || s.LocalBytes != 0 {
		t.Fatalf("after close: healthy %v, local bytes %d", s.Healthy, s.LocalBytes)
	}
	// Close leaves neither journal segments nor temporary files.
	assertNoLeftovers(t, dir)
}

// journalFiles lists Dir/_journal but its lock file.
func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, journalDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != lockName {
			names = append(names, e.Name())
		}
	}
	return names
}

func assertNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	if segs := journalFiles(t, dir); len(segs) != 0 {
		t.Fatalf("journal not empty: %v", segs)
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, _ error) error {
		if d != nil && strings.HasSuffix(p, tempExt) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func TestSchema(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	w.Capture(makeRecords(10, t0, time.Second))
	closeWriter(t, w)
	f := openLakeFile(t, filepath.Join(dir, lakeFiles(t, dir)[0]))
	var got []string
	for _, field := range f.Schema().Fields() {
		desc := field.Name() + " " + field.Type().String()
		if field.Optional() {
			desc += " optional"
		}
		got = append(got, desc)
	}
	want := []string{
		"event_time TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)",
		"request_id STRING",
		"inference_id STRING",
		"lead_id STRING optional",
		"model_name STRING",
		"model_version STRING",
		"age FLOAT optional",
		"income FLOAT optional",
		"visits FLOAT optional",
		"margin DOUBLE",
		"probability DOUBLE",
		"tier INT(32,true)",
		"latency_ms DOUBLE",
		"variant STRING optional",
		"role STRING",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("schema\n got %q\nwant %q", got, want)
	}
	// Encodings and compression as docs/lake.md says: a dictionary
	// (uncompressed) where a chunk's values fit one, else PLAIN, with
	// Snappy for strings and timestamps and nothing for floats.
	for _, rg := range f.Metadata().RowGroups {
		for _, c := range rg.Columns {
			m := c.MetaData
			dict := slices.Contains(m.Encoding, format.RLEDictionary)
			want := format.Uncompressed
			if !dict && (m.Type == format.ByteArray || m.Type == format.Int64) {
				want = format.Snappy
			}
			if m.Codec != want || (dict && m.DictionaryPageOffset == 0) {
				t.Fatalf("column %v: encodings %v, codec %v, want %v", m.PathInSchema, m.Encoding, m.Codec, want)
			}
		}
	}
	// 10 distinct inference ids fit a dictionary; 2,000 do not.
	dir = t.TempDir()
	w = newTestWriter(t, Config{Dir: dir}, nil)
	w.Capture(makeRecords(2000, t0, time.Millisecond))
	closeWriter(t, w)
	f = openLakeFile(t, filepath.Join(dir, lakeFiles(t, dir)[0]))
	m := f.Metadata().RowGroups[0].Columns[2].MetaData
	if m.PathInSchema[0] != "inference_id" || !slices.Equal(m.Encoding, []format.Encoding{format.Plain}) || m.Codec != format.Snappy {
		t.Fatalf("column %v: encodings %v, codec %v, want PLAIN and SNAPPY", m.PathInSchema, m.Encoding, m.Codec)
	}
}

func TestRollBySize(t *testing.T) {
	dir := t.TempDir()
	const rollBytes = 16 << 10
	w := newTestWriter(t, Config{Dir: dir, RollBytes: rollBytes, RowGroupRows: 256}, nil)
	// All in one hour, so that only the size makes files roll.
	recs := makeRecords(5000, t0.Add(5*time.Minute), time.Millisecond)
	for i := 0; i < len(recs); i += 100 {
		w.Capture(recs[i : i+100])
	}
	closeWriter(t, w)
	files := lakeFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("%d files, want the partition rolled by size into several: %v", len(files), files)
	}
	for i, f := range files {
		if want := fmt.Sprintf("-%04d.parquet", i); !strings.HasPrefix(f, "predictions/dt=2025-11-26/hour=18/part-") || !strings.HasSuffix(f, want) {
			t.Fatalf("file %d is %s, want the partition's file number %s", i, f, want)
		}
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() > 2*rollBytes {
			t.Fatalf("%s has %d bytes, roll size %d", f, info.Size(), rollBytes)
		}
	}
	checkRows(t, readLake(t, dir), recs)
	if s := w.Stats(); s.Files != uint64(len(files)) {
		t.Fatalf("stats count %d files, lake has %d", s.Files, len(files))
	}
}

func TestRollByAge(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir, RollAge: 30 * time.Millisecond, SyncInterval: 5 * time.Millisecond}, nil)
	first := makeRecords(100, t0.Add(5*time.Minute), time.Millisecond)
	w.Capture(first)
	// Without any further record, the file closes once it is RollAge old,
	// and its journal segment goes.
	eventually(t, "the first file to close by age", func() bool { return w.Stats().Files == 1 })
	eventually(t, "its journal segment to go", func() bool { return len(journalFiles(t, dir)) == 0 })
	checkRows(t, readLake(t, dir), first)

	second := makeRecords(200, t0.Add(6*time.Minute), time.Millisecond)
	for i := range second {
		second[i].InferenceID = "second-" + second[i].InferenceID
	}
	w.Capture(second)
	eventually(t, "the second file to close by age", func() bool { return w.Stats().Files == 2 })
	closeWriter(t, w)
	if n := len(lakeFiles(t, dir)); n != 2 {
		t.Fatalf("%d files, want 2", n)
	}
	checkRows(t, readLake(t, dir), append(first, second...))
}

func TestQueueFull(t *testing.T) {
	dir := t.TempDir()
	logs := &logBuffer{}
	w := newTestWriter(t, Config{Dir: dir, QueueDepth: 10, SyncInterval: 5 * time.Millisecond}, logs)
	recs := makeRecords(25, t0, time.Second)
	// One call holds the queue: 10 fit, 15 are dropped, and Capture does
	// not wait for room.
	start := time.Now()
	w.Capture(recs)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Capture took %v", d)
	}
	if got := w.Stats().Dropped[DropQueueFull]; got != 15 {
		t.Fatalf("dropped queue_full = %d, want 15", got)
	}
	eventually(t, "health to drop", func() bool { return !w.Healthy() })
	eventually(t, "the drop warning", func() bool { return strings.Contains(logs.String(), "queue_full=15") })
	closeWriter(t, w)
	checkRows(t, readLake(t, dir), recs[:10])
	if s := w.Stats(); s.Captured != 10 || s.Written != 10 {
		t.Fatalf("stats %+v", s)
	}
}

func TestSampling(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir, SamplePercent: 25}, nil)
	recs := makeRecords(8000, t0, 100*time.Millisecond)
	w.Capture(recs)
	closeWriter(t, w)
	s := w.Stats()
	kept, out := s.Captured, s.Dropped[DropSampledOut]
	if kept+out != 8000 {
		t.Fatalf("kept %d + sampled out %d != 8000", kept, out)
	}
	if kept < 1800 || kept > 2200 {
		t.Fatalf("kept %d of 8000 at 25%%", kept)
	}
	// The choice is a keyed function of the request and inference ids:
	// the Writer keeps the same records every time it sees them.
	var want []leadscore.Record
	for i := range recs {
		if w.sampleHash(&recs[i]) < w.sampleBelow {
			want = append(want, recs[i])
		}
	}
	checkRows(t, readLake(t, dir), want)
	if !s.Healthy {
		t.Fatal("sampling must not make capture unhealthy")
	}
}

func TestSamplingWithoutInferenceID(t *testing.T) {
	w := newTestWriter(t, Config{Dir: t.TempDir(), SamplePercent: 50}, nil)
	recs := makeRecords(4000, t0, time.Millisecond)
	for i := range recs {
		recs[i].InferenceID = ""
	}
	w.Capture(recs)
	closeWriter(t, w)
	if s := w.Stats(); s.Captured < 1700 || s.Captured > 2300 || s.Captured+s.Dropped[DropSampledOut] != 4000 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCaptureAfterClose(t *testing.T) {
	w := newTestWriter(t, Config{Dir: t.TempDir()}, nil)
	closeWriter(t, w)
	w.Capture(makeRecords(3, t0, time.Second))
	w.Capture(nil)
	if got := w.Stats().Dropped[DropClosed]; got != 3 {
		t.Fatalf("dropped closed = %d, want 3", got)
	}
	if err := w.SetFeatures([]string{"x"}); err == nil {
		t.Fatal("SetFeatures after Close: want an error")
	}
	// Close is idempotent.
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestZeroTimeIsCaptureTime(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	recs := makeRecords(1, t0, 0)
	recs[0].Time = time.Time{}
	before := time.Now()
	w.Capture(recs)
	closeWriter(t, w)
	rows := readLake(t, dir)
	if len(rows) != 1 || rows[0].EventTime.Before(before.Truncate(time.Microsecond)) || rows[0].EventTime.After(time.Now()) {
		t.Fatalf("rows %+v, want event time about now", rows)
	}
}

func TestSetFeatures(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	old := makeRecords(50, t0.Add(5*time.Minute), time.Second)
	w.Capture(old)
	if err := w.SetFeatures([]string{"age", "score_b"}); err != nil {
		t.Fatal(err)
	}
	if err := w.SetFeatures([]string{"age", "age"}); err == nil {
		t.Fatal("duplicate feature names: want an error")
	}
	w.Capture(makeRecords(5, t0.Add(5*time.Minute), time.Second)) // old layout: dropped
	next := make([]leadscore.Record, 20)
	for i := range next {
		next[i] = leadscore.Record{Time: t0.Add(7 * time.Minute), InferenceID: fmt.Sprintf("new-%d", i),
			Features: []float32{float32(i), float32(math.NaN())}, Tier: 2}
	}
	w.Capture(next)
	closeWriter(t, w)
	if got := w.Stats().Dropped[DropSchemaMismatch]; got != 5 {
		t.Fatalf("schema_mismatch = %d, want 5", got)
	}
	files := lakeFiles(t, dir)
	if len(files) != 2 {
		t.Fatalf("files %v, want one per feature list", files)
	}
	checkRows(t, readParquetFile(t, dir, files[0]), old)
	data, err := os.ReadFile(filepath.Join(dir, files[1]))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytesReaderAt(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range f.Schema().Fields() {
		cols = append(cols, c.Name())
	}
	if strings.Join(cols, ",") != "event_time,request_id,inference_id,lead_id,model_name,model_version,age,score_b,margin,probability,tier,latency_ms,variant,role" || f.NumRows() != 20 {
		t.Fatalf("second file: columns %v, %d rows", cols, f.NumRows())
	}
}

func readParquetFile(t *testing.T, dir, rel string) []lakeRow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	rows := readParquet(t, rel, data)
	sortRows(rows)
	return rows
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		cfg      Config
		features []string
		want     string
	}{
		{"negative depth", Config{QueueDepth: -1}, testFeatures, "queue depth"},
		{"negative sync", Config{SyncInterval: -time.Second}, testFeatures, "sync interval"},
		{"negative roll bytes", Config{RollBytes: -1}, testFeatures, "roll bytes"},
		{"negative roll age", Config{RollAge: -time.Second}, testFeatures, "roll age"},
		{"sample over 100", Config{SamplePercent: 101}, testFeatures, "sample percent"},
		{"sample NaN", Config{SamplePercent: math.NaN()}, testFeatures, "sample percent"},
		{"negative max local", Config{MaxLocalBytes: -1}, testFeatures, "max local bytes"},
		{"negative row group", Config{RowGroupRows: -1}, testFeatures, "row group rows"},
		{"empty feature", Config{}, []string{"a", ""}, "empty name"},
		{"duplicate feature", Config{}, []string{"a", "b", "a"}, "used twice"},
		{"reserved feature", Config{}, []string{"margin"}, "collides"},
		{"partition key feature", Config{}, []string{"hour"}, "collides"},
		{"dir is a file", Config{Dir: filepath.Join(dir, "file")}, testFeatures, "capture dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.cfg.Dir == "" {
				tc.cfg.Dir = t.TempDir()
			}
			w, err := New(tc.cfg, tc.features, nil, nil)
			if err == nil {
				_ = w.Close(context.Background())
				t.Fatalf("want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Dir: DefaultDir, QueueDepth: DefaultQueueDepth, SyncInterval: DefaultSyncInterval,
		RollBytes: DefaultRollBytes, RollAge: DefaultRollAge, SamplePercent: DefaultSamplePercent,
		MaxLocalBytes: DefaultMaxLocalBytes, RowGroupRows: DefaultRowGroupRows, FeedbackQueueDepth: DefaultFeedbackQueueDepth,
		QueueWait: DefaultQueueWait}
	if c != want {
		t.Fatalf("defaults %+v, want %+v", c, want)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	w, err := New(Config{Dir: t.TempDir(), QueueDepth: 5}, testFeatures, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A second Writer on the same registry is refused.
	if _, err := New(Config{Dir: t.TempDir()}, testFeatures, reg, nil); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("second writer on one registry: %v", err)
	}
	w.Capture(makeRecords(8, t0, time.Second))
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	want := `
# HELP leadscore_capture_dropped_total Records not captured, by reason.
# TYPE leadscore_capture_dropped_total counter
leadscore_capture_dropped_total{reason="backlog_full"} 0
leadscore_capture_dropped_total{reason="closed"} 0
leadscore_capture_dropped_total{reason="disk_error"} 0
leadscore_capture_dropped_total{reason="queue_full"} 3
leadscore_capture_dropped_total{reason="sampled_out"} 0
leadscore_capture_dropped_total{reason="schema_mismatch"} 0
leadscore_capture_dropped_total{reason="too_large"} 0
# HELP leadscore_capture_records_total Records accepted into the capture queue.
# TYPE leadscore_capture_records_total counter
leadscore_capture_records_total 5
# HELP leadscore_capture_queue_capacity Capacity of the capture queue, in records.
# TYPE leadscore_capture_queue_capacity gauge
leadscore_capture_queue_capacity 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"leadscore_capture_dropped_total", "leadscore_capture_records_total", "leadscore_capture_queue_capacity"); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{
		"leadscore_capture_records_total", "leadscore_capture_records_journaled_total",
		"leadscore_capture_records_written_total", "leadscore_capture_dropped_total",
		"leadscore_capture_queue_depth", "leadscore_capture_queue_capacity",
		"leadscore_capture_journal_sync_seconds", "leadscore_capture_errors_total",
		"leadscore_capture_parquet_files_total", "leadscore_capture_parquet_bytes_total",
		"leadscore_capture_uploads_total", "leadscore_capture_upload_failures_total",
		"leadscore_capture_upload_retries_total", "leadscore_capture_backlog_files",
		"leadscore_capture_backlog_bytes", "leadscore_capture_local_bytes",
		"leadscore_capture_max_local_bytes", "leadscore_capture_replayed_records_total",
		"leadscore_capture_journal_torn_total", "leadscore_capture_healthy",
	} {
		if !names[n] {
			t.Errorf("metric %s not exported", n)
		}
	}
	closeWriter(t, w)
	// Close unregisters, so a new Writer can use the registry.
	w2, err := New(Config{Dir: t.TempDir()}, testFeatures, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeWriter(t, w2)
}

func TestCloseDeadline(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	w.Capture(makeRecords(1000, t0, time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An expired context may or may not catch the writer before it is done;
	// either way nothing is lost: what is not in a closed file is in the
	// journal, replayed by the next Writer.
	_ = w.Close(ctx)
	// The directory is released once the writer is done with it.
	var w2 *Writer
	eventually(t, "the directory to be released", func() bool {
		var err error
		w2, err = newWriter(Config{Dir: dir}, testFeatures, nil, nil, testTuning())
		return err == nil
	})
	closeWriter(t, w2)
	checkRows(t, readLake(t, dir), makeRecords(1000, t0, time.Second))
}

func TestIDsSortAfterEarlierRuns(t *testing.T) {
	s := &idSource{instance: "aaaa"}
	a := s.next(t0)
	b := s.next(t0) // same instant: still later
	if !(a < b) {
		t.Fatalf("%s !< %s", a, b)
	}
	s2 := &idSource{instance: "0000"}
	s2.observe(b)
	s2.observe("garbage")
	s2.observe("nodash")
	if c := s2.next(t0.Add(-time.Hour)); !(c > b) {
		t.Fatalf("after a clock step back: %s !> %s", c, b)
	}
}

func TestHourKey(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want int64
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(3599, 0), 0},
		{time.Unix(3600, 0), 1},
		{time.Unix(-1, 0), -1},
		{time.Unix(-3600, 0), -1},
		{time.Unix(-3601, 0), -2},
	} {
		if got := hourKey(tc.t); got != tc.want {
			t.Errorf("hourKey(%v) = %d, want %d", tc.t.UTC(), got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	base, maxDelay := 100*time.Millisecond, 3*time.Second
	for attempt := 0; attempt < 70; attempt++ {
		d := backoff(attempt, base, maxDelay)
		ceil := maxDelay
		if attempt < 5 {
			ceil = base << attempt
		}
		if d < ceil/2 || d > ceil {
			t.Fatalf("attempt %d: %v not in [%v, %v]", attempt, d, ceil/2, ceil)
		}
	}
}

func TestOneWriterPerDir(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	if _, err := New(Config{Dir: dir}, testFeatures, nil, nil); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second writer on one dir: %v", err)
	}
	closeWriter(t, w)
	w = newTestWriter(t, Config{Dir: dir}, nil)
	closeWriter(t, w)
}

// Row groups hold RowGroupRows rows, however the records arrive (the lake
// writes columns itself and ends row groups on its own).
func TestRowGroups(t *testing.T) {
	for _, tc := range []struct{ groupRows, batch int }{{100, 7}, {300, 100}, {1000, 1000}} {
		dir := t.TempDir()
		w := newTestWriter(t, Config{Dir: dir, RowGroupRows: tc.groupRows}, nil)
		recs := makeRecords(1000, t0.Add(5*time.Minute), time.Millisecond) // one hour: one file
		for i := 0; i < len(recs); i += tc.batch {
			w.Capture(recs[i:min(i+tc.batch, len(recs))])
		}
		closeWriter(t, w)
		files := lakeFiles(t, dir)
		if len(files) != 1 {
			t.Fatalf("%d files, want 1", len(files))
		}
		f := openLakeFile(t, filepath.Join(dir, files[0]))
		var sizes []int64
		for _, rg := range f.Metadata().RowGroups {
			sizes = append(sizes, rg.NumRows)
		}
		var want []int64
		for left := 1000; left > 0; left -= tc.groupRows {
			want = append(want, int64(min(left, tc.groupRows)))
		}
		if !slices.Equal(sizes, want) {
			t.Errorf("RowGroupRows %d, batches of %d: row groups of %v rows, want %v", tc.groupRows, tc.batch, sizes, want)
		}
		checkRows(t, readLake(t, dir), recs)
	}
}

// openLakeFile opens a Parquet file of the lake.
func openLakeFile(t *testing.T, path string) *parquet.File {
	t.Helper()
	data, err := os.ReadFile(path) // #nosec G304 -- a t.TempDir the test wrote
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytesReaderAt(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}
