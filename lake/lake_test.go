package lake

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPartitionRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 6, 1, 7, 59, 59, 0, time.FixedZone("CEST", 2*3600))
	for _, tc := range []struct {
		table Table
		want  string
	}{
		{Predictions, "predictions/dt=2025-06-01/hour=05"},
		{GroundTruth, "groundtruth/dt=2025-06-01/hour=05"},
	} {
		got := tc.table.Partition(at)
		if got != tc.want {
			t.Errorf("%v: partition %q, want %q", tc.table, got, tc.want)
		}
		start, ok := tc.table.PartitionStart(got + "/part-x" + FileExt)
		if !ok || !start.Equal(time.Date(2025, 6, 1, 5, 0, 0, 0, time.UTC)) {
			t.Errorf("%v: start %v %v", tc.table, start, ok)
		}
	}
	for _, key := range []string{
		"dt=2025-06-01/hour=05/.part-x.parquet.tmp", "dt=2025-06-01/hour=05/_x.parquet",
		"dt=2025-06-01/hour=24/x.parquet", "dt=2025-13-01/hour=05/x.parquet", "dt=2025-06-01/x.parquet",
		"groundtruth/dt=2025-06-01/hour=05/x.parquet", "_journal/x.parquet", "dt=2025-06-01/hour=05/x.csv",
	} {
		if _, ok := Predictions.PartitionStart(key); ok {
			t.Errorf("predictions: %q taken for a data file", key)
		}
	}
	// A lake written before the sibling roots: predictions at the root.
	if start, ok := Predictions.PartitionStart("dt=2025-06-01/hour=05/part-x.parquet"); !ok || start.Hour() != 5 {
		t.Errorf("legacy predictions key: %v %v", start, ok)
	}
	if _, ok := GroundTruth.PartitionStart("dt=2025-06-01/hour=05/x.parquet"); ok {
		t.Error("groundtruth: a predictions key taken")
	}
}

func TestReservedAndFeatureNames(t *testing.T) {
	t.Parallel()
	for _, c := range append(LeadColumns[:], append(TailColumns[:], PartitionDay, PartitionHour)...) {
		if !Reserved(c) {
			t.Errorf("%s not reserved", c)
		}
		if CheckFeatureNames([]string{"a", c}) == nil {
			t.Errorf("feature %s accepted", c)
		}
	}
	for _, bad := range [][]string{{""}, {"a", "a"}} {
		if CheckFeatureNames(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	s, err := PredictionSchema([]string{"zeta", "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range s.Columns() {
		got = append(got, p[0])
	}
	want := append(append(LeadColumns[:], "zeta", "alpha"), TailColumns[:]...)
	if !slices.Equal(got, want) {
		t.Errorf("columns %v, want %v", got, want)
	}
}

// dirStore is a Store over a local lake.
type dirStore struct {
	dir   string
	lists []string
}

func (s *dirStore) List(_ context.Context, prefix string) ([]string, error) {
	s.lists = append(s.lists, prefix)
	var keys []string
	err := filepath.WalkDir(s.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(s.dir, p)
		if k := filepath.ToSlash(rel); strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
		return nil
	})
	return keys, err
}

func (s *dirStore) Fetch(_ context.Context, key string, w io.Writer) error {
	b, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(key)))
	if err == nil {
		_, err = io.Copy(w, bytes.NewReader(b))
	}
	return err
}

// TestLocalAndStoreListings lists the same lake from disk and through a
// Store: the same files, in the same order.
func TestLocalAndStoreListings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := time.Date(2025, 6, 1, 22, 0, 0, 0, time.UTC)
	for h := range 5 {
		at := base.Add(time.Duration(h) * time.Hour)
		for _, k := range []string{
			Predictions.Partition(at) + "/part-a" + FileExt, Predictions.Partition(at) + "/.part-b.parquet.tmp",
			GroundTruth.Partition(at) + "/outcomes-a" + FileExt,
		} {
			p := filepath.Join(dir, filepath.FromSlash(k))
			if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	from, to := base.Add(90*time.Minute), base.Add(3*time.Hour)
	for _, tc := range []struct {
		table Table
		from  time.Time
		to    time.Time
		n     int
	}{
		{Predictions, from, to, 2},                            // hours 23 and 00
		{GroundTruth, from, to, 2},                            // the same hours
		{Predictions, base, base.Add(90 * 24 * time.Hour), 5}, // a long range: one listing
	} {
		local, err := LocalFiles(dir, tc.table, tc.from, tc.to)
		if err != nil {
			t.Fatal(err)
		}
		store := &dirStore{dir: dir}
		keys, err := StoreFiles(context.Background(), store, tc.table, tc.from, tc.to)
		if err != nil {
			t.Fatal(err)
		}
		if len(local) != tc.n || len(keys) != tc.n {
			t.Fatalf("%v: local %v, store %v: want %d files", tc.table, local, keys, tc.n)
		}
		for i := range keys {
			if rel, _ := filepath.Rel(dir, local[i]); filepath.ToSlash(rel) != keys[i] {
				t.Errorf("%v: file %d: local %s, store %s", tc.table, i, rel, keys[i])
			}
		}
	}
	if files, err := LocalFiles(t.TempDir(), GroundTruth, from, to); err != nil || files != nil {
		t.Errorf("no groundtruth folder: %v %v", files, err)
	}
	if _, err := LocalFiles(filepath.Join(dir, "missing"), Predictions, from, to); err == nil {
		t.Error("a missing lake listed")
	}
}

// TestLocalFilesReadsBothLayouts: a lake with predictions in the legacy
// layout (dt=... at the root) and the new one (predictions/dt=...) reads
// whole and in time order, and ground truth stays apart.
func TestLocalFilesReadsBothLayouts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, p := range []string{
		"dt=2025-06-01/hour=05/part-a.parquet",             // legacy
		"predictions/dt=2025-06-01/hour=04/part-b.parquet", // new
		"predictions/dt=2025-06-01/hour=06/part-c.parquet",
		"groundtruth/dt=2025-06-01/hour=05/outcomes-x.parquet",
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("PAR1"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	from, to := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	got, err := LocalFiles(dir, Predictions, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g))
	}
	if strings.Join(names, ",") != "part-b.parquet,part-a.parquet,part-c.parquet" {
		t.Errorf("predictions %v, want b (04), a (05, legacy), c (06)", got)
	}
	gt, err := LocalFiles(dir, GroundTruth, from, to)
	if err != nil || len(gt) != 1 {
		t.Errorf("ground truth %v %v", gt, err)
	}
}
