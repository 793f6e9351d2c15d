package capture

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/leadscore/leadscore"
)

// edgeFloats are the feature values a lake must keep exactly.
var edgeFloats = []float32{
	float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
	math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
	float32(math.Copysign(0, -1)), 0, 1.5, -2.25, 1e-38, 3.4e38,
}

var edgeDoubles = []float64{
	math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64,
	math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0, 0.5, 1,
}

var edgeFeatures = []string{"edge", "random", "low_then_high", "all_missing", "constant", "ünïcødé feature"}

// edgeRecords makes n records with every edge a prediction file must
// keep: NaN (null) and non-finite features, ±float32 max, ±0, denormals,
// empty and absent ids, unicode and 256-byte ids, shared request ids,
// clamped tiers, negative times, shadow rows, variants, columns whose
// dictionary overflows mid-file and an all-null column.
func edgeRecords(n int) []leadscore.Record {
	recs := make([]leadscore.Record, n)
	base := time.Date(1969, 12, 31, 23, 59, 59, 999_999_000, time.UTC)
	rnd := uint64(0x9E3779B97F4A7C15)
	next := func() uint64 {
		rnd ^= rnd << 13
		rnd ^= rnd >> 7
		rnd ^= rnd << 17
		return rnd
	}
	for i := range recs {
		f := make([]float32, len(edgeFeatures))
		f[0] = edgeFloats[i%len(edgeFloats)]
		f[1] = math.Float32frombits(uint32(next()) & 0x7f7fffff) // finite, random
		if i < n/2 {
			f[2] = float32(i % 9)
		} else {
			f[2] = float32(i) * 1.25
		}
		f[3] = float32(math.NaN())
		f[4] = 42
		f[5] = edgeFloats[(i/3)%len(edgeFloats)]
		r := leadscore.Record{
			Time:         base.Add(time.Duration(i) * 1237 * time.Microsecond).Add(time.Duration(i%3) * 333), // sub-µs parts
			RequestID:    fmt.Sprintf("req-%d", i/7),
			InferenceID:  fmt.Sprintf("inf-%06d-%x", i, next()),
			LeadID:       fmt.Sprintf("lead-%d", i),
			Model:        "lead-demo",
			ModelVersion: strconv.Itoa(1 + i/2000),
			Features:     f,
			Margin:       edgeDoubles[i%len(edgeDoubles)],
			Probability:  math.Float64frombits(next() & 0x7fefffffffffffff),
			Tier:         []int{1, 2, 3, -7, math.MaxInt32, math.MinInt32, math.MaxInt32 + 1, math.MinInt64}[i%8],
			LatencyMS:    float64(i/7) / 8,
		}
		switch i % 11 {
		case 0:
			r.LeadID = "" // absent: null
		case 1:
			r.LeadID = "lëad-🙂-" + strconv.Itoa(i)
		case 2:
			r.LeadID = strings.Repeat("x", 255) + strconv.Itoa(i%10)
		case 3:
			r.RequestID = "" // empty, not null
		case 4:
			r.InferenceID = "ĩnference-" + strconv.Itoa(i) + "-日本"
		}
		switch i % 4 {
		case 1:
			r.Variant = "challenger"
			r.Shadow = true
		case 2:
			r.Variant = "champion"
		}
		recs[i] = r
	}
	return recs
}

// cell is one value as written, in a form both readers print: nil (null),
// a string, "i:N" or the IEEE bits "f32:..." / "f64:..." (NaN canonical).
func f32Cell(v float32) any {
	if v != v {
		return nil // NaN features are missing
	}
	return fmt.Sprintf("f32:%08x", math.Float32bits(v))
}

func f64Cell(v float64) any {
	if v != v {
		v = math.NaN()
	}
	return fmt.Sprintf("f64:%016x", math.Float64bits(v))
}

func optString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// expectedCells is what a prediction file must hold for recs.
func expectedCells(recs []leadscore.Record) [][]any {
	out := make([][]any, len(recs))
	for i, r := range recs {
		row := []any{"i:" + strconv.FormatInt(r.Time.UnixMicro(), 10), r.RequestID, r.InferenceID,
			optString(r.LeadID), r.Model, r.ModelVersion}
		for _, v := range r.Features {
			row = append(row, f32Cell(v))
		}
		tier := r.Tier
		if tier > math.MaxInt32 || tier < math.MinInt32 {
			tier = 0
		}
		role := "live"
		if r.Shadow {
			role = "shadow"
		}
		row = append(row, f64Cell(r.Margin), f64Cell(r.Probability), "i:"+strconv.Itoa(tier), f64Cell(r.LatencyMS),
			optString(r.Variant), role)
		out[i] = row
	}
	return out
}

// parquetGoCells reads a prediction file with parquet-go, row by row, and
// checks its chunk statistics and page indexes against the values.
func parquetGoCells(t *testing.T, data []byte) [][]any {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("parquet-go cannot open the file: %v", err)
	}
	leaves := f.Schema().Columns()
	var out [][]any
	for g, rg := range f.RowGroups() {
		first := len(out)
		rows := rg.Rows()
		buf := make([]parquet.Row, 97)
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				cells := make([]any, len(leaves))
				for _, v := range row {
					cells[v.Column()] = valueCell(v)
				}
				out = append(out, cells)
			}
			if err != nil {
				break
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if got := len(out) - first; int64(got) != rg.NumRows() {
			t.Fatalf("row group %d: read %d rows of %d", g, got, rg.NumRows())
		}
		for c, cc := range rg.ColumnChunks() {
			checkChunkIndexes(t, f.Metadata().RowGroups[g].Columns[c], cc, out[first:], c)
		}
	}
	if int64(len(out)) != f.NumRows() {
		t.Fatalf("read %d rows, the footer says %d", len(out), f.NumRows())
	}
	return out
}

func valueCell(v parquet.Value) any {
	if v.IsNull() {
		return nil
	}
	switch v.Kind() {
	case parquet.Float:
		return fmt.Sprintf("f32:%08x", math.Float32bits(v.Float()))
	case parquet.Double:
		return f64Cell(v.Double())
	case parquet.ByteArray:
		return string(v.ByteArray())
	case parquet.Int32:
		return "i:" + strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		return "i:" + strconv.FormatInt(v.Int64(), 10)
	}
	return fmt.Sprintf("kind %v", v.Kind())
}

// checkChunkIndexes checks a chunk's statistics (min, max, null count),
// column index and offset index against its values.
func checkChunkIndexes(t *testing.T, meta format.ColumnChunk, cc parquet.ColumnChunk, rows [][]any, col int) {
	t.Helper()
	var nulls int64
	var mn, mx any
	for _, r := range rows {
		v := r[col]
		if v == nil {
			nulls++
			continue
		}
		if s, ok := v.(string); ok && strings.HasPrefix(s, "f64:7ff8") {
			continue // NaN has no order
		}
		if mn == nil || cellLess(v, mn) {
			mn = v
		}
		if mx == nil || cellLess(mx, v) {
			mx = v
		}
	}
	st := meta.MetaData.Statistics
	name := meta.MetaData.PathInSchema
	if st.NullCount != nulls {
		t.Fatalf("column %v: statistics null count %d, want %d", name, st.NullCount, nulls)
	}
	if mn != nil {
		typ := meta.MetaData.Type
		if got := statCell(typ, st.MinValue); !cellEqualStat(got, mn) {
			t.Fatalf("column %v: statistics min %v, want %v", name, got, mn)
		}
		if got := statCell(typ, st.MaxValue); !cellEqualStat(got, mx) {
			t.Fatalf("column %v: statistics max %v, want %v", name, got, mx)
		}
	}
	ci, err := cc.ColumnIndex()
	if err != nil {
		t.Fatalf("column %v: column index: %v", name, err)
	}
	oi, err := cc.OffsetIndex()
	if err != nil {
		t.Fatalf("column %v: offset index: %v", name, err)
	}
	if ci.NumPages() != oi.NumPages() || ci.NumPages() == 0 {
		t.Fatalf("column %v: %d pages in the column index, %d in the offset index", name, ci.NumPages(), oi.NumPages())
	}
	var pageNulls int64
	for p := 0; p < ci.NumPages(); p++ {
		pageNulls += ci.NullCount(p)
	}
	if pageNulls != nulls || oi.FirstRowIndex(0) != 0 {
		t.Fatalf("column %v: page indexes count %d nulls (want %d), first row %d", name, pageNulls, nulls, oi.FirstRowIndex(0))
	}
}

// cellLess orders two non-null cells of one column the way Parquet's
// statistics do (numbers by value, strings by bytes).
func cellLess(a, b any) bool {
	as, bs := a.(string), b.(string)
	switch {
	case strings.HasPrefix(as, "f32:"):
		return cellFloat(as) < cellFloat(bs)
	case strings.HasPrefix(as, "f64:"):
		return cellFloat(as) < cellFloat(bs)
	case strings.HasPrefix(as, "i:"):
		x, _ := strconv.ParseInt(as[2:], 10, 64)
		y, _ := strconv.ParseInt(bs[2:], 10, 64)
		return x < y
	}
	return as < bs
}

func cellFloat(s string) float64 {
	bits, _ := strconv.ParseUint(s[4:], 16, 64)
	if strings.HasPrefix(s, "f32:") {
		return float64(math.Float32frombits(uint32(bits)))
	}
	return math.Float64frombits(bits)
}

// cellEqualStat: a statistic equals the extreme value, where a zero may be
// either sign (the writer writes -0 as a min, +0 as a max).
func cellEqualStat(stat, want any) bool {
	if stat == want {
		return true
	}
	s, w := stat.(string), want.(string)
	if strings.HasPrefix(s, "f") && strings.HasPrefix(w, "f") {
		return cellFloat(s) == cellFloat(w) && cellFloat(w) == 0
	}
	return false
}

func statCell(t format.Type, b []byte) any {
	switch t {
	case format.Float:
		return fmt.Sprintf("f32:%08x", binary.LittleEndian.Uint32(b))
	case format.Double:
		return fmt.Sprintf("f64:%016x", binary.LittleEndian.Uint64(b))
	case format.Int32:
		return "i:" + strconv.FormatInt(int64(int32(binary.LittleEndian.Uint32(b))), 10) //nolint:gosec // bits
	case format.Int64:
		return "i:" + strconv.FormatInt(int64(binary.LittleEndian.Uint64(b)), 10) //nolint:gosec // bits
	}
	return string(b)
}

// writePredFile writes recs with a predWriter.
func writePredFile(t testing.TB, features []string, recs []leadscore.Record, groupRows, pageRows int) []byte {
	t.Helper()
	s := testSchema(t, features)
	var buf bytes.Buffer
	w := newPredWriter(&buf, s, groupRows, pageRows)
	for i := range recs {
		w.add(&recs[i])
		if w.rows == groupRows {
			if err := w.flushRowGroup(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compareCells(t *testing.T, reader string, got, want [][]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s reads %d rows, %d were written", reader, len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s: row %d has %d columns, want %d", reader, i, len(got[i]), len(want[i]))
		}
		for c := range want[i] {
			if got[i][c] != want[i][c] {
				t.Fatalf("%s: row %d column %d = %#v, want %#v", reader, i, c, got[i][c], want[i][c])
			}
		}
	}
}

// duckDBCells reads files with DuckDB (lakecheck/dump.mjs), one cell list
// per file.
func duckDBCells(t *testing.T, node string, files ...string) [][][]any {
	t.Helper()
	script, err := filepath.Abs(filepath.Join(lakecheckDir, "dump.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, append([]string{script}, files...)...)
	cmd.Dir = lakecheckDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lakecheck/dump.mjs: %v\n%s", err, stderr.String())
	}
	var doc struct {
		Files []struct {
			Columns []struct{ Name, Type string }
			Rows    [][]any
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	res := make([][][]any, len(doc.Files))
	for i, f := range doc.Files {
		for _, row := range f.Rows {
			for c, v := range row {
				if s, ok := v.(string); ok && strings.HasPrefix(s, "f64:") && math.IsNaN(cellFloat(s)) {
					row[c] = f64Cell(math.NaN())
				}
			}
		}
		res[i] = f.Rows
	}
	return res
}

// TestPredWriterEdges writes records with every edge through the lake's
// Parquet writer, in one and many row groups and pages, and reads them
// back exactly with parquet-go (values, statistics, page indexes) and
// DuckDB (values, bit for bit).
func TestPredWriterEdges(t *testing.T) {
	recs := edgeRecords(5000)
	dir := t.TempDir()
	var files []string
	var wants [][][]any
	for _, size := range []struct{ group, page, rows int }{
		{DefaultRowGroupRows, defaultPageRows, 5000}, // the defaults: one row group, one page per chunk
		{1000, 1000, 5000},                           // five row groups; ids overflow their dictionary in the second
		{257, 100, 5000},                             // many row groups and pages; ids stay dictionaries
		{1, 1, 300},                                  // a row group per row
	} {
		t.Run(fmt.Sprintf("group%d-page%d", size.group, size.page), func(t *testing.T) {
			want := expectedCells(recs[:size.rows])
			data := writePredFile(t, edgeFeatures, recs[:size.rows], size.group, size.page)
			compareCells(t, "parquet-go", parquetGoCells(t, data), want)
			wants = append(wants, want)
			name := filepath.Join(dir, fmt.Sprintf("g%d-p%d.parquet", size.group, size.page))
			if err := os.WriteFile(name, data, 0o600); err != nil {
				t.Fatal(err)
			}
			files = append(files, name)
		})
	}
	node := needLakecheck(t)
	for i, cells := range duckDBCells(t, node, files...) {
		compareCells(t, "DuckDB "+filepath.Base(files[i]), cells, wants[i])
	}
}

// FuzzPredWriter writes records decoded from the input (any float bits,
// ids from a small set with empty and unicode ones, row group and page
// sizes from 1 row) and reads them back with parquet-go: every value,
// the statistics and page indexes must match.
func FuzzPredWriter(f *testing.F) {
	f.Add([]byte{3, 2, 1, 0x7f, 0xc0, 0, 0, 0x80, 0, 0, 0, 0x7f, 0x80, 0, 0, 1, 2, 3})
	f.Add([]byte{1, 7, 5, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x7f, 0xff, 0xff, 9, 9, 9, 9, 9, 9, 9})
	f.Add(bytes.Repeat([]byte{0x42, 0x01, 0xff}, 200))
	ids := []string{"", "a", "lëad-🙂", strings.Repeat("z", 40), "b"}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		nf := 1 + int(data[0])%4
		group := 1 + int(data[1])%64
		page := 1 + int(data[2])%32
		data = data[3:]
		pos := 0
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[pos%len(data)]
			pos++
			return b
		}
		u32 := func() uint32 {
			return uint32(next()) | uint32(next())<<8 | uint32(next())<<16 | uint32(next())<<24
		}
		features := make([]string, nf)
		for i := range features {
			features[i] = fmt.Sprintf("f%d", i)
		}
		n := min(len(data), 300)
		recs := make([]leadscore.Record, n)
		for i := range recs {
			vals := make([]float32, nf)
			for j := range vals {
				vals[j] = math.Float32frombits(u32())
			}
			b := next()
			recs[i] = leadscore.Record{
				Time:        time.UnixMicro(int64(int32(u32())) * 1000), //nolint:gosec // any bits
				RequestID:   ids[int(b)%len(ids)],
				InferenceID: fmt.Sprintf("inf-%d", i),
				LeadID:      ids[int(b>>3)%len(ids)],
				Model:       ids[1+int(b>>5)%(len(ids)-1)], ModelVersion: "1",
				Features: vals,
				Margin:   math.Float64frombits(uint64(u32())<<32 | uint64(u32())),
				Tier:     int(int32(u32())), //nolint:gosec // any bits
				Variant:  ids[int(b>>6)%len(ids)], Shadow: b&1 == 1,
			}
		}
		if n == 0 {
			return
		}
		data1 := writePredFile(t, features, recs, group, page)
		compareCells(t, "parquet-go", parquetGoCells(t, data1), expectedCells(recs))
		// The same records in runs cut by the input's bytes (1 to 64
		// records, never across a row group, as the lake cuts them):
		// the same file, byte for byte.
		runs := writePredFileRuns(t, features, recs, group, page, func(room int) int {
			return min(room, 1+int(next())%64)
		})
		if !bytes.Equal(runs, data1) {
			t.Fatalf("addRun wrote %d bytes, add %d: the files differ", len(runs), len(data1))
		}
	})
}

// writePredFileRuns writes recs with a predWriter's addRun, in runs of
// cut(room) records, room being what is left of the row group.
func writePredFileRuns(t testing.TB, features []string, recs []leadscore.Record, groupRows, pageRows int,
	cut func(room int) int) []byte {
	t.Helper()
	s := testSchema(t, features)
	var buf bytes.Buffer
	w := newPredWriter(&buf, s, groupRows, pageRows)
	for i := 0; i < len(recs); {
		k := min(max(cut(groupRows-w.rows), 1), len(recs)-i)
		w.addRun(recs[i : i+k])
		i += k
		if w.rows >= groupRows {
			if err := w.flushRowGroup(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPageIndexBytes: the column and offset indexes predWriter encodes
// itself (appendColumnIndex, appendOffsetIndex) are the bytes
// parquet-go's thrift codec writes for them: lists of 0 to 40 entries
// (the short and long list headers), null pages, empty and long min/max
// values, negative and large numbers, the optional lists nil, empty or
// not.
func TestPageIndexBytes(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	num := func() int64 {
		switch rnd.IntN(4) {
		case 0:
			return -rnd.Int64N(1 << 40)
		case 1:
			return rnd.Int64()
		}
		return rnd.Int64N(300)
	}
	i64s := func(n int) []int64 {
		v := make([]int64, n)
		for i := range v {
			v[i] = num()
		}
		return v
	}
	var e encScratch
	for round := range 500 {
		n := rnd.IntN(41)
		if round < 41 {
			n = round
		}
		var ci format.ColumnIndex
		var oi format.OffsetIndex
		for range n {
			ci.NullPages = append(ci.NullPages, rnd.IntN(3) == 0)
			mn, mx := make([]byte, rnd.IntN(3)*rnd.IntN(200)), make([]byte, rnd.IntN(9))
			for i := range mn {
				mn[i] = byte(rnd.Uint32())
			}
			ci.MinValues, ci.MaxValues = append(ci.MinValues, mn), append(ci.MaxValues, mx)
			ci.NullCounts = append(ci.NullCounts, num())
			oi.PageLocations = append(oi.PageLocations, format.PageLocation{
				Offset: num(), CompressedPageSize: int32(num()), FirstRowIndex: num(), //nolint:gosec // any bits
			})
		}
		ci.BoundaryOrder = format.BoundaryOrder(rnd.IntN(3)) //nolint:gosec // small
		if n == 0 && rnd.IntN(2) == 0 {
			ci.NullCounts = []int64{} // empty, not nil
		}
		if rnd.IntN(3) == 0 {
			ci.RepetitionLevelHistogram = i64s(rnd.IntN(20))
		}
		if rnd.IntN(3) == 0 {
			ci.DefinitionLevelHistogram = i64s(rnd.IntN(20))
		}
		if rnd.IntN(2) == 0 {
			oi.UnencodedByteArrayDataBytes = i64s(rnd.IntN(20))
		}
		if rnd.IntN(4) == 0 {
			ci.NullCounts = nil
		}
		want, err := e.marshal(&ci)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendColumnIndex([]byte{7}, &ci); !bytes.Equal(got[1:], want) || got[0] != 7 {
			t.Fatalf("round %d: column index\n got %x\nwant %x", round, got[1:], want)
		}
		want, err = e.marshal(&oi)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendOffsetIndex([]byte{7}, &oi); !bytes.Equal(got[1:], want) || got[0] != 7 {
			t.Fatalf("round %d: offset index\n got %x\nwant %x", round, got[1:], want)
		}
	}
}

// TestDictIndexes: dictIndexes writes the width byte and parquet-go's
// RLE/bit-packed bytes of the indexes, a one-value dictionary's (width 0,
// written without the encoder) among them.
func TestDictIndexes(t *testing.T) {
	rnd := rand.New(rand.NewPCG(13, 14))
	w := newPredWriter(io.Discard, testSchema(t, []string{"f"}), 100, 0)
	for _, dictLen := range []int{0, 1, 2, 3, 17, 1024} {
		for _, n := range []int{0, 1, 7, 8, 9, 100, 8192} {
			idx := make([]int32, n)
			for i := range idx {
				if dictLen > 0 && rnd.IntN(4) > 0 {
					idx[i] = int32(rnd.IntN(dictLen)) //nolint:gosec // small
				}
			}
			width := bits.Len32(uint32(max(dictLen-1, 0))) //nolint:gosec // small
			enc, err := (&rle.Encoding{BitWidth: width}).EncodeInt32(nil, idx)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]byte{byte(width)}, enc...)
			if got := w.dictIndexes(dictLen, idx); !bytes.Equal(got, want) {
				t.Fatalf("dictionary of %d, %d indexes: %x, want %x", dictLen, n, got, want)
			}
		}
	}
}

// TestPredWriterReuse: a predWriter made from the buffers of a closed one
// (reusePredWriter, as the lake opens its next file) writes the bytes a
// new one writes, whatever the old file left behind: columns turned PLAIN
// (features and ids past their dictionaries), grown tables and buffers,
// another feature list.
func TestPredWriterReuse(t *testing.T) {
	feats, demo := demoRecords(t)
	demo = requestRuns(demo[:5000], 100)
	edge := edgeRecords(4500)
	// few: the edge features and ids with a few values each, which a
	// writer left PLAIN by edge or demo would write PLAIN
	few := edgeRecords(4500)
	for i := range few {
		for j := range few[i].Features {
			few[i].Features[j] = float32(i % 3)
		}
		few[i].InferenceID = strconv.Itoa(i % 7)
		few[i].Time = few[0].Time.Add(time.Duration(i%5) * time.Second)
		few[i].Probability, few[i].Margin, few[i].LatencyMS = float64(i%4), float64(i%3), 1
	}
	sets := map[string]struct {
		features []string
		recs     []leadscore.Record
	}{"edge": {edgeFeatures, edge}, "few": {edgeFeatures, few}, "demo": {feats, demo}}
	fresh := map[string][]byte{}
	for name, set := range sets {
		fresh[name] = writePredFileRuns(t, set.features, set.recs, 2000, 0, func(room int) int { return min(room, 100) })
	}
	var old *predWriter
	for i, name := range []string{"edge", "few", "demo", "few", "edge", "edge", "demo"} {
		set := sets[name]
		var buf bytes.Buffer
		w := reusePredWriter(old, &buf, testSchema(t, set.features), 2000, 0)
		for r := 0; r < len(set.recs); {
			k := min(100, len(set.recs)-r, 2000-w.rows)
			w.addRun(set.recs[r : r+k])
			r += k
			if w.rows == 2000 {
				if err := w.flushRowGroup(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), fresh[name]) {
			t.Fatalf("file %d (%s): a reused writer wrote %d bytes, a new one %d, or other bytes", i, name, buf.Len(), len(fresh[name]))
		}
		old = w
	}
}

// TestPredWriterAddRun writes the edge records (NaN, ±Inf, -0,
// subnormal features, empty, absent, unicode and long ids, dictionaries
// that overflow mid-file) record by record and in random runs, some
// crossing the row group (the buffers then grow past it), with records
// of fewer and more features than the schema among them: the files must
// be the same bytes, and read back as written.
func TestPredWriterAddRun(t *testing.T) {
	recs := edgeRecords(5000)
	for i := range recs {
		switch i % 97 {
		case 5: // fewer features: the rest are missing
			recs[i].Features = recs[i].Features[:2]
		case 6:
			recs[i].Features = nil
		case 7: // more: the extra ones are not written
			recs[i].Features = append(recs[i].Features, 7, 8)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, size := range []struct{ group, page, rows int }{
		{DefaultRowGroupRows, defaultPageRows, 5000},
		{1000, 1000, 5000},
		{257, 100, 5000},
		{1, 1, 300},
	} {
		for _, runs := range []struct {
			name string
			cut  func(room int) int
		}{
			{"one", func(int) int { return 1 }},
			{"random", func(room int) int { return min(room, 1+rnd.IntN(130)) }},
			{"whole-group", func(room int) int { return room }},
			// past the row group: the caller then flushes a bigger one
			{"crossing", func(room int) int { return room + rnd.IntN(3) }},
		} {
			t.Run(fmt.Sprintf("group%d-page%d/%s", size.group, size.page, runs.name), func(t *testing.T) {
				in := recs[:size.rows]
				got := writePredFileRuns(t, edgeFeatures, in, size.group, size.page, runs.cut)
				if runs.name == "crossing" {
					// No add-by-add file to match: the row groups differ.
					compareCells(t, "parquet-go", parquetGoCells(t, got), expectedCells(padFeatures(in, len(edgeFeatures))))
					return
				}
				want := writePredFile(t, edgeFeatures, in, size.group, size.page)
				if !bytes.Equal(got, want) {
					t.Fatalf("addRun wrote %d bytes, add %d: the files differ", len(got), len(want))
				}
				compareCells(t, "parquet-go", parquetGoCells(t, got), expectedCells(padFeatures(in, len(edgeFeatures))))
			})
		}
	}
}

// padFeatures is recs with nf features each, as a file holds them:
// missing (NaN) past a record's own, cut past nf.
func padFeatures(recs []leadscore.Record, nf int) []leadscore.Record {
	out := append([]leadscore.Record(nil), recs...)
	for i := range out {
		f := make([]float32, nf)
		for j := range f {
			f[j] = float32(math.NaN())
		}
		copy(f, out[i].Features)
		out[i].Features = f
	}
	return out
}

// TestLakeEdgesThroughWriter sends the edge records through a Writer
// (journal, lake goroutine, rolling files, small row groups) while the
// feature list changes mid-generation (reordered, one feature dropped,
// one added, then back), half of them replayed from the journal after a
// crash, and reads every file back with parquet-go and DuckDB: each
// record exactly once, under its own feature names, every value exact.
func TestLakeEdgesThroughWriter(t *testing.T) {
	dir := t.TempDir()
	recs := edgeRecords(3000)
	a := edgeFeatures
	b := []string{"constant", "edge", "ünïcødé feature", "random", "added"} // reordered, two gone, one new
	for i := range recs {
		r := &recs[i]
		switch (i / 250) % 3 {
		case 0:
			r.FeatureNames = a
		case 1:
			f := r.Features
			r.Features = []float32{f[4], f[0], f[5], f[1], float32(i)}
			r.FeatureNames, r.ModelVersion = b, "reloaded"
		case 2:
			r.FeatureNames = slices.Clone(a) // the first list again, another slice
		}
	}
	cfg := Config{Dir: dir, RowGroupRows: 100, RollBytes: 24 << 10, SyncInterval: time.Millisecond}
	w := newTestWriterFeatures(t, cfg, a)
	for i := 0; i < 1500; i += 50 {
		w.Capture(recs[i : i+50])
	}
	eventually(t, "the journal to sync 1500 records", func() bool { return w.Stats().Synced == 1500 })
	w.crash() // what is not in closed files is replayed from the journal
	w = newTestWriterFeatures(t, cfg, a)
	for i := 1500; i < len(recs); i += 50 {
		w.Capture(recs[i : i+50])
	}
	closeWriter(t, w)

	byID := map[string]int{}
	for i := range recs {
		byID[recs[i].InferenceID] = i
	}
	files := lakeFiles(t, dir)
	if len(files) < 6 {
		t.Fatalf("%d files; the test wants files rolled and split by feature list", len(files))
	}
	paths := make([]string, len(files))
	seen := make([]int, len(recs))
	wantByFile := make([][][]any, len(files))
	for k, rel := range files {
		paths[k] = filepath.Join(dir, rel)
		data, err := os.ReadFile(paths[k])
		if err != nil {
			t.Fatal(err)
		}
		got := parquetGoCells(t, data)
		pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for _, c := range pf.Schema().Columns() {
			cols = append(cols, c[0])
		}
		want := make([][]any, len(got))
		for r, row := range got {
			i, ok := byID[row[2].(string)]
			if !ok {
				t.Fatalf("%s row %d: inference id %q was never sent", rel, r, row[2])
			}
			seen[i]++
			names := recs[i].FeatureNames
			if !slices.Equal(cols[nLead:len(cols)-nTail], names) {
				t.Fatalf("%s: record %d (features %q) in a file with columns %q", rel, i, names, cols)
			}
			want[r] = expectedCells(recs[i : i+1])[0]
		}
		compareCells(t, "parquet-go "+rel, got, want)
		wantByFile[k] = want
	}
	bad := 0
	for i, n := range seen {
		if n != 1 {
			bad++
			t.Errorf("record %d (%s) is in the lake %d times", i, recs[i].InferenceID, n)
		}
	}
	if bad > 0 {
		t.Fatalf("%d records not exactly once; files %v", bad, files)
	}
	node := needLakecheck(t)
	for k, cells := range duckDBCells(t, node, paths...) {
		compareCells(t, "DuckDB "+files[k], cells, wantByFile[k])
	}
}

func newTestWriterFeatures(t *testing.T, cfg Config, features []string) *Writer {
	t.Helper()
	w, err := newWriter(cfg, features, nil, nil, testTuning())
	if err != nil {
		t.Fatalf("new writer: %v", err)
	}
	return w
}

// TestPageHeaderBytes: the page headers predWriter encodes itself are
// the bytes parquet-go's thrift codec writes for them, and headers of
// other forms are left to the codec.
func TestPageHeaderBytes(t *testing.T) {
	var e encScratch
	rnd := rand.New(rand.NewPCG(3, 4))
	i32 := func() int32 {
		switch rnd.IntN(4) {
		case 0:
			return 0
		case 1:
			return int32(rnd.IntN(200)) //nolint:gosec // small
		case 2:
			return -int32(rnd.IntN(200)) //nolint:gosec // small
		}
		return int32(rnd.Uint32()) //nolint:gosec // any bits
	}
	for i := range 5000 {
		var h format.PageHeader
		h.Type = []format.PageType{format.DataPageV2, format.DictionaryPage, format.DataPage}[rnd.IntN(3)]
		h.UncompressedPageSize, h.CompressedPageSize = i32(), i32()
		wantFast := true
		switch rnd.IntN(8) {
		case 0:
			h.CRC = i32()
			wantFast = h.CRC == 0
		case 1:
			h.DataPageHeader.Valid = true
			wantFast = false
		}
		if rnd.IntN(2) == 0 || h.Type == format.DictionaryPage {
			h.DictionaryPageHeader.Valid = true
			h.DictionaryPageHeader.V = format.DictionaryPageHeader{NumValues: i32(), Encoding: format.Encoding(rnd.IntN(10)), IsSorted: rnd.IntN(2) == 0} //nolint:gosec // small
		}
		if rnd.IntN(2) == 0 || h.Type != format.DictionaryPage {
			h.DataPageHeaderV2.Valid = true
			h.DataPageHeaderV2.V = format.DataPageHeaderV2{NumValues: i32(), NumNulls: i32(), NumRows: i32(),
				Encoding: format.Encoding(rnd.IntN(10)), DefinitionLevelsByteLength: i32(), RepetitionLevelsByteLength: i32()} //nolint:gosec // small
			h.DataPageHeaderV2.V.IsCompressed = thrift.Null[bool]{V: rnd.IntN(2) == 0, Valid: rnd.IntN(8) != 0}
			wantFast = wantFast && h.DataPageHeaderV2.V.IsCompressed.Valid
			if rnd.IntN(8) == 0 {
				h.DataPageHeaderV2.V.Statistics.NullCount = 1
				wantFast = false
			}
		}
		switch h.Type {
		case format.DataPageV2:
			wantFast = wantFast && !h.DictionaryPageHeader.Valid
		case format.DictionaryPage:
			wantFast = wantFast && !h.DataPageHeaderV2.Valid
		default:
			wantFast = false
		}
		got, ok := appendPageHeader(nil, &h)
		if ok != wantFast {
			t.Fatalf("header %d %+v: encoded by predWriter %v, want %v", i, h, ok, wantFast)
		}
		if !ok {
			continue
		}
		want, err := e.marshal(&h)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("header %d %+v:\n got % x\nwant % x", i, h, got, want)
		}
	}
}

// requestRecords is n records as one request captures them: one request
// id, model, version, variant and role for all, inference ids
// "<request id>-<row>" sliced from one string, as httpapi builds them.
func requestRecords(req string, n, nf int) []leadscore.Record {
	var ids []byte
	at := []int{0}
	for i := range n {
		ids = strconv.AppendInt(append(append(ids, req...), '-'), int64(i), 10)
		at = append(at, len(ids))
	}
	all := string(ids)
	recs := make([]leadscore.Record, n)
	for i := range recs {
		f := make([]float32, nf)
		for j := range f {
			f[j] = float32((i*7 + j*3) % 5)
		}
		recs[i] = leadscore.Record{
			Time: time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC), RequestID: req, InferenceID: all[at[i]:at[i+1]],
			Model: "lead-demo", ModelVersion: "7", Variant: "champion", Features: f,
			Margin: float64(i%3) - 1, Probability: float64(i%4) / 4, Tier: 1 + i%3, LatencyMS: 0.5,
		}
	}
	return recs
}

// TestPredWriterRunStrings holds addRun's string fast paths (a column
// whose value is the run's first record's throughout is added at once,
// inference ids past their dictionary appended in place) to add's bytes
// and to the values: runs where one column's value changes at the second
// or the last record, values equal in contents but at other addresses,
// lead ids absent in part of a run, a shadow row among live ones, and
// more distinct inference ids than a dictionary holds (the column turns
// PLAIN within a run).
func TestPredWriterRunStrings(t *testing.T) {
	features := []string{"a", "b", "c"}
	clone := func(s string) string { return string([]byte(s)) }
	cases := []struct {
		name   string
		change func(recs []leadscore.Record)
	}{
		{"constant", func([]leadscore.Record) {}},
		{"equal-contents-elsewhere", func(recs []leadscore.Record) {
			for i := range recs {
				if i%2 == 1 {
					r := &recs[i]
					r.RequestID, r.Model, r.ModelVersion, r.Variant = clone(r.RequestID), clone(r.Model), clone(r.ModelVersion), clone(r.Variant)
				}
			}
		}},
		{"request-changes-last", func(recs []leadscore.Record) { recs[len(recs)-1].RequestID = "other-request" }},
		{"model-changes-second", func(recs []leadscore.Record) { recs[1].Model = "lead-demo-2" }},
		// the same length, other bytes
		{"model-changes-last-same-length", func(recs []leadscore.Record) { recs[len(recs)-1].Model = "lead-dem0" }},
		{"request-changes-mid-same-length", func(recs []leadscore.Record) {
			for i := len(recs) / 2; i < len(recs); i++ {
				recs[i].RequestID = strings.Replace(recs[i].RequestID, "req-", "rex-", 1)
			}
		}},
		{"lead-ids-distinct-same-length", func(recs []leadscore.Record) {
			for i := range recs {
				recs[i].LeadID = fmt.Sprintf("lead-%03d", i)
			}
		}},
		{"version-changes-mid", func(recs []leadscore.Record) {
			for i := len(recs) / 2; i < len(recs); i++ {
				recs[i].ModelVersion = "8"
			}
		}},
		{"variant-empty-last", func(recs []leadscore.Record) { recs[len(recs)-1].Variant = "" }},
		{"variant-empty-first", func(recs []leadscore.Record) { recs[0].Variant = "" }},
		{"lead-ids-some", func(recs []leadscore.Record) {
			for i := range recs {
				if i%3 != 0 {
					recs[i].LeadID = "lead-" + strconv.Itoa(i)
				}
			}
		}},
		{"lead-ids-all-equal", func(recs []leadscore.Record) {
			for i := range recs {
				recs[i].LeadID = clone("same-lead")
			}
		}},
		{"shadow-last", func(recs []leadscore.Record) { recs[len(recs)-1].Shadow = true }},
		{"shadow-all", func(recs []leadscore.Record) {
			for i := range recs {
				recs[i].Shadow = true
			}
		}},
		{"nan-features", func(recs []leadscore.Record) {
			for i := range recs {
				recs[i].Features[0] = float32(math.NaN())
				if i%2 == 0 {
					recs[i].Features[2] = float32(math.NaN())
				}
				if i%5 == 0 {
					recs[i].Features[1] = float32(math.Copysign(0, -1))
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var recs []leadscore.Record
			for r := range 30 { // 3,000 inference ids: PLAIN within a run
				run := requestRecords(fmt.Sprintf("req-%04d", r), 100, len(features))
				tc.change(run)
				recs = append(recs, run...)
			}
			for _, group := range []int{DefaultRowGroupRows, 1500, 250} {
				got := writePredFileRuns(t, features, recs, group, 0, func(room int) int { return min(room, 100) })
				want := writePredFile(t, features, recs, group, 0)
				if !bytes.Equal(got, want) {
					t.Fatalf("row groups of %d: addRun wrote %d bytes, add %d: the files differ", group, len(got), len(want))
				}
				compareCells(t, "parquet-go", parquetGoCells(t, got), expectedCells(recs))
			}
		})
	}
}

// TestCompareBytes: compareBytes orders as bytes.Compare does.
func TestCompareBytes(t *testing.T) {
	vals := [][]byte{nil, {}, {0}, {0xff}, []byte("a"), []byte("ab"), []byte("abcdefgh"), []byte("abcdefgh0"),
		[]byte("abcdefgi"), []byte("abcdefgh\xff"), []byte("5a0c3e1f-0000000000000001-9"), []byte("5a0c3e1f-0000000000000001-10"),
		[]byte("5a0c3e1f-0000000000000001-99"), []byte("5a0c3e1f-0000000000000002-0"), []byte("\x80abcdefg"), []byte("\x7fabcdefg")}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		b := make([]byte, rnd.IntN(20))
		for i := range b {
			b[i] = "ab\x00\xff"[rnd.IntN(4)]
		}
		vals = append(vals, b)
	}
	for _, a := range vals {
		for _, b := range vals {
			if got, want := compareBytes(a, b), bytes.Compare(a, b); got != want {
				t.Fatalf("compareBytes(%q, %q) = %d, bytes.Compare %d", a, b, got, want)
			}
		}
	}
}

// mapDict is the reference the dictionaries are held to: each distinct
// value in order of first appearance, each value's index and, when nanNull
// (an optional FLOAT column), the positions of the NaNs, which are nulls.
func mapDict(vals []uint32, nanNull bool) (dict []uint32, idx, nulls []int32) {
	pos := map[uint32]int32{}
	for j, v := range vals {
		if nanNull && v&0x7fffffff > 0x7f800000 {
			nulls = append(nulls, int32(j)) //nolint:gosec // small
			continue
		}
		i, ok := pos[v]
		if !ok {
			i = int32(len(dict)) //nolint:gosec // small
			pos[v] = i
			dict = append(dict, v)
		}
		idx = append(idx, i)
	}
	return dict, idx, nulls
}

// TestDictBuild holds dictTable (the required columns', NaN a value like
// any other) to a map-based reference: values in order of first
// appearance, every index, -0 apart from +0, values that share slots, and
// the overflow past dictMaxEntries distinct values; the tables are reused
// from chunk to chunk as the writer reuses them.
func TestDictBuild(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	var tI dictTable[uint32]
	var t64 dictTable[uint64]
	var idxBuf []int32
	for round := range 60 {
		distinct := []int{1, 2, 40, 1023, 1024, 1025, 3000}[round%7]
		vals := dictTestValues(rnd, 1+rnd.IntN(9000), distinct)
		wantDict, wantIdx, _ := mapDict(vals, false)
		wantOK := len(wantDict) <= dictMaxEntries
		dictI, idxI, ok := tI.build(vals, &idxBuf)
		if ok != wantOK || ok && (!slices.Equal(dictI, wantDict) || !slices.Equal(idxI, wantIdx)) {
			t.Fatalf("round %d: dictTable[uint32] differs from the reference (ok %v)", round, ok)
		}
		v64 := make([]uint64, len(vals))
		for i, v := range vals {
			v64[i] = uint64(v)<<32 | uint64(v)
		}
		dict64, idx64, ok := t64.build(v64, &idxBuf)
		if ok != wantOK || ok && !slices.Equal(idx64, wantIdx) {
			t.Fatalf("round %d: dictTable[uint64] differs from the reference (ok %v)", round, ok)
		}
		for i, v := range dict64 {
			if v != uint64(wantDict[i])<<32|uint64(wantDict[i]) {
				t.Fatalf("round %d: dictTable[uint64] entry %d is %x", round, i, v)
			}
		}
	}
}

// dictTestNaNs are NaNs of several payloads, 0xffffffff among them (the
// empty slot's key).
var dictTestNaNs = []uint32{0xffffffff, 0x7fc00000, 0xff800001, 0x7f800001}

// dictTestValues is n float32 bit patterns of about distinct values (in
// multiples of 2048, whose low bits collide), with NaNs of several
// payloads, -0 and +0 among them.
func dictTestValues(rnd *rand.Rand, n, distinct int) []uint32 {
	vals := make([]uint32, n)
	for i := range vals {
		switch rnd.IntN(20) {
		case 0:
			vals[i] = dictTestNaNs[rnd.IntN(len(dictTestNaNs))]
		case 1:
			vals[i] = 0x80000000 // -0
		case 2:
			vals[i] = 0
		default:
			vals[i] = uint32(rnd.IntN(distinct)) * 2048 //nolint:gosec // small
		}
	}
	return vals
}

// TestFeatureDict holds the feature columns' dictionaries, built as the
// records are added (add, addRun's blocks and their slow paths, records
// with fewer features), to the map-based reference, row group after row
// group of one file: each column's dictionary (values in order of first
// appearance), every row's index (-1 for a NaN of any payload,
// 0xffffffff, the empty slot's key, among them), the null count, and
// the columns that pass dictMaxEntries distinct values, which hold the
// values' bits from then on (earlier rows' indexes turned back into
// values) and stay PLAIN in later row groups.
func TestFeatureDict(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	distincts := []int{1, 2, 3, 31, 32, 33, 200, 1023, 1024, 1025, 3000}
	features := make([]string, len(distincts))
	for j := range features {
		features[j] = fmt.Sprintf("f%d", j)
	}
	nf := len(features)
	w := newPredWriter(io.Discard, testSchema(t, features), 9000, 0)
	plain := make([]bool, nf)
	for group := range 4 {
		n := 1 + rnd.IntN(9000)
		if group == 0 {
			n = 9000
		}
		cols := make([][]uint32, nf)
		for j := range cols {
			cols[j] = dictTestValues(rnd, n, distincts[j])
		}
		recs := make([]leadscore.Record, n)
		for r := range recs {
			f := make([]float32, nf)
			for j := range f {
				f[j] = math.Float32frombits(cols[j][r])
			}
			if rnd.IntN(50) == 0 { // fewer features: the rest missing
				f = f[:rnd.IntN(nf)]
				for j := len(f); j < nf; j++ {
					cols[j][r] = nanBits32
				}
			}
			recs[r] = leadscore.Record{Features: f}
		}
		for r := 0; r < n; {
			k := min(n-r, rnd.IntN(120))
			if k < addRunMin {
				for i := range k {
					w.add(&recs[r+i])
				}
			} else {
				w.addRun(recs[r : r+k])
			}
			r += k
		}
		for j := range nf {
			d := &w.fdict[j]
			got := w.feats[j*w.stride : j*w.stride+n]
			dict, idx, nulls := mapDict(cols[j], true)
			if !plain[j] && len(dict) <= dictMaxEntries {
				if d.plain || w.noDict[nLead+j] {
					t.Fatalf("group %d, feature %d: PLAIN with %d distinct values", group, j, len(dict))
				}
				if !slices.Equal(d.values, dict) || d.hasNulls != (len(nulls) > 0) {
					t.Fatalf("group %d, feature %d: dictionary %d values, nulls %v; want %d, %d nulls", group, j, len(d.values), d.hasNulls, len(dict), len(nulls))
				}
				k, at := 0, 0
				for r, i := range got {
					want := int32(-1)
					if at < len(nulls) && int(nulls[at]) == r {
						at++
					} else {
						want = idx[k]
						k++
					}
					if int32(i) != want { //nolint:gosec // bits of the index
						t.Fatalf("group %d, feature %d, row %d: index %d, want %d", group, j, r, int32(i), want) //nolint:gosec // idem
					}
				}
				continue
			}
			plain[j] = true
			if !d.plain || !w.noDict[nLead+j] {
				t.Fatalf("group %d, feature %d: not PLAIN with %d distinct values", group, j, len(dict))
			}
			for r, b := range got {
				v := cols[j][r]
				if b != v && !(isNaN32(b) && isNaN32(v)) {
					t.Fatalf("group %d, feature %d, row %d: bits %08x, want %08x", group, j, r, b, v)
				}
			}
		}
		if err := w.flushRowGroup(); err != nil {
			t.Fatal(err)
		}
		for j := range nf {
			if d := &w.fdict[j]; !d.plain && (len(d.values) != 0 || d.hasNulls || len(d.used) != 0) {
				t.Fatalf("group %d, feature %d: dictionary not emptied", group, j)
			}
		}
	}
	if !slices.Contains(plain, false) || !slices.Contains(plain, true) {
		t.Fatalf("want both dictionary and PLAIN columns, PLAIN: %v", plain)
	}
}

func isNaN32(b uint32) bool { return b&0x7fffffff > 0x7f800000 }

// TestPresentLevels: appendPresentLevels writes the bytes of parquet-go's
// rle encoder for rows that are all present.
func TestPresentLevels(t *testing.T) {
	ones := make([]uint8, 20000)
	for i := range ones {
		ones[i] = 1
	}
	for n := 1; n <= len(ones); n += 1 + n/7 {
		want, err := (&rle.Encoding{BitWidth: 1}).EncodeLevels(nil, ones[:n])
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPresentLevels([]byte{9}, n); !bytes.Equal(got[1:], want) || got[0] != 9 {
			t.Fatalf("%d rows: %x, want %x", n, got[1:], want)
		}
	}
}
