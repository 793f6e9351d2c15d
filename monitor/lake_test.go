package monitor

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// lakeRow is one captured row as the capture pipeline writes it.
type lakeRow struct {
	at    time.Time
	model string
	feats []float32
	prob  float64
	tier  int
}

// lakeRows turns rows [lo, hi) of d into lake rows from start, spaced by
// step.
func lakeRows(d *demoData, lo, hi int, model string, start time.Time, step time.Duration) []lakeRow {
	nf := len(d.names)
	var out []lakeRow
	for i := lo; i < hi; i++ {
		p := float64(d.probs[i])
		out = append(out, lakeRow{start.Add(time.Duration(i-lo) * step), model, d.t.Values[i*nf : (i+1)*nf], p, d.tiers.Tier(p)})
	}
	return out
}

// writeLake writes rows to dir/name with the capture schema: event_time
// (TIMESTAMP millis), ids, model name and version, one optional FLOAT
// column per feature (null for missing), margin, probability, tier,
// latency_ms; zstd-compressed. drop names a feature column to leave out,
// extra one to add.
func writeLake(t *testing.T, dir, name string, names []string, rows []lakeRow, drop, extra string) {
	t.Helper()
	g := parquet.Group{
		"event_time":    parquet.Timestamp(parquet.Millisecond),
		"request_id":    parquet.String(),
		"inference_id":  parquet.String(),
		"lead_id":       parquet.Optional(parquet.String()),
		"model_name":    parquet.String(),
		"model_version": parquet.String(),
		"margin":        parquet.Leaf(parquet.DoubleType),
		"probability":   parquet.Leaf(parquet.DoubleType),
		"tier":          parquet.Int(32),
		"latency_ms":    parquet.Leaf(parquet.DoubleType),
	}
	for _, n := range names {
		if n != drop {
			g[n] = parquet.Optional(parquet.Leaf(parquet.FloatType))
		}
	}
	if extra != "" {
		g[extra] = parquet.Optional(parquet.Leaf(parquet.FloatType))
	}
	schema := parquet.NewSchema("lead", g)
	index := map[string]int{}
	for i, n := range names {
		index[n] = i
	}
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewWriter(f, schema, parquet.Compression(&zstd.Codec{}))
	cols := schema.Columns()
	var prows []parquet.Row
	for k, r := range rows {
		row := make(parquet.Row, 0, len(cols))
		for c, path := range cols {
			var v parquet.Value
			optional := false
			switch col := path[0]; col {
			case "event_time":
				v = parquet.Int64Value(r.at.UnixMilli())
			case "request_id", "inference_id":
				v = parquet.ByteArrayValue([]byte(col + itoa(k)))
			case "lead_id":
				optional = true
				v = parquet.ByteArrayValue([]byte("lead-" + itoa(k)))
			case "model_name":
				v = parquet.ByteArrayValue([]byte(r.model))
			case "model_version":
				v = parquet.ByteArrayValue([]byte("1.0.0"))
			case "margin":
				v = parquet.DoubleValue(math.Log(r.prob / (1 - r.prob)))
			case "probability":
				v = parquet.DoubleValue(r.prob)
			case "tier":
				v = parquet.Int32Value(int32(r.tier))
			case "latency_ms":
				v = parquet.DoubleValue(0.3)
			default:
				optional = true
				x := float32(1)
				if j, ok := index[col]; ok {
					x = r.feats[j]
				}
				if math.IsNaN(float64(x)) {
					row = append(row, parquet.NullValue().Level(0, 0, c))
					continue
				}
				v = parquet.FloatValue(x)
			}
			def := 0
			if optional {
				def = 1
			}
			row = append(row, v.Level(0, def, c))
		}
		prows = append(prows, row)
	}
	if _, err := w.WriteRows(prows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckLake writes a small lake: clean leads at 10:00, drifted ones at
// 11:00, another model's at 12:00, a file of another schema at 13:00, old
// data the day before, and files to skip.
func TestCheckLake(t *testing.T) {
	t.Parallel()
	d := loadDemo(t, "leads_10k.csv")
	drift := loadDemo(t, "leads_10k_drift.csv")
	b := baselineOf(t, d, 0, 10000)
	lake := t.TempDir()
	day := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }
	// Two files in hour 10; the second holds 20 late rows of 09:59.
	writeLake(t, lake, "dt=2025-06-01/hour=10/part-0.parquet", d.names, lakeRows(d, 0, 1500, "lead-demo", at(10), time.Second), "", "")
	late := append(lakeRows(d, 1500, 2500, "lead-demo", at(10).Add(30*time.Minute), time.Second),
		lakeRows(d, 2500, 2520, "lead-demo", at(10).Add(-time.Minute), time.Millisecond)...)
	writeLake(t, lake, "dt=2025-06-01/hour=10/part-1.parquet", d.names, late, "", "")
	writeLake(t, lake, "dt=2025-06-01/hour=11/part-0.parquet", d.names, lakeRows(drift, 0, 5000, "lead-demo", at(11), 500*time.Millisecond), "", "")
	writeLake(t, lake, "dt=2025-06-01/hour=12/part-0.parquet", d.names, lakeRows(drift, 5000, 6000, "other", at(12), time.Second), "", "")
	writeLake(t, lake, "dt=2025-06-01/hour=13/part-0.parquet", d.names, lakeRows(d, 3000, 4000, "lead-demo", at(13), time.Second), "intent_score_3p", "new_signal")
	writeLake(t, lake, "dt=2025-05-31/hour=23/part-0.parquet", d.names, lakeRows(drift, 0, 500, "lead-demo", at(-1), time.Second), "", "")
	for _, junk := range []string{"dt=2025-06-01/hour=10/_tmp.parquet", "dt=2025-06-01/hour=10/.part.parquet", "dt=bad/hour=10/x.parquet",
		"dt=2025-06-01/hour=99/x.parquet", "dt=2025-06-01/hour=10/notes.txt", "README"} {
		if err := os.MkdirAll(filepath.Join(lake, filepath.Dir(junk)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(lake, junk), []byte("not parquet"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	check := func(from, to time.Time, model string) *LakeResult {
		t.Helper()
		res, err := CheckLake(ctx, LakeQuery{Dir: lake, From: from, To: to, Model: model}, b, Checks{}, d.tiers)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	clean := check(at(10), at(11), "")
	if clean.Report.Window.Rows != 2500 || len(clean.Files) != 2 || clean.Report.Window.Files != 2 {
		t.Fatalf("10:00: %d rows from %v", clean.Report.Window.Rows, clean.Files)
	}
	if vs := clean.Report.ConstraintViolations.Violations; len(vs) != 0 {
		t.Errorf("clean hour: %+v", vs)
	}
	if clean.Statistics.Dataset.ItemCount != 2500 || len(clean.Statistics.Features) != 50 ||
		clean.Statistics.Features[0].NumericalStatistics.Common.NumPresent != 2500 {
		t.Errorf("statistics %+v", clean.Statistics.Dataset)
	}
	if p := clean.Report.Prediction; p == nil || p.Tiers[0].Count+p.Tiers[1].Count+p.Tiers[2].Count+p.Tiers[3].Count+p.Tiers[4].Count != 2500 {
		t.Errorf("prediction %+v", p)
	}

	drifted := check(at(11), at(12), "")
	flagged := violated(drifted.Report, "")
	for _, name := range shifted {
		if !flagged[name] {
			t.Errorf("lake: shifted %s not flagged", name)
		}
	}
	for name := range flagged {
		if !contains(shifted, name) && !derived[name] && name != ProbabilityName {
			t.Errorf("lake: unshifted %s flagged", name)
		}
	}

	// The other model's rows are left out by name; without the name they
	// count.
	if n := check(at(12), at(13), "lead-demo").Report.Window.Rows; n != 0 {
		t.Errorf("lead-demo rows %d", n)
	}
	if n := check(at(12), at(13), "").Report.Window.Rows; n != 1000 {
		t.Errorf("all rows %d", n)
	}
	schema := check(at(13), at(14), "")
	if !violated(schema.Report, CheckMissingCol)["intent_score_3p"] || !violated(schema.Report, CheckExtraCol)["new_signal"] {
		t.Errorf("schema change: %+v", schema.Report.ConstraintViolations.Violations)
	}
	if schema.Report.Features[48].Status != StatusMissing {
		t.Errorf("intent_score_3p status %s", schema.Report.Features[48].Status)
	}

	// Errors.
	for name, q := range map[string]LakeQuery{
		"no dir": {Dir: filepath.Join(lake, "nope"), From: at(0), To: at(1)},
		"s3":     {Dir: "s3://bucket/lake", From: at(0), To: at(1)},
		"range":  {Dir: lake, From: at(1), To: at(1)},
	} {
		if _, err := CheckLake(ctx, q, b, Checks{}, d.tiers); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	bad := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bad, "dt=2025-06-01", "hour=10"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "dt=2025-06-01", "hour=10", "x.parquet"), []byte("PAR1 broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckLake(ctx, LakeQuery{Dir: bad, From: at(0), To: at(24)}, b, Checks{}, d.tiers); err == nil {
		t.Error("broken file: no error")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := CheckLake(canceled, LakeQuery{Dir: lake, From: at(0), To: at(24)}, b, Checks{}, d.tiers); err == nil {
		t.Error("canceled: no error")
	}
	if _, err := CheckLake(ctx, LakeQuery{Dir: lake, From: at(0), To: at(24)}, b, Checks{MinRows: -1}, d.tiers); err == nil {
		t.Error("bad checks: no error")
	}
}

// TestLakeTimeColumn checks that a file without a TIMESTAMP event_time is
// an error.
func TestLakeTimeColumn(t *testing.T) {
	d := loadDemo(t, "leads_10k.csv")
	b := baselineOf(t, d, 0, 1000)
	lake := t.TempDir()
	dir := filepath.Join(lake, "dt=2025-06-01", "hour=00")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, node := range map[string]parquet.Node{"none": nil, "string": parquet.String()} {
		g := parquet.Group{"probability": parquet.Leaf(parquet.DoubleType)}
		if node != nil {
			g["event_time"] = node
		}
		f, err := os.Create(filepath.Join(dir, "x.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		w := parquet.NewWriter(f, parquet.NewSchema("x", g))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
		q := LakeQuery{Dir: lake, From: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)}
		if _, err := CheckLake(context.Background(), q, b, Checks{}, d.tiers); err == nil {
			t.Errorf("event_time %s: no error", name)
		}
	}
	for _, typ := range []parquet.Node{parquet.Timestamp(parquet.Microsecond), parquet.Timestamp(parquet.Nanosecond)} {
		if _, err := timeUnit(typ.Type()); err != nil {
			t.Errorf("%v: %v", typ.Type(), err)
		}
	}
	for _, v := range []parquet.Value{parquet.BooleanValue(true), parquet.BooleanValue(false), parquet.Int32Value(3), parquet.Int64Value(4)} {
		if _, ok := numeric(v); !ok {
			t.Errorf("%v is not numeric", v)
		}
	}
	if _, ok := numeric(parquet.ByteArrayValue([]byte("x"))); ok {
		t.Error("a string is numeric")
	}
}
