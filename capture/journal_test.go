package capture

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
)

// encodeSegment encodes a whole segment.
func encodeSegment(features []string, recs []leadscore.Record) []byte {
	var enc frameEncoder
	buf := []byte(journalMagic)
	buf = append(buf, enc.header(features)...)
	for i := range recs {
		buf = append(buf, enc.record(&recs[i])...)
	}
	return buf
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

func TestJournalRoundTrip(t *testing.T) {
	recs := journalCases()
	features, got, err := readSegment(encodeSegment(testFeatures, recs))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(features, ",") != strings.Join(testFeatures, ",") || len(got) != len(recs) {
		t.Fatalf("features %v, %d records", features, len(got))
	}
	for i := range recs {
		if !sameRecord(&got[i], &recs[i]) {
			t.Fatalf("record %d: got %+v, want %+v", i, got[i], recs[i])
		}
	}
}

// Cutting a segment anywhere (a crash mid-write) yields exactly the
// records whose frames are complete, and a torn error unless the cut falls
// between frames.
func TestJournalEveryCut(t *testing.T) {
	recs := makeRecords(5, t0, time.Second)
	data := encodeSegment(testFeatures, recs)
	// Frame boundaries.
	var enc frameEncoder
	bounds := map[int]int{} // end offset -> records complete
	off := len(journalMagic) + len(enc.header(testFeatures))
	bounds[off] = 0
	for i := range recs {
		off += len(enc.record(&recs[i]))
		bounds[off] = i + 1
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
	r := makeRecords(1, t0, 0)[0]
	wrongCount := r
	wrongCount.Features = []float32{1}
	for _, tc := range []struct {
		name  string
		data  []byte
		torn  bool
		where string
	}{
		{"bad magic", []byte("LSCAPJ0\nxxxxxxxxx"), false, "bad magic"},
		{"record before header", append([]byte(journalMagic), enc.record(&r)...), true, "not a header"},
		{"feature count mismatch", append(append([]byte(journalMagic), header...), enc.record(&wrongCount)...), true, "has 1 features"},
		{"huge feature count", append([]byte(journalMagic), frame(kindHeader, []byte{0xff, 0xff, 0xff, 0x7f})...), true, "declares"},
		{"header trailing bytes", append([]byte(journalMagic), frame(kindHeader, []byte{0, 1})...), true, "trailing"},
		{"bad uvarint", append([]byte(journalMagic), frame(kindHeader, []byte{0x80})...), true, "uvarint"},
		{"string too long", append([]byte(journalMagic), frame(kindHeader, []byte{1, 5, 'a'})...), true, "short"},
		{"unknown kind", append(append([]byte(journalMagic), header...), frame('Z', nil)...), true, "unexpected frame kind"},
		{"record too short", append(append([]byte(journalMagic), header...), frame(kindRecord, []byte{1, 2})...), true, "short"},
		{"record trailing bytes", append(append([]byte(journalMagic), header...), trailing(enc.record(&r))...), true, "trailing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, recs, err := readSegment(tc.data)
			var torn *tornError
			if len(recs) != 0 || err == nil || errors.As(err, &torn) != tc.torn || !strings.Contains(err.Error(), tc.where) {
				t.Fatalf("%d records, error %v; want torn=%v mentioning %q", len(recs), err, tc.torn, tc.where)
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

// trailing re-frames a record frame with an extra byte in its payload.
func trailing(rec []byte) []byte {
	return frame(rec[frameHeader], append(append([]byte(nil), rec[frameHeader+1:]...), 0))
}

func TestJournalOversizeRecord(t *testing.T) {
	var enc frameEncoder
	r := makeRecords(1, t0, 0)[0]
	r.LeadID = strings.Repeat("x", maxFrame)
	if enc.record(&r) != nil {
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
	valid := encodeSegment(testFeatures, journalCases())
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(encodeSegment(nil, []leadscore.Record{{}}))
	f.Add([]byte(journalMagic))
	f.Add([]byte{})
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
			again := encodeSegment(features, recs[i:i+1])
			_, back, err := readSegment(again)
			if err != nil || len(back) != 1 || !sameRecord(&back[0], &recs[i]) {
				t.Fatalf("record %d does not round-trip: %v", i, err)
			}
		}
	})
}
