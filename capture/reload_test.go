package capture

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
)

// reorderedRecords returns makeRecords(n) twice: as the lake must show
// them (features in testFeatures order) and as two models scored them,
// interleaved: even records by a model with testFeatures, odd ones by a
// model with the same features in another order, each naming its list.
func reorderedRecords(n int, start time.Time) (want, sent []leadscore.Record) {
	want = makeRecords(n, start, time.Second)
	a := append([]string(nil), testFeatures...)
	b := []string{"visits", "age", "income"}
	sent = append([]leadscore.Record(nil), want...)
	for i := range sent {
		if i%2 == 0 || (i/7)%3 == 0 {
			sent[i].FeatureNames = a
			continue
		}
		f := want[i].Features
		sent[i].Features = []float32{f[2], f[0], f[1]}
		sent[i].FeatureNames, sent[i].ModelVersion = b, "v4"
		want[i].ModelVersion = "v4"
	}
	return want, sent
}

// TestCaptureFollowsRecordFeatures is issue 10, finding 5 at the Writer:
// records of two models whose features are the same names in other orders
// arrive interleaved (a reload under load); each is written under its own
// names, none dropped, and a list that cannot be columns is dropped as
// schema_mismatch alone.
func TestCaptureFollowsRecordFeatures(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	want, sent := reorderedRecords(300, t0)
	for i := 0; i < len(sent); i += 25 {
		w.Capture(sent[i : i+25])
	}
	bad := makeRecords(2, t0, time.Second)
	for i := range bad {
		bad[i].FeatureNames = []string{"age", "probability", "visits"} // a reserved column name
	}
	w.Capture(bad)
	short := makeRecords(1, t0, time.Second)
	short[0].FeatureNames = []string{"age", "income"}
	w.Capture(short)
	closeWriter(t, w)
	checkRows(t, readLake(t, dir), want)
	// Grouped by list within each take of the queue: a file or two per
	// Capture call and hour at most, not one per switch (about 150).
	if n := len(lakeFiles(t, dir)); n > 2*2*12 {
		t.Errorf("%d lake files for 12 batches", n)
	}
	s := w.Stats()
	if s.Dropped[DropSchemaMismatch] != 3 || s.Written != 300 {
		t.Fatalf("written %d, schema_mismatch %d; want 300 and 3 (the bad lists)", s.Written, s.Dropped[DropSchemaMismatch])
	}
}

// TestReplayFollowsRecordFeatures: the same interleaving, then a crash;
// replay writes each record under its own names, exactly once.
func TestReplayFollowsRecordFeatures(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir, SyncInterval: time.Millisecond}, nil)
	want, sent := reorderedRecords(200, t0)
	for i := 0; i < len(sent); i += 10 {
		w.Capture(sent[i : i+10])
	}
	eventually(t, "the journal to sync 200 records", func() bool { return w.Stats().Synced == 200 })
	w.crash()
	w2 := newTestWriter(t, Config{Dir: dir}, nil)
	closeWriter(t, w2)
	checkRows(t, readLake(t, dir), want)
	if got := w2.Stats().Replayed; got == 0 {
		t.Fatal("nothing replayed: the crash came after every file closed")
	}
}

// TestCaptureNewFeatureList: a model with other features (a different
// count) needs no SetFeatures call when its records name them.
func TestCaptureNewFeatureList(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	w.Capture(makeRecords(10, t0, time.Second))
	two := []string{"age", "score_b"}
	next := make([]leadscore.Record, 20)
	for i := range next {
		next[i] = leadscore.Record{Time: t0.Add(time.Minute), InferenceID: fmt.Sprintf("new-%d", i),
			Features: []float32{float32(i), float32(math.NaN())}, FeatureNames: two, Tier: 2}
	}
	w.Capture(next)
	closeWriter(t, w)
	if s := w.Stats(); s.Written != 30 || s.Dropped[DropSchemaMismatch] != 0 {
		t.Fatalf("written %d, schema_mismatch %d; want 30, 0", s.Written, s.Dropped[DropSchemaMismatch])
	}
	widths := map[int]int{}
	for _, f := range lakeFiles(t, dir) {
		widths[len(openLakeFile(t, filepath.Join(dir, f)).Schema().Fields())]++
	}
	if len(widths) != 2 {
		t.Fatalf("files by column count %v, want two layouts", widths)
	}
}
