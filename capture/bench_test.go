package capture

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go/format"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/internal/cputime"
)

// benchRecords makes n records with 50 features (the demo model's width),
// 5% of values missing, all in one hour.
func benchRecords(n int) ([]string, []leadscore.Record) {
	features := make([]string, 50)
	for i := range features {
		features[i] = fmt.Sprintf("f%02d", i)
	}
	recs := make([]leadscore.Record, n)
	start := time.Date(2025, 11, 26, 18, 0, 0, 0, time.UTC)
	for i := range recs {
		f := make([]float32, len(features))
		for j := range f {
			f[j] = float32((i*31+j*17)%1000) / 10
			if (i+j)%20 == 0 {
				f[j] = float32(math.NaN())
			}
		}
		recs[i] = leadscore.Record{
			Time: start.Add(time.Duration(i) * time.Millisecond), RequestID: fmt.Sprintf("req-%d", i/10),
			InferenceID: fmt.Sprintf("inf-%012d", i), LeadID: fmt.Sprintf("lead-%d", i),
			Model: "lead-demo", ModelVersion: "3", Features: f,
			Margin: float64(i%200)/50 - 2, Probability: float64(i%100) / 100, Tier: 1 + i%5, LatencyMS: 0.42,
		}
	}
	return features, recs
}

// BenchmarkCapture is the request path's cost per record, offered in
// batches of 10: "enqueue" is Capture alone (the queue emptied between
// rounds, no background work); "running" is against a running Writer on
// this machine's cores, which drops what it cannot keep up with (%dropped).
func BenchmarkCapture(b *testing.B) {
	features, recs := benchRecords(4096)
	b.Run("enqueue", func(b *testing.B) { benchEnqueue(b, features, recs) })
	// As leadscore serve sends them: each record names its model's
	// feature list (one shared slice), which the queue follows.
	named := append([]leadscore.Record(nil), recs...)
	for i := range named {
		named[i].FeatureNames = features
	}
	b.Run("enqueue-named", func(b *testing.B) {
		benchEnqueue(b, append([]string(nil), features...), named)
	})
	b.Run("running", func(b *testing.B) {
		w, err := New(Config{Dir: b.TempDir()}, features, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += 10 {
			j := i % (len(recs) - 10)
			w.Capture(recs[j : j+10])
		}
		b.StopTimer()
		s := w.Stats()
		b.ReportMetric(float64(s.Dropped[DropQueueFull])/float64(b.N)*100, "%dropped")
		if err := w.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkLakeThroughput measures records per second from Capture to
// closed zstd Parquet files (journal and fsync included), 50 features.
func BenchmarkLakeThroughput(b *testing.B) {
	features, recs := benchRecords(100_000)
	w, err := New(Config{Dir: b.TempDir()}, features, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		j := i % (len(recs) - 100)
		n := min(100, b.N-i)
		// Offer no more than the writer takes, so that nothing is dropped
		// and the number is the writer's sustained rate.
		for w.queue.len() > DefaultQueueDepth/2 {
			time.Sleep(50 * time.Microsecond)
		}
		w.Capture(recs[j : j+n])
	}
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	s := w.Stats()
	if s.Written != uint64(b.N) {
		b.Fatalf("wrote %d of %d records (%+v)", s.Written, b.N, s.Dropped)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	b.ReportMetric(float64(s.Bytes)/float64(b.N), "bytes/record")
}

// BenchmarkRowBuild is the per-record cost of gathering a record's values
// for a row group, without encoding it (the buffers are reset every 8,192
// rows), on the demo leads as 100-lead requests bring them: "parquet.Value"
// gathers parquet.Values (50 features), what the lake did before
// predWriter; "add" is predWriter record by record; "addRun" predWriter's
// runs of 100 (cut at the row group's end), what the lake does with
// 100-lead requests, and "addRun-single" runs of one record (single-lead
// requests).
func BenchmarkRowBuild(b *testing.B) {
	features, recs := demoRecords(b)
	recs = requestRuns(recs, 100)
	s := testSchema(b, features)
	b.Run("parquet.Value", func(b *testing.B) {
		var cb colBuilder
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if cb.n == 256 {
				cb.reset()
			}
			cb.add(s, &recs[i%len(recs)])
		}
	})
	for _, run := range []int{0, 100, 1} {
		name := "add"
		switch run {
		case 100:
			name = "addRun"
		case 1:
			name = "addRun-single"
		}
		b.Run(name, func(b *testing.B) {
			w := newPredWriter(io.Discard, s, DefaultRowGroupRows, 0)
			b.ReportAllocs()
			cpu0 := cputime.Process()
			defer func() {
				b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/record")
			}()
			pos := 0
			for i := 0; i < b.N; {
				if w.rows == DefaultRowGroupRows {
					w.resetRows()
				}
				if pos == len(recs) {
					pos = 0
				}
				if run == 0 {
					w.add(&recs[pos])
					i, pos = i+1, pos+1
					continue
				}
				k := min(run, b.N-i, DefaultRowGroupRows-w.rows, len(recs)-pos)
				w.addRun(recs[pos : pos+k])
				i, pos = i+k, pos+k
			}
		})
	}
}

// demoRecords reads the demo model's 10,000 leads (testdata/lead-demo) as
// records shaped as the service captures them: one inference id and
// request id per lead, a lead id, margins and tiers.
func demoRecords(tb testing.TB) ([]string, []leadscore.Record) {
	tb.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "lead-demo", "leads_10k.csv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	features := rows[0]
	if features[len(features)-1] == "converted" || features[len(features)-1] == "label" {
		features = features[:len(features)-1]
	}
	start := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	recs := make([]leadscore.Record, 0, len(rows)-1)
	for i, row := range rows[1:] {
		vals := make([]float32, len(features))
		for j := range vals {
			v, err := strconv.ParseFloat(row[j], 32)
			if err != nil {
				v = math.NaN()
			}
			vals[j] = float32(v)
		}
		recs = append(recs, leadscore.Record{
			Time: start.Add(time.Duration(i) * 50 * time.Microsecond), RequestID: fmt.Sprintf("01JF%022d", i),
			InferenceID: fmt.Sprintf("01JF%022d", i), LeadID: fmt.Sprintf("lead-%07d", i*7919%1000003),
			Model: "lead-demo", ModelVersion: "1", Features: vals,
			Margin: float64(i%200)/50 - 2, Probability: float64(i%997) / 997, Tier: 1 + i%5, LatencyMS: 0.08,
		})
	}
	return features, recs
}

// BenchmarkLakeCPU is the whole capture pipeline's CPU per record on the
// demo model's real leads: Capture in batches of 100, the journal with
// its group commit and the Parquet files, to closed files. cpu-ns/record
// is the process's CPU time (getrusage) over the records, the figure that
// issue 13 point 1 compares with scoring; bytes/record is the lake's size.
// "predWriter" is the lake as it is; "parquet-go" the same pipeline with
// the writer it replaced (parquet-go's GenericWriter, zstd), for the side
// by side figures in bench/RESULTS.md; "nojournal" the lake as it is
// without the journal (tuning.noJournal), so that predWriter's figure
// less its figure is what the journal costs, bench/capture_parts.sh's
// price of crash durability. Single leads: every record has its
// own request id; batch100: a request id per 100 records, one timestamp
// and latency per request, as leadscore serve captures a 100-lead request.
func BenchmarkLakeCPU(b *testing.B) {
	features, recs := demoRecords(b)
	batched := requestRuns(recs, 100)
	for _, writer := range []struct {
		name      string
		new       func(io.Writer, *lakeSchema, int) lakeFileWriter
		noJournal bool
	}{{"predWriter", nil, false}, {"parquet-go", newLibraryWriter, false}, {"nojournal", nil, true}} {
		for _, set := range []struct {
			name string
			recs []leadscore.Record
		}{{"single", recs}, {"batch100", batched}} {
			b.Run(writer.name+"/"+set.name, func(b *testing.B) {
				tune := defaultTuning()
				tune.newFileWriter, tune.noJournal = writer.new, writer.noJournal
				benchLakeCPU(b, features, set.recs, tune)
			})
		}
	}
}

func benchLakeCPU(b *testing.B, features []string, recs []leadscore.Record, tune tuning) {
	w, err := newWriter(Config{Dir: b.TempDir()}, features, nil, nil, tune)
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := cputime.Process()
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		j := i % (len(recs) - 100)
		w.Capture(recs[j : j+min(100, b.N-i)])
	}
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := cputime.Process() - cpu0
	s := w.Stats()
	if s.Written != uint64(b.N) {
		b.Fatalf("wrote %d of %d records (%+v)", s.Written, b.N, s.Dropped)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
	b.ReportMetric(float64(s.Bytes)/float64(b.N), "bytes/record")
}

// BenchmarkFileWriter is the Parquet writer alone, one goroutine (so
// ns/op is CPU per record): the demo leads into files of 8192-row row
// groups, rolled every 100,000 records, old (parquet-go) and new
// (predWriter) side by side, record by record (add); "-batch100" are
// the records of 100-lead requests (one request id, timestamp and latency
// per 100) by add, "-runs100" the same by addRun in runs of 100 (cut at
// the row group's end as the lake cuts them).
func BenchmarkFileWriter(b *testing.B) {
	features, recs := demoRecords(b)
	s := testSchema(b, features)
	batched := requestRuns(recs, 100)
	pred := func(out io.Writer, s *lakeSchema, rows int) lakeFileWriter { return newPredWriter(out, s, rows, 0) }
	for _, writer := range []struct {
		name  string
		new   func(io.Writer, *lakeSchema, int) lakeFileWriter
		codec format.CompressionCodec // of PLAIN strings and timestamps
		run   int                     // records per addRun; 0: add, -1: add of batched
	}{
		{"predWriter", pred, plainCodec, 0},
		{"predWriter-batch100", pred, plainCodec, -1},
		{"predWriter-runs100", pred, plainCodec, 100},
		{"predWriter-serve100", pred, plainCodec, 100},
		{"parquet-go", newLibraryWriter, plainCodec, 0},
		// the alternatives docs/lake.md's table compares
		{"predWriter-plain-zstd", pred, format.Zstd, 0},
		{"predWriter-plain-uncompressed", pred, format.Uncompressed, 0},
	} {
		if writer.run != 0 {
			set := batched
			if writer.name == "predWriter-serve100" {
				set = serveRecords(features, 10_000)
			}
			b.Run(writer.name, func(b *testing.B) { benchFileWriterRuns(b, s, set, writer.run) })
			continue
		}
		b.Run(writer.name, func(b *testing.B) {
			defer func(c format.CompressionCodec) { plainCodec = c }(plainCodec)
			plainCodec = writer.codec
			var out countWriter
			out.w = io.Discard
			var fw lakeFileWriter
			b.ReportAllocs()
			cpu0 := cputime.Process()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if fw == nil {
					fw = writer.new(&out, s, DefaultRowGroupRows)
				}
				fw.add(&recs[i%len(recs)])
				if fw.buffered() == DefaultRowGroupRows {
					if err := fw.flushRowGroup(); err != nil {
						b.Fatal(err)
					}
				}
				if i%100_000 == 99_999 {
					if err := fw.close(); err != nil {
						b.Fatal(err)
					}
					fw = nil
				}
			}
			if fw != nil {
				if err := fw.close(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/record")
			b.ReportMetric(float64(out.n)/float64(b.N), "bytes/record")
		})
	}
}

// serveRows are the two demo leads of cmd/leadscore's BenchmarkServeCost
// body (the second with two missing values).
var serveRows = [2][]float32{
	{4.0077, 14.7176, 1, 2, 11.9824, 0, 2, 0.3804, 0.4925, 0, 2, 7, 1, 8.0617, 6.5047, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0.0973, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 70, 124, 7, 0, 0, 6, 17, 45.1533, 1.2126},
	{7.174, 18.8578, 11, 2, 12.2129, 0, float32(math.NaN()), 1.328, 0.8371, 0, 1, 1, 0, float32(math.NaN()), 7.6916, 0, 0, 1, 0, 2,
		56.0603, 1, 0, 1, 0, 0.2855, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 20, 4, 0, 0, 0, 11, 29.9108, 0.8848},
}

// serveRecords is n records as leadscore serve captures BenchmarkServeCost's
// 100-lead requests: serveRows alternating, their features one array per
// request, a request id per 100 records, inference ids "<request id>-<row>"
// in one buffer per request (as httpapi's recordIDs builds them), no lead
// ids, one model, no variant, one timestamp and latency per request.
func serveRecords(features []string, n int) []leadscore.Record {
	nf := len(features)
	recs := make([]leadscore.Record, n)
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for r0 := 0; r0 < n; r0 += 100 {
		k := min(100, n-r0)
		req := fmt.Sprintf("5a0c3e1f-%016x", r0/100+1)
		var ids []byte
		at := make([]int, k+1)
		for i := range k {
			ids = strconv.AppendInt(append(append(ids, req...), '-'), int64(i), 10)
			at[i+1] = len(ids)
		}
		all := string(ids)
		feats := make([]float32, k*nf)
		for i := range k {
			f := feats[i*nf : (i+1)*nf : (i+1)*nf]
			copy(f, serveRows[i%2])
			recs[r0+i] = leadscore.Record{
				Time: start.Add(time.Duration(r0) * 50 * time.Microsecond), RequestID: req,
				InferenceID: all[at[i]:at[i+1]], Model: "lead-demo", ModelVersion: "1", Features: f,
				Margin: -1.25 + float64(i%2), Probability: 0.22 + float64(i%2)/2, Tier: 2 + i%2,
				LatencyMS: float64(r0/100%37) / 16,
			}
		}
	}
	return recs
}

// requestRuns is recs as requests of n leads capture them: one request
// id, timestamp and latency per n records.
func requestRuns(recs []leadscore.Record, n int) []leadscore.Record {
	out := append([]leadscore.Record(nil), recs...)
	for i := range out {
		r := &out[i]
		r.RequestID = recs[i/n*n].RequestID
		r.Time = recs[i/n*n].Time
		r.LatencyMS = float64(i/n%37) / 16
	}
	return out
}

// benchFileWriterRuns is BenchmarkFileWriter's predWriter fed runs of
// run records by addRun, cut at the row group's end (run -1: the same
// records by add, the control).
func benchFileWriterRuns(b *testing.B, s *lakeSchema, recs []leadscore.Record, run int) {
	var out countWriter
	out.w = io.Discard
	var fw *predWriter
	b.ReportAllocs()
	cpu0 := cputime.Process()
	b.ResetTimer()
	pos, inFile := 0, 0
	for i := 0; i < b.N; {
		if fw == nil {
			fw = newPredWriter(&out, s, DefaultRowGroupRows, 0)
		}
		if pos == len(recs) {
			pos = 0
		}
		k := min(max(run, 1), b.N-i, DefaultRowGroupRows-fw.rows, len(recs)-pos, 100_000-inFile)
		if run < 0 {
			fw.add(&recs[pos])
		} else {
			fw.addRun(recs[pos : pos+k])
		}
		i, pos, inFile = i+k, pos+k, inFile+k
		if fw.rows == DefaultRowGroupRows {
			if err := fw.flushRowGroup(); err != nil {
				b.Fatal(err)
			}
		}
		if inFile == 100_000 {
			if err := fw.close(); err != nil {
				b.Fatal(err)
			}
			fw, inFile = nil, 0
		}
	}
	if fw != nil {
		if err := fw.close(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/record")
	b.ReportMetric(float64(out.n)/float64(b.N), "bytes/record")
}

// benchEnqueue measures Capture alone on a Writer whose queue has the
// schema of features, emptying the queue between rounds of 10 records.
func benchEnqueue(b *testing.B, features []string, recs []leadscore.Record) {
	schema, err := newLakeSchema(features)
	if err != nil {
		b.Fatal(err)
	}
	w := &Writer{cfg: Config{QueueDepth: DefaultQueueDepth, MaxLocalBytes: DefaultMaxLocalBytes}, counters: newCounters()}
	w.queue.init(DefaultQueueDepth, schema)
	w.queue.records = make([]leadscore.Record, 0, DefaultQueueDepth)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 10 {
		if len(w.queue.records) > DefaultQueueDepth-10 {
			w.queue.records = w.queue.records[:0]
		}
		j := i % (len(recs) - 10)
		w.Capture(recs[j : j+10])
	}
}

// BenchmarkColumnCodecs is the table behind the lake's encodings
// (docs/lake.md): for each kind of column of the demo leads (8,192 rows,
// one row group), the CPU per value and the bytes per value of PLAIN
// values uncompressed, Snappy, zstd (the lake's fastest level) and of a
// dictionary with bit-packed indexes (predWriter's, which gives up past
// dictMaxEntries distinct values: "overflow").
func BenchmarkColumnCodecs(b *testing.B) {
	features, recs := demoRecords(b)
	recs = recs[:DefaultRowGroupRows]
	s := testSchema(b, features)
	// Feature columns split by how many distinct values they hold.
	var low, high [][]uint32
	for j := range features {
		col := make([]uint32, 0, len(recs))
		seen := map[uint32]bool{}
		for i := range recs {
			v := recs[i].Features[j]
			if v == v {
				col = append(col, math.Float32bits(v))
				seen[math.Float32bits(v)] = true
			}
		}
		if len(seen) > dictMaxEntries {
			high = append(high, col)
		} else {
			low = append(low, col)
		}
	}
	var idData, tsData, probData []byte
	for i := range recs {
		r := &recs[i]
		idData = binary.LittleEndian.AppendUint32(idData, uint32(len(r.InferenceID))) //nolint:gosec // short
		idData = append(idData, r.InferenceID...)
		tsData = binary.LittleEndian.AppendUint64(tsData, uint64(r.Time.UnixMicro())) //nolint:gosec // bits
		probData = binary.LittleEndian.AppendUint64(probData, math.Float64bits(r.Probability))
	}
	plain32 := func(cols [][]uint32) ([]byte, int) {
		var out []byte
		n := 0
		for _, c := range cols {
			out = appendU32(out, c)
			n += len(c)
		}
		return out, n
	}
	lowData, lowN := plain32(low)
	highData, highN := plain32(high)
	kinds := []struct {
		name   string
		data   []byte
		values int
		cols   [][]uint32 // for the dictionary
	}{
		{fmt.Sprintf("features-low-cardinality-%dcols", len(low)), lowData, lowN, low},
		{fmt.Sprintf("features-high-cardinality-%dcols", len(high)), highData, highN, high},
		{"inference-id", idData, len(recs), nil},
		{"event-time", tsData, len(recs), nil},
		{"probability", probData, len(recs), nil},
	}
	w := newPredWriter(io.Discard, s, DefaultRowGroupRows, 0)
	for _, k := range kinds {
		for _, codec := range []string{"none", "snappy", "zstd", "dictionary"} {
			if codec == "dictionary" && k.cols == nil {
				continue
			}
			b.Run(k.name+"/"+codec, func(b *testing.B) {
				var size int
				overflow := false
				for i := 0; i < b.N; i++ {
					switch codec {
					case "none":
						size = len(k.data)
					case "snappy":
						size = len(w.compress(format.Snappy, k.data))
					case "zstd":
						size = len(w.compress(format.Zstd, k.data))
					case "dictionary":
						size = 0
						for _, c := range k.cols {
							dict, idx, ok := featureDict(c)
							if !ok {
								overflow = true
								break
							}
							size += 4*len(dict) + len(w.dictIndexes(len(dict), idx))
						}
					}
				}
				if overflow {
					b.Skip("overflow: more distinct values than a dictionary holds")
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(k.values), "ns/value")
				b.ReportMetric(float64(size)/float64(k.values), "bytes/value")
				b.ReportMetric(float64(len(k.data))/float64(k.values), "plain-bytes/value")
			})
		}
	}
}

// featureDict is a feature column's dictionary (NaN null) and its
// values' indexes, built by a featDict; false when it overflows.
func featureDict(vals []uint32) ([]uint32, []int32, bool) {
	var d featDict
	d.init()
	idx := make([]int32, 0, len(vals))
	for _, v := range vals {
		i, ok := d.index(v)
		if !ok {
			return nil, nil, false
		}
		if i >= 0 {
			idx = append(idx, i)
		}
	}
	return d.values, idx, true
}

// batch100 shapes records as leadscore serve captures 100-lead requests:
// a request id, a time and a latency per 100 records, the rows' inference
// ids request-id-<row> (httpapi's recordIDs).
func batch100(recs []leadscore.Record) []leadscore.Record {
	out := append([]leadscore.Record(nil), recs...)
	for i := range out {
		r, first := &out[i], &recs[i/100*100]
		r.RequestID, r.Time = first.RequestID, first.Time
		r.InferenceID = first.RequestID + "-" + strconv.Itoa(i%100)
		r.LatencyMS = float64(i/100%37) / 16
	}
	return out
}

// journalFormats are the journal's frame layouts side by side: "record",
// version 1's frame per record (kept for tests), and "batch", version 2's
// frame per run of a request's records. Each appends the frames of recs
// to w (nil: encode only) and returns how many records it framed.
var journalFormats = []struct {
	name   string
	encode func(e *frameEncoder, recs []leadscore.Record, w io.Writer) int
}{
	{"record", func(e *frameEncoder, recs []leadscore.Record, w io.Writer) int {
		for i := range recs {
			f := e.record(&recs[i])
			if f == nil {
				return i
			}
			if w != nil {
				_, _ = w.Write(f)
			}
		}
		return len(recs)
	}},
	{"batch", func(e *frameEncoder, recs []leadscore.Record, w io.Writer) int {
		done := 0
		for done < len(recs) {
			f, n := e.batch(recs[done:])
			if f == nil {
				return done
			}
			if w != nil {
				_, _ = w.Write(f)
			}
			done += n
		}
		return done
	}},
}

// BenchmarkJournalFrame is the journal goroutine's encoding of the frames
// (checksums included) of 100-lead requests of the demo model's leads (50
// features), per record: one frame per record (v1) or per request (v2).
// cpu-ns/record is the process's CPU time per record.
func BenchmarkJournalFrame(b *testing.B) {
	_, recs := demoRecords(b)
	recs = batch100(recs[:4000])
	for _, format := range journalFormats {
		b.Run(format.name, func(b *testing.B) {
			var e frameEncoder
			b.ReportAllocs()
			cpu0 := cputime.Process()
			b.ResetTimer()
			for i := 0; i < b.N; i += 100 {
				j := i % len(recs)
				if format.encode(&e, recs[j:j+min(100, b.N-i)], nil) != min(100, b.N-i) {
					b.Fatal("no frame")
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/record")
		})
	}
}

// BenchmarkJournalWrite is the journal goroutine's work per record, for
// the demo leads in 100-lead requests ("batch100") and as single-lead
// requests ("single"), into a segment file (page cache, no fsync) flushed
// every 2,000 records (a take of the queue). "batch" is the journaler's
// own code (journalRun, flush: frames encoded in place into the pending
// bytes, written once journalBufSize gather); "record" is version 1's
// frame per record through a 256 KiB bufio.Writer, kept for comparison.
// cpu-ns/record is the process's CPU time (getrusage: the write system
// calls included) per record; bytes/record is the segment's size.
func BenchmarkJournalWrite(b *testing.B) {
	_, single := demoRecords(b)
	sets := []struct {
		name string
		recs []leadscore.Record
	}{{"batch100", batch100(single)}, {"single", single}}
	for _, set := range sets {
		b.Run("record/"+set.name, func(b *testing.B) {
			benchJournalWrite(b, set.recs, journalFormats[0].encode)
		})
	}
	for _, set := range sets {
		b.Run("batch/"+set.name, func(b *testing.B) {
			benchJournaler(b, set.recs)
		})
	}
}

// benchSegment is a segment file for the journal benchmarks, started over
// (truncated) each time 64 MiB were written past its last start, so that
// it stays small.
type benchSegment struct {
	f       *os.File
	cw      *countWriter
	written int64
}

func newBenchSegment(b *testing.B) *benchSegment {
	f, err := os.Create(filepath.Join(b.TempDir(), "segment.wal"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return &benchSegment{f: f, cw: &countWriter{w: f}}
}

func (s *benchSegment) truncate(b *testing.B) {
	if s.cw.n-s.written < 64<<20 {
		return
	}
	if err := s.f.Truncate(0); err != nil {
		b.Fatal(err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		b.Fatal(err)
	}
	s.written = s.cw.n
}

func (s *benchSegment) report(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/record")
	b.ReportMetric(float64(s.cw.n)/float64(b.N), "bytes/record")
}

func benchJournalWrite(b *testing.B, recs []leadscore.Record, encode func(*frameEncoder, []leadscore.Record, io.Writer) int) {
	s := newBenchSegment(b)
	bw := bufio.NewWriterSize(s.cw, defaultTuning().journalBufSize)
	var e frameEncoder
	b.ReportAllocs()
	cpu0 := cputime.Process()
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		j := i % len(recs)
		n := min(100, b.N-i)
		if encode(&e, recs[j:j+n], bw) != n {
			b.Fatal("no frame")
		}
		if (i/100)%20 == 19 || i+n == b.N {
			if err := bw.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		s.truncate(b)
	}
	b.StopTimer()
	s.report(b, cpu0)
}

// benchJournaler runs recs, 100 at a time (a Capture call each), through
// the journaler's journalRun into a segment, flushing every 2,000 records
// as journaler.write does at the end of a drain.
func benchJournaler(b *testing.B, recs []leadscore.Record) {
	s := newBenchSegment(b)
	j := &journaler{w: &Writer{counters: &counters{}, tune: defaultTuning()}}
	j.seg = &segmentWriter{f: s.f, cw: countWriter{w: s.cw}}
	j.enc.buf = append(j.enc.buf[:0], journalMagic...)
	j.enc.appendHeader(benchFeatures(recs))
	b.ReportAllocs()
	cpu0 := cputime.Process()
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		k := i % len(recs)
		n := min(100, b.N-i)
		journaled := true
		if kept := j.journalRun(recs[k:k+n], &journaled); len(kept) != n || !journaled || j.seg == nil {
			b.Fatalf("%d of %d records journaled (%v)", len(kept), n, journaled)
		}
		if (i/100)%20 == 19 || i+n == b.N {
			if err := j.flush(); err != nil {
				b.Fatal(err)
			}
		}
		s.truncate(b)
	}
	b.StopTimer()
	s.report(b, cpu0)
}

// benchFeatures names the features of recs.
func benchFeatures(recs []leadscore.Record) []string {
	names := make([]string, len(recs[0].Features))
	for i := range names {
		names[i] = "f" + strconv.Itoa(i)
	}
	return names
}

// BenchmarkFeatureChunks is the lake's cost per feature value: 50 FLOAT
// columns of one 8,192-row row group (NaN: null), stored from the
// records in runs of 100 (addFeatureRun: the columns and their
// dictionaries) and encoded (featureChunk: levels, indexes, pages,
// statistics) to io.Discard. "demo" are the demo model's leads, as the
// first row group of a file (every column tries its dictionary; "first")
// and as a later one (the 11 columns that overflowed are PLAIN;
// "later"); "serve" BenchmarkServeCost's two leads alternating (every
// column a dictionary). "-add" stores the values only.
func BenchmarkFeatureChunks(b *testing.B) {
	features, demo := demoRecords(b)
	s := testSchema(b, features)
	for _, set := range []struct {
		name  string
		recs  []leadscore.Record
		later bool
	}{
		{"demo-first", demo, false}, {"demo-later", demo, true}, {"serve", serveRecords(features, DefaultRowGroupRows), true},
	} {
		recs := set.recs[:DefaultRowGroupRows]
		w := newPredWriter(io.Discard, s, DefaultRowGroupRows, 0)
		w.addRun(recs)
		n, nf := w.rows, len(features)
		for _, encode := range []bool{true, false} {
			name := set.name
			if !encode {
				name += "-add"
			}
			b.Run(name, func(b *testing.B) {
				cpu0 := cputime.Process()
				for i := 0; i < b.N; i++ {
					if !set.later {
						clear(w.noDict)
						for j := range w.fdict {
							w.fdict[j] = featDict{}
							w.fdict[j].init()
						}
					}
					w.resetFeatures()
					for r := 0; r < n; r += 100 {
						w.rows = r
						w.addFeatureRun(recs[r:min(r+100, n)], nf)
					}
					w.rows = n
					if !encode {
						continue
					}
					w.enc.stats = byteArena{}
					w.enc.nullPages, w.enc.nullCounts, w.enc.minMax = nil, nil, nil
					w.enc.locs, w.enc.encStats, w.enc.encodings = nil, nil, nil
					for f := range features {
						w.featureChunk(nLead+f, f)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n*len(features)), "ns/value")
				b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N)/float64(n*len(features)), "cpu-ns/value")
			})
		}
	}
}

// BenchmarkPageIndex is the cost of one column chunk's page indexes (a
// ColumnIndex and an OffsetIndex of one page, a FLOAT column's) before
// the footer: parquet-go's thrift codec (reflection) against predWriter's
// appendColumnIndex and appendOffsetIndex.
func BenchmarkPageIndex(b *testing.B) {
	ci := format.ColumnIndex{NullPages: []bool{false}, MinValues: [][]byte{{0, 0, 0x80, 0xbf}},
		MaxValues: [][]byte{{0, 0, 0xc8, 0x42}}, NullCounts: []int64{410}}
	oi := format.OffsetIndex{PageLocations: []format.PageLocation{{Offset: 1 << 20, CompressedPageSize: 4130}}}
	var e encScratch
	b.Run("thrift", func(b *testing.B) {
		for range b.N {
			if _, err := e.marshal(&ci); err != nil {
				b.Fatal(err)
			}
			if _, err := e.marshal(&oi); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for range b.N {
			buf = appendOffsetIndex(appendColumnIndex(buf[:0], &ci), &oi)
		}
	})
}

// BenchmarkPageHeader is the cost of one data page header: parquet-go's
// thrift codec (reflection) against predWriter's appendPageHeader.
func BenchmarkPageHeader(b *testing.B) {
	h := format.PageHeader{Type: format.DataPageV2, UncompressedPageSize: 4100, CompressedPageSize: 4100}
	h.DataPageHeaderV2.Valid = true
	h.DataPageHeaderV2.V = format.DataPageHeaderV2{NumValues: 8192, NumNulls: 410, NumRows: 8192,
		Encoding: format.RLEDictionary, DefinitionLevelsByteLength: 1100}
	h.DataPageHeaderV2.V.IsCompressed.Valid = true
	var e encScratch
	b.Run("thrift", func(b *testing.B) {
		for range b.N {
			if _, err := e.marshal(&h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendPageHeader", func(b *testing.B) {
		var buf []byte
		for range b.N {
			buf, _ = appendPageHeader(buf[:0], &h)
		}
	})
}
