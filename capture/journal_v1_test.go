package capture

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/leadscore/leadscore"
)

// updateV1 rewrites testdata/journal/v1.wal. It was run once, on the code
// that still wrote LSCAPJ1 segments (commit "capture: a v1 journal segment
// fixture"), so the fixture is what a server of that version left behind;
// do not run it again unless encodeSegmentV1 is known to match that code.
var updateV1 = flag.Bool("update-journal-v1", false, "rewrite testdata/journal/v1.wal from encodeSegmentV1")

const v1Fixture = "testdata/journal/v1.wal"

// v1FixtureRecords are the records of the v1 fixture: a 5-lead request
// with indexed inference ids and lead ids, its shadow run, single leads
// whose inference id is the request id, and edge values (NaN payloads,
// infinities, -0, empty and non-ASCII strings, a negative tier).
func v1FixtureRecords() []leadscore.Record {
	at := time.Date(2026, 12, 6, 18, 30, 0, 123456789, time.UTC)
	nan := math.Float32frombits(0x7fc00001) // a NaN with a payload
	var recs []leadscore.Record
	for i := range 5 {
		recs = append(recs, leadscore.Record{
			Time: at, RequestID: "01JFREQA", InferenceID: "01JFREQA-" + string(rune('0'+i)),
			LeadID: "lead-" + string(rune('a'+i)), Model: "lead-demo", ModelVersion: "7",
			Features: []float32{float32(i), nan, float32(i) / 3}, Margin: float64(i) - 2.5,
			Probability: float64(i) / 5, Tier: 1 + i, LatencyMS: 0.25, Variant: "champion",
		})
	}
	for i := range 5 {
		r := recs[i]
		r.Model, r.ModelVersion, r.Variant, r.Shadow = "lead-next", "8", "challenger", true
		r.Margin, r.Probability = -r.Margin, 1-r.Probability
		recs = append(recs, r)
	}
	recs = append(recs,
		leadscore.Record{Time: at.Add(time.Millisecond), RequestID: "01JFREQB", InferenceID: "01JFREQB",
			Model: "lead-demo", ModelVersion: "7", Features: []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1))},
			Margin: math.Inf(-1), Probability: math.NaN(), Tier: -3, LatencyMS: math.Copysign(0, -1)},
		leadscore.Record{Time: time.Unix(0, 1).UTC(), Features: []float32{0, 0, 0}},
		leadscore.Record{Time: at.Add(time.Second), RequestID: "sm-inference-ü", InferenceID: "sm-inference-ü",
			LeadID: "x\x00y", Model: "lead-demo", ModelVersion: "7", Features: []float32{1, 2, 3},
			Probability: 0.5, Tier: 3, LatencyMS: 1.5, Variant: "champion"},
	)
	return recs
}

// encodeSegmentV1 encodes a segment as the server wrote it before batch
// frames: the LSCAPJ1 magic, the header, one 'R' frame per record.
func encodeSegmentV1(features []string, recs []leadscore.Record) []byte {
	var enc frameEncoder
	buf := []byte(journalMagicV1)
	buf = append(buf, enc.header(features)...)
	for i := range recs {
		buf = append(buf, enc.record(&recs[i])...)
	}
	return buf
}

// record encodes one version 1 record frame ('R'), as the journal wrote
// them before batch frames; nil when it would exceed maxFrame. Kept for
// tests that make v1 segments.
func (e *frameEncoder) record(r *leadscore.Record) []byte {
	e.buf = e.buf[:0]
	e.begin(kindRecord)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(r.Time.UnixNano())) //nolint:gosec // bit pattern, decoded back as int64
	e.str(r.RequestID)
	e.str(r.InferenceID)
	e.str(r.LeadID)
	e.str(r.Model)
	e.str(r.ModelVersion)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(r.Features)))
	e.buf = appendFloat32s(e.buf, r.Features)
	e.f64(r.Margin)
	e.f64(r.Probability)
	e.buf = binary.AppendVarint(e.buf, int64(r.Tier))
	e.f64(r.LatencyMS)
	e.str(r.Variant)
	shadow := byte(0)
	if r.Shadow {
		shadow = 1
	}
	e.buf = append(e.buf, shadow)
	return e.finish()
}

// A segment written by the v1 journal replays to exactly its records.
func TestJournalV1Fixture(t *testing.T) {
	want := v1FixtureRecords()
	path := filepath.FromSlash(v1Fixture)
	if *updateV1 {
		if err := os.WriteFile(path, encodeSegmentV1(testFeatures, want), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("LSCAPJ1\n")) {
		t.Fatalf("fixture magic %q", data[:min(8, len(data))])
	}
	if !bytes.Equal(data, encodeSegmentV1(testFeatures, want)) {
		t.Fatal("encodeSegmentV1 no longer writes the fixture's bytes")
	}
	features, got, err := readSegment(data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(features, ",") != strings.Join(testFeatures, ",") || len(got) != len(want) {
		t.Fatalf("features %v, %d records, want %d", features, len(got), len(want))
	}
	for i := range want {
		if !sameRecord(&got[i], &want[i]) {
			t.Fatalf("record %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// After an upgrade, New replays what a v1 server left in the journal (a
// segment of 'R' frames) beside what this one journaled (batch frames),
// every record exactly once.
func TestReplayV1SegmentAfterUpgrade(t *testing.T) {
	dir := t.TempDir()
	var v2 []leadscore.Record
	for i := range 30 {
		v2 = append(v2, requestRun(fmt.Sprintf("req-%02d", i), fmt.Sprintf("req-%02d", i), 1+i%11, t0.Add(time.Duration(i)*time.Second), i%2 == 0)...)
	}
	crashAfterJournal(t, Config{Dir: dir}, v2)
	seg := onlySegment(t, dir)
	if !bytes.HasPrefix(seg, []byte(journalMagic)) || journalMagic != "LSCAPJ2\n" {
		t.Fatalf("the journal wrote magic %q", seg[:8])
	}
	v1 := makeRecords(300, t0.Add(-time.Hour), time.Second)
	older := "20250101T000000.000000Z-00000001.wal"
	if err := os.WriteFile(filepath.Join(dir, journalDir, older), encodeSegmentV1(testFeatures, v1), 0o600); err != nil {
		t.Fatal(err)
	}
	w := newTestWriter(t, Config{Dir: dir}, nil)
	closeWriter(t, w)
	if s := w.Stats(); s.Replayed != uint64(len(v1)+len(v2)) || s.Torn != 0 {
		t.Fatalf("stats %+v, want %d replayed", s, len(v1)+len(v2))
	}
	checkRows(t, readLake(t, dir), append(v1, v2...))
	assertNoLeftovers(t, dir)
}

// appendFloat32s appends vs as little-endian float32s: one copy of their
// memory on a little-endian host (a record's 50 features in one memmove
// instead of 50 appends), value by value elsewhere.
func appendFloat32s(buf []byte, vs []float32) []byte {
	if littleEndian && len(vs) > 0 {
		return append(buf, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vs))), 4*len(vs))...) // #nosec G103 -- reads vs's own bytes
	}
	for _, v := range vs {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	return buf
}
