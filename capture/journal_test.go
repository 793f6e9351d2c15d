package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
)

// encodeSegment encodes a whole segment as the journal writes it: batch
// frames, records too large for a frame left out.
func encodeSegment(features []string, recs []leadscore.Record) []byte {
	var enc frameEncoder
	buf := []byte(journalMagic)
	buf = append(buf, enc.header(features)...)
	for _, f := range batchFrames(recs) {
		buf = append(buf, f.frame...)
	}
	return buf
}

// encodedBatch is one batch frame and the records it holds.
type encodedBatch struct {
	frame []byte
	recs  int
}

// batchFrames encodes recs as the journaler does, skipping the records
// too large for a frame (nil frames of one record).
func batchFrames(recs []leadscore.Record) []encodedBatch {
	var enc frameEncoder
	var out []encodedBatch
	for i := 0; i < len(recs); {
		frame, n := enc.batch(recs[i:])
		if n < 1 || n > len(recs)-i {
			panic("batch took no records, or more than given")
		}
		if frame != nil {
			out = append(out, encodedBatch{append([]byte(nil), frame...), n})
		}
		i += n
	}
	return out
}

// readSegment decodes a segment: its features, records, and the error that
// ended it (nil at a clean end).
func readSegment(data []byte) ([]string, []leadscore.Record, error) {
	fr, err := newFrameReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, nil, err
	}
	var recs []leadscore.Record
	// Every frame takes at least frameHeader+1 bytes: the loop is bounded.
	for range len(data)/(frameHeader+1) + 1 {
		var r leadscore.Record
		err := fr.next(&r)
		if err == io.EOF {
			return fr.features, recs, nil
		}
		if err != nil {
			return fr.features, recs, err
		}
		recs = append(recs, r)
	}
	return fr.features, recs, errors.New("reader did not stop")
}

// decodesTo fails t unless the segment data decodes to exactly want.
func decodesTo(t *testing.T, data []byte, want []leadscore.Record) {
	t.Helper()
	_, got, err := readSegment(data)
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d records of %d: %v", len(got), len(want), err)
	}
	for i := range want {
		if !sameRecord(&got[i], &want[i]) {
			t.Fatalf("record %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// sameRecord compares records bit for bit (NaN included).
func sameRecord(a, b *leadscore.Record) bool {
	if !a.Time.Equal(b.Time) || a.RequestID != b.RequestID || a.InferenceID != b.InferenceID ||
		a.LeadID != b.LeadID || a.Model != b.Model || a.ModelVersion != b.ModelVersion ||
		math.Float64bits(a.Margin) != math.Float64bits(b.Margin) ||
		math.Float64bits(a.Probability) != math.Float64bits(b.Probability) ||
		a.Tier != b.Tier || math.Float64bits(a.LatencyMS) != math.Float64bits(b.LatencyMS) ||
		a.Variant != b.Variant || a.Shadow != b.Shadow ||
		len(a.Features) != len(b.Features) {
		return false
	}
	for i := range a.Features {
		if math.Float32bits(a.Features[i]) != math.Float32bits(b.Features[i]) {
			return false
		}
	}
	return true
}

func journalCases() []leadscore.Record {
	recs := makeRecords(20, t0, time.Second)
	recs = append(recs,
		leadscore.Record{Time: time.Unix(0, 1).UTC(), Features: []float32{float32(math.Inf(1)), -0, float32(math.NaN())},
			Margin: math.Inf(-1), Probability: math.NaN(), Tier: -7, LatencyMS: -0},
		leadscore.Record{Time: time.Date(1960, 1, 1, 0, 0, 0, 1, time.UTC), RequestID: strings.Repeat("é", 300),
			LeadID: "x\x00y", Features: []float32{1, 2, 3}, Tier: math.MaxInt32},
	)
	return recs
}

// requestRun makes the n records of one scored request as httpapi captures
// them: one time, request id, latency and model; inference ids base-0 ..
// base-<n-1> (base alone for a single lead), lead ids when leads.
func requestRun(reqID, base string, n int, at time.Time, leads bool) []leadscore.Record {
	recs := make([]leadscore.Record, n)
	for i := range recs {
		id := base
		if n > 1 {
			id = base + "-" + strconv.Itoa(i)
		}
		lead := ""
		if leads && i%7 != 3 { // some rows of a request may lack one
			lead = fmt.Sprintf("lead-%d", i*31)
		}
		recs[i] = leadscore.Record{
			Time: at, RequestID: reqID, InferenceID: id, LeadID: lead,
			Model: "lead-demo", ModelVersion: "v3",
			Features: []float32{float32(i), float32(i) / 3, float32(math.NaN())},
			Margin:   float64(i) - 1.5, Probability: float64(i%10) / 10, Tier: 1 + i%5,
			LatencyMS: 0.75, Variant: "champion",
		}
	}
	return recs
}

// batchCases are runs of records as the journal meets them: requests of
// many and of one lead, indexed ids based on the request id and on a
// SageMaker inference id, ids that only look indexed, edge values.
func batchCases() []leadscore.Record {
	at := t0.Add(123456789)
	var recs []leadscore.Record
	recs = append(recs, requestRun("01JFA", "01JFA", 100, at, true)...)                     // mode 3
	recs = append(recs, requestRun("01JFB", "sm-9f2c-41d0", 12, at, false)...)              // mode 2, base with dashes
	recs = append(recs, requestRun("01JFC", "01JFC", 1, at.Add(time.Millisecond), true)...) // mode 1, a lead id
	recs = append(recs, requestRun("01JFD", "01JFD", 1, at.Add(time.Millisecond), false)...)
	// A request split between variants: runs of consecutive rows whose
	// indexes start past 0.
	split := requestRun("01JFE", "01JFE", 10, at, true)
	for i := 4; i < 7; i++ {
		split[i].Variant, split[i].Model = "challenger", "lead-next"
	}
	split[9].Shadow = true
	recs = append(recs, split...)
	// Ids that are not base-<index>: leading zeros, a gap, no digits,
	// digits past 9, an id equal to the request id among indexed ones.
	for _, ids := range [][]string{
		{"x-00", "x-01"}, {"x-1", "x-3"}, {"x-", "x-"}, {"x-1234567890", "x-1234567891"},
		{"x-0", "01JFF"}, {"-0", "-1", "-2"}, {"", ""}, {"a-b-7", "a-b-8"}, {"x-9", "x-10", "x-11"},
	} {
		run := requestRun("01JFF", "x", len(ids), at, false)
		for i := range run {
			run[i].InferenceID = ids[i]
		}
		recs = append(recs, run...)
	}
	// Fields that break a run one by one.
	base := requestRun("01JFG", "01JFG", 2, at, false)[0]
	for _, change := range []func(r *leadscore.Record){
		func(r *leadscore.Record) { r.Time = r.Time.Add(1) },
		func(r *leadscore.Record) { r.ModelVersion = "v4" },
		func(r *leadscore.Record) { r.LatencyMS = math.Copysign(0, -1) },
		func(r *leadscore.Record) { r.LatencyMS = 0 },
		func(r *leadscore.Record) { r.Variant = "" },
		func(r *leadscore.Record) { r.Shadow = true },
		func(r *leadscore.Record) { r.RequestID = "" },
		func(r *leadscore.Record) { r.Model = strings.Repeat("é", 300) },
	} {
		r := base
		change(&r)
		r.InferenceID = r.RequestID
		recs = append(recs, base, r)
	}
	// Edge values in rows.
	edge := requestRun("01JFH", "01JFH", 4, time.Unix(0, 1).UTC(), true)
	edge[0].Features = []float32{float32(math.Inf(1)), float32(math.Copysign(0, -1)), math.Float32frombits(0x7f800001)}
	edge[1].Features = []float32{float32(math.Inf(-1)), math.Float32frombits(0xffc0beef), 0}
	edge[1].Margin, edge[1].Probability = math.Inf(-1), math.Float64frombits(0x7ff8000000000bad)
	edge[2].LeadID = strings.Repeat("ü", 1000)
	edge[2].Tier = -7
	edge[3].Tier = math.MaxInt32
	edge[3].LeadID = "x\x00y"
	recs = append(recs, edge...)
	old := requestRun("01JFI", "01JFI", 3, time.Date(1960, 1, 1, 0, 0, 0, 1, time.UTC), false)
	return append(recs, old...)
}

func TestJournalRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		recs []leadscore.Record
	}{
		{"journalCases", journalCases()},
		{"batchCases", batchCases()},
	} {
		for _, version := range []struct {
			name   string
			encode func([]string, []leadscore.Record) []byte
		}{{"v2", encodeSegment}, {"v1", encodeSegmentV1}} {
			t.Run(tc.name+"/"+version.name, func(t *testing.T) {
				features, got, err := readSegment(version.encode(testFeatures, tc.recs))
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(features, ",") != strings.Join(testFeatures, ",") || len(got) != len(tc.recs) {
					t.Fatalf("features %v, %d records, want %d", features, len(got), len(tc.recs))
				}
				for i := range tc.recs {
					if !sameRecord(&got[i], &tc.recs[i]) {
						t.Fatalf("record %d: got %+v, want %+v", i, got[i], tc.recs[i])
					}
				}
			})
		}
	}
}

// Each batch frame holds one run of a request's records, its ids stored
// as the run allows.
func TestJournalBatchRuns(t *testing.T) {
	at := t0
	var recs []leadscore.Record
	recs = append(recs, requestRun("r1", "r1", 100, at, true)...)
	recs = append(recs, requestRun("r2", "sm-1", 50, at, false)...)
	recs = append(recs, requestRun("r3", "r3", 1, at, false)...)
	recs = append(recs, requestRun("r4", "r4", 1, at, false)...)
	frames := batchFrames(recs)
	var counts []int
	for _, f := range frames {
		counts = append(counts, f.recs)
	}
	if fmt.Sprint(counts) != "[100 50 1 1]" {
		t.Fatalf("records per frame %v, want one frame per request", counts)
	}
	// The shared fields are written once: a row of the 100-lead request
	// is its features, its scores, a tier and its lead id, no more.
	perRow := float64(len(frames[0].frame)) / 100
	if rowMax := float64(4*len(testFeatures)+minRow+1+len("lead-3069")) + 1; perRow > rowMax {
		t.Fatalf("%.1f bytes a row, want at most %.1f", perRow, rowMax)
	}
	for _, tc := range []struct {
		name string
		recs []leadscore.Record
		mode int
		base string
		from uint64
	}{
		{"indexed on the request id", recs[:100], idsIndexedRq, "", 0},
		{"indexed on an inference id", recs[100:150], idsIndexed, "sm-1", 0},
		{"indexed from the middle", recs[110:120], idsIndexed, "sm-1", 10},
		{"single lead", recs[150:151], idsRequest, "", 0},
		{"explicit", []leadscore.Record{recs[0], recs[2]}, idsExplicit, "", 0},
	} {
		mode, base, from := idMode(tc.recs)
		if mode != tc.mode || base != tc.base || from != tc.from {
			t.Errorf("%s: mode %d base %q start %d, want %d %q %d", tc.name, mode, base, from, tc.mode, tc.base, tc.from)
		}
	}
}

// A run larger than maxFrame is split into frames that each fit, and a
// record too large for any frame is refused alone, the run going on
// around it.
func TestJournalBatchSplit(t *testing.T) {
	run := requestRun("big", "big", 40, t0, true)
	for i := range run {
		run[i].LeadID = strings.Repeat(string(rune('a'+i%26)), maxFrame/16) // 16 rows a frame at most
	}
	run[20].LeadID = strings.Repeat("x", maxFrame) // too large alone
	var enc frameEncoder
	var got []leadscore.Record
	var counts []int
	for i := 0; i < len(run); {
		frame, n := enc.batch(run[i:])
		counts = append(counts, n)
		if frame == nil {
			if n != 1 || i != 20 {
				t.Fatalf("record %d refused (n %d)", i, n)
			}
			i += n
			continue
		}
		if len(frame)-frameHeader > maxFrame {
			t.Fatalf("frame of %d bytes", len(frame))
		}
		seg := append(append([]byte(journalMagic), (&frameEncoder{}).header(testFeatures)...), frame...)
		_, recs, err := readSegment(seg)
		if err != nil || len(recs) != n {
			t.Fatalf("frame at %d: %d records, %v", i, len(recs), err)
		}
		got = append(got, recs...)
		i += n
	}
	want := append(append([]leadscore.Record(nil), run[:20]...), run[21:]...)
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d (frames %v)", len(got), len(want), counts)
	}
	for i := range want {
		if !sameRecord(&got[i], &want[i]) {
			t.Fatalf("record %d differs", i)
		}
	}
	if len(counts) < 5 || counts[0] < 10 {
		t.Fatalf("records per frame %v", counts)
	}
}

// Cutting a segment anywhere (a crash mid-write) yields exactly the
// records whose frames are complete, and a torn error unless the cut falls
// between frames; a torn batch frame yields none of its records.
func TestJournalEveryCut(t *testing.T) {
	t.Run("v1", func(t *testing.T) {
		recs := makeRecords(5, t0, time.Second)
		var enc frameEncoder
		var frames []encodedBatch
		for i := range recs {
			frames = append(frames, encodedBatch{append([]byte(nil), enc.record(&recs[i])...), 1})
		}
		checkEveryCut(t, encodeSegmentV1(testFeatures, recs), recs, frames)
	})
	t.Run("v2", func(t *testing.T) {
		var recs []leadscore.Record
		recs = append(recs, requestRun("r1", "r1", 3, t0, true)...)
		recs = append(recs, requestRun("r2", "r2", 1, t0, false)...)
		recs = append(recs, requestRun("r3", "sm", 4, t0, false)...)
		checkEveryCut(t, encodeSegment(testFeatures, recs), recs, batchFrames(recs))
	})
}

func checkEveryCut(t *testing.T, data []byte, recs []leadscore.Record, frames []encodedBatch) {
	t.Helper()
	var enc frameEncoder
	bounds := map[int]int{} // end offset -> records complete
	off := len(journalMagic) + len(enc.header(testFeatures))
	bounds[off] = 0
	done := 0
	for _, f := range frames {
		off += len(f.frame)
		done += f.recs
		bounds[off] = done
	}
	if off != len(data) || done != len(recs) {
		t.Fatalf("frames end at %d of %d bytes, %d of %d records", off, len(data), done, len(recs))
	}
	for cut := 0; cut <= len(data); cut++ {
		_, got, err := readSegment(data[:cut])
		n, clean := bounds[cut]
		var torn *tornError
		switch {
		case clean && err != nil:
			t.Fatalf("cut %d at a frame boundary: %v", cut, err)
		case !clean && !errors.As(err, &torn):
			t.Fatalf("cut %d inside a frame: error %v, want torn", cut, err)
		}
		if !clean {
			// Records complete before the cut.
			for b, k := range bounds {
				if b <= cut && k > n {
					n = k
				}
			}
		}
		if len(got) != n {
			t.Fatalf("cut %d: %d records, want %d", cut, len(got), n)
		}
		for i := range got {
			if !sameRecord(&got[i], &recs[i]) {
				t.Fatalf("cut %d: record %d differs", cut, i)
			}
		}
	}
}

func TestJournalRejects(t *testing.T) {
	var enc frameEncoder
	header := append([]byte(nil), enc.header(testFeatures)...)
	v1 := append([]byte(journalMagicV1), header...)
	v2 := append([]byte(journalMagic), header...)
	r := makeRecords(1, t0, 0)[0]
	wrongCount := r
	wrongCount.Features = []float32{1}
	batchOf := func(recs []leadscore.Record) []byte {
		f, _ := enc.batch(recs)
		return append([]byte(nil), f...)
	}
	run := requestRun("r", "r", 3, t0, true)
	good := batchOf(run)
	// edit re-frames a batch after changing its payload (kind excluded).
	edit := func(f []byte, change func(p []byte) []byte) []byte {
		p := append([]byte(nil), f[frameHeader+1:]...)
		return frame(kindBatch, change(p))
	}
	// The fixed part of good's payload: time, the strings "r", "lead-demo",
	// "v3", "champion", latency; then flags, nfeat, count, start.
	flagsAt := 8 + 2 + 10 + 3 + 9 + 8
	countAt := flagsAt + 2
	setCount := func(n uint32) func([]byte) []byte {
		return func(p []byte) []byte { binary.LittleEndian.PutUint32(p[countAt:], n); return p }
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name  string
		data  []byte
		torn  bool
		where string
	}{
		{"bad magic", []byte("LSCAPJ0\nxxxxxxxxx"), false, "bad magic"},
		{"future magic", []byte("LSCAPJ3\nxxxxxxxxx"), false, "bad magic"},
		{"record before header", cat([]byte(journalMagicV1), enc.record(&r)), true, "not a header"},
		{"batch before header", cat([]byte(journalMagic), good), true, "not a header"},
		{"feature count mismatch", cat(v1, enc.record(&wrongCount)), true, "has 1 features"},
		{"batch feature count mismatch", cat(v2, batchOf([]leadscore.Record{wrongCount})), true, "has 1 features"},
		{"huge feature count", append([]byte(journalMagic), frame(kindHeader, []byte{0xff, 0xff, 0xff, 0x7f})...), true, "declares"},
		{"header trailing bytes", append([]byte(journalMagic), frame(kindHeader, []byte{0, 1})...), true, "trailing"},
		{"bad uvarint", append([]byte(journalMagic), frame(kindHeader, []byte{0x80})...), true, "uvarint"},
		{"string too long", append([]byte(journalMagic), frame(kindHeader, []byte{1, 5, 'a'})...), true, "short"},
		{"unknown kind", cat(v2, frame('Z', nil)), true, "unexpected frame kind"},
		{"record in a v2 segment", cat(v2, enc.record(&r)), true, "unexpected frame kind 'R'"},
		{"batch in a v1 segment", cat(v1, good), true, "unexpected frame kind 'B'"},
		{"record too short", cat(v1, frame(kindRecord, []byte{1, 2})), true, "short"},
		{"record trailing bytes", cat(v1, trailing(enc.record(&r))), true, "trailing"},
		{"batch too short", cat(v2, frame(kindBatch, []byte{1, 2})), true, "short"},
		{"batch trailing bytes", cat(v2, trailing(good)), true, "trailing"},
		{"batch missing a row's last byte", cat(v2, edit(good, func(p []byte) []byte { return p[:len(p)-1] })), true, "bad varint"},
		{"batch unknown flag", cat(v2, edit(good, func(p []byte) []byte { p[flagsAt] |= 0x80; return p })), true, "unknown flags"},
		{"batch of no rows", cat(v2, edit(good, setCount(0))), true, "batch of 0 rows"},
		{"batch count past its bytes", cat(v2, edit(good, setCount(1<<31))), true, "batch of 2147483648 rows"},
		{"batch count one too many", cat(v2, edit(good, setCount(4))), true, "batch of 4 rows"},
		{"batch count one too few", cat(v2, edit(good, setCount(2))), true, "trailing"},
		{"batch ids start too far", cat(v2, edit(good, func(p []byte) []byte {
			return slices.Concat(p[:countAt+4], binary.AppendUvarint(nil, 1<<40), p[countAt+5:])
		})), true, "ids start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, recs, err := readSegment(tc.data)
			var torn *tornError
			if len(recs) != 0 || err == nil || errors.As(err, &torn) != tc.torn || !strings.Contains(err.Error(), tc.where) {
				t.Fatalf("%d records, error %v; want torn=%v mentioning %q", len(recs), err, tc.torn, tc.where)
			}
		})
	}
	// good itself decodes, so each case above fails for its own reason.
	if _, recs, err := readSegment(cat(v2, good)); err != nil || len(recs) != 3 {
		t.Fatalf("the unedited batch: %d records, %v", len(recs), err)
	}
}

// A corrupt batch frame after intact ones ends the segment there: the
// records of the frames before it, none of its own.
func TestJournalTornBatch(t *testing.T) {
	recs := append(requestRun("r1", "r1", 5, t0, true), requestRun("r2", "r2", 7, t0, true)...)
	frames := batchFrames(recs)
	if len(frames) != 2 {
		t.Fatalf("%d frames", len(frames))
	}
	var enc frameEncoder
	head := append([]byte(journalMagic), enc.header(testFeatures)...)
	for _, tc := range []struct {
		name string
		last []byte
	}{
		{"flipped bit", func() []byte {
			b := append([]byte(nil), frames[1].frame...)
			b[len(b)/2] ^= 0x10
			return b
		}()},
		{"short", frames[1].frame[:len(frames[1].frame)-1]},
		{"checksum held, a row cut", func() []byte {
			p := frames[1].frame[frameHeader+1:]
			return frame(kindBatch, p[:len(p)-30])
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := slices.Concat(head, frames[0].frame, tc.last)
			_, got, err := readSegment(data)
			var torn *tornError
			if !errors.As(err, &torn) || torn.Offset != int64(len(head)+len(frames[0].frame)) {
				t.Fatalf("error %v, want torn at the second frame", err)
			}
			if len(got) != 5 {
				t.Fatalf("%d records, want the first frame's 5", len(got))
			}
		})
	}
}

// frame builds a frame with a valid checksum around kind+body.
func frame(kind byte, body []byte) []byte {
	var e frameEncoder
	e.begin(kind)
	e.buf = append(e.buf, body...)
	return append([]byte(nil), e.finish()...)
}

// trailing re-frames a frame with an extra byte in its payload.
func trailing(rec []byte) []byte {
	return frame(rec[frameHeader], append(append([]byte(nil), rec[frameHeader+1:]...), 0))
}

func TestJournalOversizeRecord(t *testing.T) {
	var enc frameEncoder
	r := makeRecords(1, t0, 0)[0]
	r.LeadID = strings.Repeat("x", maxFrame)
	if f, n := enc.batch([]leadscore.Record{r}); f != nil || n != 1 {
		t.Fatal("a frame over maxFrame must not be encoded")
	}
	// In the writer: such a record is dropped from the journal and the
	// lake alike (too_large), so that both hold the same records and a
	// replay's count of closed rows stays exact.
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	recs := makeRecords(3, t0, time.Second)
	recs[1].LeadID = r.LeadID
	w.Capture(recs)
	closeWriter(t, w)
	checkRows(t, readLake(t, dir), []leadscore.Record{recs[0], recs[2]})
	if d := w.Stats().Dropped[DropTooLarge]; d != 1 {
		t.Fatalf("dropped too_large %d, want 1", d)
	}
}

// FuzzJournalReader feeds arbitrary bytes to the segment reader: it must
// never panic or run away, and every record it returns must survive a
// re-encode unchanged.
func FuzzJournalReader(f *testing.F) {
	// Small seeds (a few hundred bytes each): the fuzzer minimizes every
	// input that finds new coverage, and on seeds of kilobytes that took
	// most of a 60 s run.
	cases := journalCases()
	valid := encodeSegment(testFeatures, cases[:4])
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(encodeSegment(nil, []leadscore.Record{{}}))
	f.Add([]byte(journalMagic))
	f.Add([]byte{})
	// Batch frames of every ids mode, lead ids present and absent, runs
	// broken by a variant and by the shadow flag, edge values.
	explicit := requestRun("r", "x", 2, t0, false)
	explicit[0].InferenceID, explicit[1].InferenceID = "x-00", "x-01"
	split := requestRun("r", "r", 4, t0, true)
	split[2].Variant, split[3].Variant, split[3].Shadow = "challenger", "challenger", true
	edge := requestRun("r", "r", 2, time.Unix(0, 1).UTC(), true)
	edge[0].Features = []float32{float32(math.Inf(1)), float32(math.Copysign(0, -1)), math.Float32frombits(0x7f800001)}
	edge[1].Margin, edge[1].Probability, edge[1].Tier = math.Inf(-1), math.Float64frombits(0x7ff8000000000bad), math.MaxInt32
	edge[1].LeadID = "ü\x00"
	for _, run := range [][]leadscore.Record{
		requestRun("r", "r", 3, t0, true), requestRun("r", "sm-x", 3, t0, false),
		requestRun("r", "r", 1, t0, true), explicit, split, edge,
		append(requestRun("a", "a", 2, t0, false), requestRun("b", "b", 1, t0, true)...),
	} {
		f.Add(encodeSegment(testFeatures, run))
	}
	// Version 1 segments.
	f.Add(encodeSegmentV1(testFeatures, cases[:3]))
	f.Add(encodeSegmentV1(testFeatures, cases[20:21]))
	f.Fuzz(func(t *testing.T, data []byte) {
		features, recs, err := readSegment(data)
		var torn *tornError
		if err != nil && !errors.As(err, &torn) && !strings.Contains(err.Error(), "bad magic") {
			t.Fatalf("unexpected error kind: %v", err)
		}
		for i := range recs {
			if len(recs[i].Features) != len(features) {
				t.Fatalf("record %d has %d features, header %d", i, len(recs[i].Features), len(features))
			}
		}
		// Re-encoded, one by one and together (as batch frames, whatever
		// the segment's version), they decode to themselves.
		for i := range recs {
			_, back, err := readSegment(encodeSegment(features, recs[i:i+1]))
			if err != nil || len(back) != 1 || !sameRecord(&back[0], &recs[i]) {
				t.Fatalf("record %d does not round-trip: %v", i, err)
			}
		}
		_, back, err := readSegment(encodeSegment(features, recs))
		if err != nil || len(back) != len(recs) {
			t.Fatalf("%d records re-encoded give %d: %v", len(recs), len(back), err)
		}
		for i := range recs {
			if !sameRecord(&back[i], &recs[i]) {
				t.Fatalf("record %d does not round-trip in a batch", i)
			}
		}
	})
}

// Through a Writer, each request's records (one Capture call) are one
// batch frame of the segment, and the segment replays to them in order.
func TestJournalOneFramePerRequest(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	var all []leadscore.Record
	requests := 0
	for i, n := range []int{100, 1, 7, 1, 1, 33, 100, 2} {
		run := requestRun(fmt.Sprintf("req-%d", i), fmt.Sprintf("req-%d", i), n, t0.Add(time.Duration(i)*time.Second), i%2 == 0)
		w.Capture(run)
		all = append(all, run...)
		requests++
	}
	eventually(t, "records to be journaled", func() bool { return w.Stats().Journaled == uint64(len(all)) })
	w.crash()
	data := onlySegment(t, dir)
	fr, err := newFrameReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	frames := 0
	for {
		p, err := fr.frame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p[0] != kindBatch {
			t.Fatalf("frame %d is %q", frames, p[0])
		}
		frames++
	}
	if frames != requests {
		t.Fatalf("%d frames for %d requests", frames, requests)
	}
	decodesTo(t, data, all)
}

// A record without a time (the journaler gives it the capture time before
// framing, so only a direct caller meets this) decodes from a batch frame
// exactly as from a v1 record frame.
func TestJournalZeroTimeAsV1(t *testing.T) {
	r := requestRun("r", "r", 2, time.Time{}, true)
	_, v1, err1 := readSegment(encodeSegmentV1(testFeatures, r))
	_, v2, err2 := readSegment(encodeSegment(testFeatures, r))
	if err1 != nil || err2 != nil || len(v1) != 2 || len(v2) != 2 {
		t.Fatalf("v1 %d records (%v), v2 %d (%v)", len(v1), err1, len(v2), err2)
	}
	for i := range v1 {
		if v1[i].Time != v2[i].Time || !sameRecord(&v1[i], &v2[i]) {
			t.Fatalf("record %d: v1 %v, v2 %v", i, v1[i].Time, v2[i].Time)
		}
	}
}

// sharedRun makes a 100-lead request as httpapi builds it: every row's
// request id, model, version and variant the same strings (one pointer),
// inference ids base-<row> laid out in one buffer, features rows of one
// block (leadscore.Batch.Features).
func sharedRun(reqID string, n int, at time.Time) []leadscore.Record {
	model, version, variant := "lead-demo", "v3", "champion"
	var ids []byte
	ends := make([]int, n)
	for i := range n {
		ids = strconv.AppendInt(append(append(ids, reqID...), '-'), int64(i), 10)
		ends[i] = len(ids)
	}
	all := string(ids)
	nf := len(testFeatures)
	feats := make([]float32, n*nf)
	recs := make([]leadscore.Record, n)
	start := 0
	for i := range recs {
		for j := range nf {
			feats[i*nf+j] = float32(i*nf+j) / 7
		}
		recs[i] = leadscore.Record{
			Time: at, RequestID: reqID, InferenceID: all[start:ends[i]],
			Model: model, ModelVersion: version, Variant: variant,
			Features: feats[i*nf : (i+1)*nf : (i+1)*nf],
			Margin:   float64(i) - 50, Probability: float64(i) / 100, Tier: 1 + i%5, LatencyMS: 0.5,
		}
		start = ends[i]
	}
	return recs
}

// distinct returns a copy of s in storage of its own: equal, not the same
// bytes.
func distinct(s string) string {
	return string(append([]byte(nil), s...))
}

// checkFrames encodes recs in batch frames, checks the records per frame
// and that the segment replays to recs exactly.
func checkFrames(t *testing.T, recs []leadscore.Record, want string) {
	t.Helper()
	var counts []int
	for _, f := range batchFrames(recs) {
		counts = append(counts, f.recs)
	}
	if got := fmt.Sprint(counts); got != want {
		t.Errorf("records per frame %s, want %s", got, want)
	}
	decodesTo(t, encodeSegment(testFeatures, recs), recs)
}

// The run checks take shared strings for equal without reading them, but
// never take a difference for sameness: a request whose last row differs
// from the others in one field only (a string of the same length, other
// bytes) ends its run there, and equal strings in storage of their own
// (Capture's copies, hand-built records) still make one run.
func TestJournalRunSharedStrings(t *testing.T) {
	at := t0.Add(987654321)
	checkFrames(t, sharedRun("01JFQ", 100, at), "[100]")
	for _, tc := range []struct {
		name   string
		change func(r *leadscore.Record)
		want   string
	}{
		{"request id", func(r *leadscore.Record) { r.RequestID = "01JFX" }, "[99 1]"},
		{"model", func(r *leadscore.Record) { r.Model = "lead-dema" }, "[99 1]"},
		{"model version", func(r *leadscore.Record) { r.ModelVersion = "v4" }, "[99 1]"},
		{"variant", func(r *leadscore.Record) { r.Variant = "champiom" }, "[99 1]"},
		{"shadow", func(r *leadscore.Record) { r.Shadow = true }, "[99 1]"},
		{"latency -0", func(r *leadscore.Record) { r.LatencyMS = math.Copysign(0.5, -1) }, "[99 1]"},
		{"time 1ns later", func(r *leadscore.Record) { r.Time = r.Time.Add(1) }, "[99 1]"},
		{"feature count", func(r *leadscore.Record) { r.Features = r.Features[:2] }, "[99 1]"},
		// Same values in storage of their own: one run.
		{"request id copy", func(r *leadscore.Record) { r.RequestID = distinct(r.RequestID) }, "[100]"},
		{"model copy", func(r *leadscore.Record) { r.Model = distinct(r.Model) }, "[100]"},
		{"version copy", func(r *leadscore.Record) { r.ModelVersion = distinct(r.ModelVersion) }, "[100]"},
		{"variant copy", func(r *leadscore.Record) { r.Variant = distinct(r.Variant) }, "[100]"},
		// The same instant in another location, or with a monotonic
		// reading stripped, is the same time as stored.
		{"time elsewhere", func(r *leadscore.Record) { r.Time = r.Time.In(time.FixedZone("x", 3600)) }, "[100]"},
		{"features elsewhere", func(r *leadscore.Record) { r.Features = slices.Clone(r.Features) }, "[100]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := sharedRun("01JFQ", 100, at)
			tc.change(&recs[len(recs)-1])
			if tc.name == "feature count" {
				// A segment holds one feature count: the run's frames
				// only, no replay.
				var counts []int
				for _, f := range batchFrames(recs) {
					counts = append(counts, f.recs)
				}
				if got := fmt.Sprint(counts); got != tc.want {
					t.Fatalf("records per frame %s, want %s", got, tc.want)
				}
				return
			}
			checkFrames(t, recs, tc.want)
		})
	}
	// A monotonic reading: times equal as instants, not as values.
	recs := sharedRun("01JFQ", 100, time.Now())
	recs[99].Time = recs[99].Time.Round(0)
	checkFrames(t, recs, "[100]")
}

// Indexed inference ids are checked row by row, whole: the last row's id
// differing in one byte of its base or of its digits (same length) makes
// the run's ids explicit, and counting up carries across digits.
func TestJournalIndexedIDsChecked(t *testing.T) {
	at := t0.Add(5)
	for _, tc := range []struct {
		name string
		id   string // the last row's inference id
		mode int
	}{
		{"as numbered", "01JFQ-99", idsIndexedRq},
		{"base differs in its first byte", "11JFQ-99", idsExplicit},
		{"base differs in its last byte", "01JFR-99", idsExplicit},
		{"digit differs", "01JFQ-98", idsExplicit},
		{"dash differs", "01JFQ_99", idsExplicit},
		{"one digit more", "01JFQ-990", idsExplicit},
		{"request id", "01JFQ", idsExplicit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := sharedRun("01JFQ", 100, at)
			recs[99].InferenceID = tc.id
			var e frameEncoder
			if mode, _, _ := e.idMode(recs); mode != tc.mode {
				t.Fatalf("mode %d, want %d", mode, tc.mode)
			}
			if mode, _, _ := idMode(recs); mode != tc.mode {
				t.Fatalf("idMode: mode %d, want %d", mode, tc.mode)
			}
			checkFrames(t, recs, "[100]")
		})
	}
	// Runs that start past 0 count up across 9 -> 10, 99 -> 100, ...
	for _, start := range []int{0, 5, 9, 95, 99, 995, 999_999_990} {
		recs := requestRun("r", "sm-base", 30, at, false)
		for i := range recs {
			recs[i].InferenceID = "sm-base-" + strconv.Itoa(start+i)
		}
		var e frameEncoder
		mode, base, from := e.idMode(recs)
		if mode != idsIndexed || base != "sm-base" || from != uint64(start) {
			t.Fatalf("start %d: mode %d base %q from %d", start, mode, base, from)
		}
		checkFrames(t, recs, "[30]")
	}
}

// The rows' features are copied from wherever they are: rows of one block
// (a Batch), rows of their own, rows sharing one slice, and no features.
func TestJournalFeatureStorage(t *testing.T) {
	at := t0.Add(7)
	block := sharedRun("b", 50, at)
	own := sharedRun("o", 50, at)
	for i := range own {
		own[i].Features = slices.Clone(own[i].Features)
	}
	shared := sharedRun("s", 50, at)
	for i := range shared {
		shared[i].Features = shared[0].Features
	}
	recs := append(append(append([]leadscore.Record(nil), block...), own...), shared...)
	checkFrames(t, recs, "[50 50 50]")

	none := sharedRun("n", 20, at)
	for i := range none {
		none[i].Features = nil
	}
	var enc frameEncoder
	var seg []byte
	seg = append(append(seg, journalMagic...), enc.header(nil)...)
	for _, f := range batchFrames(none) {
		seg = append(seg, f.frame...)
	}
	decodesTo(t, seg, none)
}

// The features are written as little-endian float32s whatever the host:
// the value-by-value path (a big-endian host's) writes the same bytes as
// the copy of their memory.
func TestJournalFeaturesEndianPaths(t *testing.T) {
	recs := batchCases()
	want := encodeSegment(testFeatures, recs)
	saved := littleEndian
	littleEndian = !saved
	got := encodeSegment(testFeatures, recs)
	littleEndian = saved
	if !bytes.Equal(got, want) {
		t.Fatal("the two paths write different bytes")
	}
	vs := []float32{1, float32(math.Inf(-1)), math.Float32frombits(0x7fc00001), -0.5}
	var le [16]byte
	for i, v := range vs {
		binary.LittleEndian.PutUint32(le[4*i:], math.Float32bits(v))
	}
	for _, little := range []bool{true, false} {
		littleEndian = little
		var dst [16]byte
		putFloat32s(dst[:], vs)
		if dst != le {
			littleEndian = saved
			t.Fatalf("littleEndian %v: % x, want % x", little, dst, le)
		}
	}
	littleEndian = saved
}

// Frames appended one after another into the journaler's pending bytes are
// the frames encoded alone, and a record too large for a frame leaves what
// was pending as it was.
func TestJournalAppendInPlace(t *testing.T) {
	recs := batchCases()
	big := requestRun("big", "big", 3, t0, true)
	big[1].LeadID = strings.Repeat("x", maxFrame) // too large alone
	recs = append(recs, big...)
	var want []byte
	for _, f := range batchFrames(recs) {
		want = append(want, f.frame...)
	}
	var enc frameEncoder
	enc.buf = append(enc.buf, "pending"...)
	for i := 0; i < len(recs); {
		before := len(enc.buf)
		frame, n := enc.appendBatch(recs[i:])
		switch {
		case frame == nil && len(enc.buf) != before:
			t.Fatalf("record %d refused, pending bytes %d -> %d", i, before, len(enc.buf))
		case frame != nil && !bytes.Equal(frame, enc.buf[before:]):
			t.Fatalf("frame at %d is not the tail of the pending bytes", i)
		}
		i += n
	}
	if got := enc.buf; !bytes.Equal(got[:7], []byte("pending")) || !bytes.Equal(got[7:], want) {
		t.Fatal("frames appended in place differ from frames encoded alone")
	}
}

// Through a Writer whose journal writes its pending bytes at every frame
// or at a few KiB, the segment holds every request's records in order.
func TestJournalPendingWrites(t *testing.T) {
	for _, size := range []int{1, 4 << 10} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			dir := t.TempDir()
			var writes atomic.Int64
			tune := testTuning()
			tune.journalBufSize = size
			tune.wrapJournal = func(w io.Writer) io.Writer { return countingWriter{w, &writes} }
			w, err := newWriter(Config{Dir: dir}, testFeatures, nil, nil, tune)
			if err != nil {
				t.Fatal(err)
			}
			var all []leadscore.Record
			for i := range 40 {
				run := sharedRun(fmt.Sprintf("req-%d", i), 1+i%9*7, t0.Add(time.Duration(i)*time.Millisecond))
				w.Capture(run)
				all = append(all, run...)
			}
			eventually(t, "records to be journaled", func() bool { return w.Stats().Journaled == uint64(len(all)) })
			w.crash()
			data := onlySegment(t, dir)
			decodesTo(t, data, all)
			if size == 1 && writes.Load() < 40 {
				t.Fatalf("%d writes, want one a frame at least", writes.Load())
			}
		})
	}
}

// countingWriter counts the writes through it.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.w.Write(p)
}
