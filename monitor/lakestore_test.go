package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	lakefmt "github.com/leadscore/leadscore/lake"
)

// memStore is a lake.Store over a copy of a local lake.
type memStore struct {
	objects map[string][]byte
	fetched int
}

func newMemStore(t *testing.T, dir string) *memStore {
	t.Helper()
	m := &memStore{objects: map[string][]byte{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p) // #nosec G122 -- a t.TempDir the test wrote
		rel, _ := filepath.Rel(dir, p)
		m.objects[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *memStore) List(_ context.Context, prefix string) ([]string, error) {
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func (m *memStore) Fetch(_ context.Context, key string, w io.Writer) error {
	data, ok := m.objects[key]
	if !ok {
		return fmt.Errorf("no object %s", key)
	}
	m.fetched++
	_, err := w.Write(data)
	return err
}

// gtRow is a groundtruth row with an integer outcome.
type gtRow struct {
	EventTime   time.Time `parquet:"event_time,timestamp(millisecond)"`
	InferenceID string    `parquet:"inference_id,optional"`
	LeadID      string    `parquet:"lead_id,optional"`
	Converted   int32     `parquet:"converted"`
}

// TestCheckLakeGroundTruth joins outcomes by inference id and by lead id,
// and reads the same lake through a lake.Store.
func TestCheckLakeGroundTruth(t *testing.T) {
	t.Parallel()
	d := loadDemo(t, "leads_10k.csv")
	b := baselineOf(t, d, 0, 10000)
	lake := t.TempDir()
	at := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	writeLake(t, lake, "dt=2025-06-01/hour=10/part-0.parquet", d.names, lakeRows(d, 0, 2000, "lead-demo", at, time.Second), "", "")
	var gt []gtRow
	var want []labeled
	for k := range 2000 {
		r := gtRow{EventTime: at.Add(2 * time.Hour), Converted: int32(d.labels[k])}
		if k < 1000 {
			r.InferenceID = "inference_id" + itoa(k)
		} else {
			r.LeadID = "lead-" + itoa(k)
		}
		gt = append(gt, r)
		want = append(want, labeled{float64(d.probs[k]), d.labels[k] == 1})
	}
	gt = append(gt, gtRow{EventTime: at, InferenceID: "unknown", Converted: 1})
	gtPath := filepath.Join(lake, lakefmt.GroundTruthDir, "dt=2025-06-01", "hour=12", "outcomes-x.parquet")
	if err := os.MkdirAll(filepath.Dir(gtPath), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := parquet.WriteFile(gtPath, gt); err != nil {
		t.Fatal(err)
	}
	q := LakeQuery{Dir: lake, From: at, To: at.Add(time.Hour)}
	res, err := CheckLake(context.Background(), q, b, Checks{}, d.tiers)
	if err != nil {
		t.Fatal(err)
	}
	qr := res.Report.Quality
	if qr == nil || qr.LabeledRows != 2000 || len(res.GroundTruthFiles) != 1 {
		t.Fatalf("quality %+v, groundtruth files %v", qr, res.GroundTruthFiles)
	}
	if got := float64(qr.BinaryClassificationMetrics.AUC.Value); got != auc(want) {
		t.Errorf("AUC %v, want %v", got, auc(want))
	}

	store := newMemStore(t, lake)
	q.Store, q.Dir = store, "mem://lake"
	remote, err := CheckLake(context.Background(), q, b, Checks{}, d.tiers)
	if err != nil {
		t.Fatal(err)
	}
	if store.fetched != 2 || len(remote.Files) != 1 || remote.Files[0] != "dt=2025-06-01/hour=10/part-0.parquet" {
		t.Errorf("fetched %d, files %v", store.fetched, remote.Files)
	}
	res.Report.GeneratedAt, remote.Report.GeneratedAt = time.Time{}, time.Time{}
	lj, _ := json.Marshal(res.Report)
	rj, _ := json.Marshal(remote.Report)
	if !bytes.Equal(lj, rj) {
		t.Errorf("reports differ:\n%s\n%s", lj, rj)
	}

	// Without groundtruth there is no quality section; a remote Dir
	// without a Store is refused.
	noGT := t.TempDir()
	writeLake(t, noGT, "dt=2025-06-01/hour=10/part-0.parquet", d.names, lakeRows(d, 0, 100, "lead-demo", at, time.Second), "", "")
	if r, err := CheckLake(context.Background(), LakeQuery{Dir: noGT, From: at, To: at.Add(time.Hour)}, b, Checks{}, d.tiers); err != nil || r.Report.Quality != nil {
		t.Errorf("no groundtruth: %v, quality %+v", err, r.Report.Quality)
	}
	if _, err := CheckLake(context.Background(), LakeQuery{Dir: "s3://b/p", From: at, To: at.Add(time.Hour)}, b, Checks{}, d.tiers); err == nil {
		t.Error("s3:// without a store accepted")
	}
}
