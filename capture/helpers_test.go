package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/internal/testutil"
)

var testFeatures = []string{"age", "income", "visits"}

// lakeRow is a lake row for testFeatures, as analysts' tools read it.
type lakeRow struct {
	EventTime    time.Time `parquet:"event_time,timestamp(microsecond)"`
	RequestID    string    `parquet:"request_id"`
	InferenceID  string    `parquet:"inference_id"`
	LeadID       *string   `parquet:"lead_id,optional"`
	ModelName    string    `parquet:"model_name"`
	ModelVersion string    `parquet:"model_version"`
	Age          *float32  `parquet:"age,optional"`
	Income       *float32  `parquet:"income,optional"`
	Visits       *float32  `parquet:"visits,optional"`
	Margin       float64   `parquet:"margin"`
	Probability  float64   `parquet:"probability"`
	Tier         int32     `parquet:"tier"`
	LatencyMS    float64   `parquet:"latency_ms"`
	Variant      *string   `parquet:"variant,optional"`
	Role         string    `parquet:"role"`

	file string // where it was read from (not a column)
}

var t0 = time.Date(2025, 11, 26, 17, 58, 0, 0, time.UTC)

// makeRecords makes n deterministic records, the i-th at start+i*step, with
// missing features and lead ids sprinkled in.
func makeRecords(n int, start time.Time, step time.Duration) []leadscore.Record {
	recs := make([]leadscore.Record, n)
	for i := range recs {
		f := []float32{float32(20 + i%50), float32(i) * 1.5, float32(i % 7)}
		if i%5 == 0 {
			f[1] = float32(math.NaN())
		}
		if i%11 == 0 {
			f[0] = float32(math.NaN())
		}
		lead := fmt.Sprintf("lead-%d", i)
		if i%3 == 0 {
			lead = ""
		}
		p := float64(i%100) / 100
		recs[i] = leadscore.Record{
			Time:         start.Add(time.Duration(i) * step),
			RequestID:    fmt.Sprintf("req-%d", i/4),
			InferenceID:  fmt.Sprintf("inf-%08d", i),
			LeadID:       lead,
			Model:        "lead-demo",
			ModelVersion: "v3",
			Features:     f,
			Margin:       math.Log(p+0.001) - math.Log(1.001-p),
			Probability:  p,
			Tier:         1 + i%5,
			LatencyMS:    float64(i%13) / 10,
		}
		switch i % 4 { // no variant (one model), the live one, and its shadow
		case 1:
			recs[i].Variant = "champion"
		case 2:
			recs[i].Variant, recs[i].Shadow = "challenger", true
		}
	}
	return recs
}

// testTuning keeps tests fast.
func testTuning() tuning {
	t := defaultTuning()
	t.retryInterval = 50 * time.Millisecond
	t.backoffBase = 5 * time.Millisecond
	t.backoffMax = 40 * time.Millisecond
	t.uploadTimeout = 5 * time.Second
	t.logEvery = 200 * time.Millisecond
	return t
}

// logBuffer collects log output for assertions; goroutine-safe.
type logBuffer = testutil.Buffer

func newTestWriter(t *testing.T, cfg Config, logs io.Writer) *Writer {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := newWriter(cfg, testFeatures, nil, log, testTuning())
	if err != nil {
		t.Fatalf("new writer: %v", err)
	}
	return w
}

func closeWriter(t *testing.T, w *Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// lakeFiles lists the closed Parquet files under dir, relative, sorted.
func lakeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// readParquet reads one lake file with parquet-go's GenericReader.
func readParquet(t *testing.T, name string, data []byte) []lakeRow {
	t.Helper()
	f, err := parquet.OpenFile(bytesReaderAt(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	r := parquet.NewGenericReader[lakeRow](f)
	defer func() { _ = r.Close() }()
	rows := make([]lakeRow, f.NumRows())
	n, err := r.Read(rows)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read %s: %v", name, err)
	}
	if int64(n) != f.NumRows() {
		t.Fatalf("read %s: %d of %d rows", name, n, f.NumRows())
	}
	for i := range rows {
		rows[i].file = name
	}
	return rows
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readLake reads every closed file under dir, rows sorted by inference id.
func readLake(t *testing.T, dir string) []lakeRow {
	t.Helper()
	var rows []lakeRow
	for _, rel := range lakeFiles(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, readParquet(t, rel, data)...)
	}
	sortRows(rows)
	return rows
}

func sortRows(rows []lakeRow) {
	sort.Slice(rows, func(i, j int) bool { return rows[i].InferenceID < rows[j].InferenceID })
}

// checkRows compares rows (sorted by inference id) with the records sent,
// value by value, and checks each row sits in its hour partition.
func checkRows(t *testing.T, rows []lakeRow, want []leadscore.Record) {
	t.Helper()
	want = append([]leadscore.Record(nil), want...)
	sort.Slice(want, func(i, j int) bool { return want[i].InferenceID < want[j].InferenceID })
	if len(rows) != len(want) {
		t.Fatalf("lake has %d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		r := rows[i]
		if !r.EventTime.Equal(w.Time.Truncate(time.Microsecond)) || r.RequestID != w.RequestID ||
			r.InferenceID != w.InferenceID || r.ModelName != w.Model || r.ModelVersion != w.ModelVersion ||
			r.Margin != w.Margin || r.Probability != w.Probability || int(r.Tier) != w.Tier || r.LatencyMS != w.LatencyMS {
			t.Fatalf("row %d: got %+v, want %+v", i, r, w)
		}
		role := "live"
		if w.Shadow {
			role = "shadow"
		}
		if (r.Variant == nil) != (w.Variant == "") || (r.Variant != nil && *r.Variant != w.Variant) || r.Role != role {
			t.Fatalf("row %d (%s): variant %v role %q, want %q %q", i, w.InferenceID, r.Variant, r.Role, w.Variant, role)
		}
		if (r.LeadID == nil) != (w.LeadID == "") || (r.LeadID != nil && *r.LeadID != w.LeadID) {
			t.Fatalf("row %d (%s): lead id %v, want %q", i, w.InferenceID, r.LeadID, w.LeadID)
		}
		for j, got := range []*float32{r.Age, r.Income, r.Visits} {
			v := w.Features[j]
			if math.IsNaN(float64(v)) != (got == nil) || (got != nil && *got != v) {
				t.Fatalf("row %d (%s): feature %s = %v, want %v", i, w.InferenceID, testFeatures[j], got, v)
			}
		}
		part := w.Time.UTC().Format("predictions/dt=2006-01-02/hour=15/")
		if !strings.HasPrefix(r.file, part) {
			t.Fatalf("row %d (%s) at %v is in %s, want partition %s", i, w.InferenceID, w.Time, r.file, part)
		}
	}
}

// eventually is testutil.Eventually with this package's timeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, what, cond)
}

// testSchema is the lake schema of features, which a test or benchmark
// knows to be valid.
func testSchema(tb testing.TB, features []string) *lakeSchema {
	tb.Helper()
	s, err := newLakeSchema(features)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
