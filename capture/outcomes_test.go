package capture

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore"
	lakefmt "github.com/leadscore/leadscore/lake"
)

func testOutcomes() []leadscore.Outcome {
	return []leadscore.Outcome{
		{InferenceID: "inf-1", LeadID: "lead-1", Converted: true, Time: t0},
		{InferenceID: "inf-2", Converted: false, Time: t0.Add(time.Minute)},
		{LeadID: "lead-3", Converted: true, Time: t0.Add(2 * time.Hour)},
	}
}

// readOutcomes reads every groundtruth file of the lake in dir, by
// partition-relative path.
func readOutcomes(t *testing.T, dir string) (map[string]bool, []lakefmt.OutcomeRow) {
	t.Helper()
	parts := map[string]bool{}
	var rows []lakefmt.OutcomeRow
	root := filepath.Join(dir, lakefmt.GroundTruthDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary file left: %s", p)
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		parts[filepath.ToSlash(rel)] = true
		rs, err := parquet.ReadFile[lakefmt.OutcomeRow](p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		rows = append(rows, rs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rows, func(a, b lakefmt.OutcomeRow) int { return a.EventTime.Compare(b.EventTime) })
	return parts, rows
}

func checkOutcomes(t *testing.T, dir string) {
	t.Helper()
	parts, rows := readOutcomes(t, dir)
	if !parts["dt=2025-11-26/hour=17"] || !parts["dt=2025-11-26/hour=19"] || len(parts) != 2 {
		t.Errorf("partitions %v", parts)
	}
	want := testOutcomes()
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, r := range rows {
		w := want[i]
		if !r.EventTime.Equal(w.Time) || r.InferenceID != w.InferenceID || r.LeadID != w.LeadID || r.Converted != w.Converted {
			t.Errorf("row %d = %+v, want %+v", i, r, w)
		}
	}
}

func TestOutcomesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	w.CaptureFeedback(testOutcomes())
	closeWriter(t, w)
	checkOutcomes(t, dir)
	s := w.Stats()
	if s.FeedbackCaptured != 3 || s.FeedbackWritten != 3 || s.FeedbackDropped[DropQueueFull] != 0 {
		t.Errorf("stats %+v", s)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, journalDir, "*"+outcomeSegExt)); len(segs) != 0 {
		t.Errorf("segments left: %v", segs)
	}
	// After Close, outcomes are dropped and counted.
	w.CaptureFeedback(testOutcomes()[:1])
	if n := w.Stats().FeedbackDropped[DropClosed]; n != 1 {
		t.Errorf("dropped after close: %d", n)
	}
}

func TestOutcomesQueueFull(t *testing.T) {
	w := newTestWriter(t, Config{Dir: t.TempDir(), FeedbackQueueDepth: 2}, nil)
	w.fq.mu.Lock() // hold the goroutine off the queue
	w.fq.buf = append(w.fq.buf, testOutcomes()[:2]...)
	w.fq.mu.Unlock()
	w.CaptureFeedback(testOutcomes())
	if n := w.Stats().FeedbackDropped[DropQueueFull]; n != 3 {
		t.Errorf("queue_full drops %d, want 3", n)
	}
	closeWriter(t, w)
}

func TestOutcomesCrashReplay(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, SyncInterval: 5 * time.Millisecond, RollAge: time.Hour}
	w := newTestWriter(t, cfg, nil)
	w.CaptureFeedback(testOutcomes())
	eventually(t, "outcomes to be journaled", func() bool { return w.Stats().FeedbackCaptured == 3 && w.fc.journaled.Load() == 3 })
	time.Sleep(50 * time.Millisecond) // a few sync intervals
	w.crash()
	if segs, _ := filepath.Glob(filepath.Join(dir, journalDir, "*"+outcomeSegExt)); len(segs) != 1 {
		t.Fatalf("segments after crash: %v", segs)
	}
	if _, err := os.Stat(filepath.Join(dir, lakefmt.GroundTruthDir)); err == nil {
		t.Fatal("groundtruth written before the crash")
	}
	// A torn last line is ignored.
	segs, _ := filepath.Glob(filepath.Join(dir, journalDir, "*"+outcomeSegExt))
	f, err := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"i":"torn","c":tr`)
	_ = f.Close()

	w2 := newTestWriter(t, cfg, nil)
	if n := w2.Stats().FeedbackReplayed; n != 3 {
		t.Errorf("replayed %d, want 3", n)
	}
	closeWriter(t, w2)
	checkOutcomes(t, dir)
	if segs, _ := filepath.Glob(filepath.Join(dir, journalDir, "*"+outcomeSegExt)); len(segs) != 0 {
		t.Errorf("segments left: %v", segs)
	}
}

func TestOutcomesS3(t *testing.T) {
	fake := newFakeS3(t)
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir, Uploader: fake.client(t, "captures")}, nil)
	w.Capture(makeRecords(10, t0, time.Second))
	w.CaptureFeedback(testOutcomes())
	closeWriter(t, w)
	var gt, recs int
	for key := range fake.objects(t) {
		switch {
		case strings.HasPrefix(key, "captures/groundtruth/dt=2025-11-26/hour="):
			gt++
		case strings.HasPrefix(key, "captures/predictions/dt=2025-11-26/hour="):
			recs++
		default:
			t.Errorf("unexpected key %s", key)
		}
	}
	if gt != 2 || recs == 0 {
		t.Errorf("%d groundtruth and %d record objects", gt, recs)
	}
	if _, err := os.Stat(filepath.Join(dir, lakefmt.GroundTruthDir, "dt=2025-11-26", "hour=17")); err == nil {
		t.Error("uploaded groundtruth file kept locally")
	}
}
