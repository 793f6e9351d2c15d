package capture

import (
	"fmt"
	"testing"

	"github.com/leadscore/leadscore"
)

// publicSampleHash is the unkeyed FNV-1a hash capture once sampled by: a
// caller could compute it and pick inference ids it left out.
func publicSampleHash(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// TestSamplingCannotBeChosenByTheCaller is issue 10, finding 6: sampling
// hashed the caller's inference id with a public function, so a caller
// could send ids that are always sampled out and keep its rows out of the
// lake. Records are now picked by a hash keyed with a per-Writer secret:
// ids chosen to be left out by any public function are kept at the
// sampling rate like any others, live and shadow records of one request
// alike.
func TestSamplingCannotBeChosenByTheCaller(t *testing.T) {
	w := newTestWriter(t, Config{Dir: t.TempDir(), SamplePercent: 25}, nil)
	lt := w.sampleBelow
	var recs []leadscore.Record
	for i := 0; len(recs) < 4000; i++ {
		id := fmt.Sprintf("opt-out-%d", i)
		if publicSampleHash(id) < lt {
			continue // the caller keeps only ids the public hash leaves out
		}
		r := makeRecords(1, t0, 0)[0]
		r.InferenceID, r.RequestID = id, fmt.Sprintf("req-%d", i)
		recs = append(recs, r)
	}
	w.Capture(recs)
	s := w.Stats()
	if s.Captured < 800 || s.Captured > 1200 {
		t.Fatalf("%d of 4000 chosen ids kept at 25%%: the caller picked its rows out of the lake", s.Captured)
	}
	// A shadow record shares the live one's ids: kept or left out with it.
	for i := range recs[:200] {
		sh := recs[i]
		sh.Shadow, sh.Variant = true, "challenger"
		if (w.sampleHash(&sh) < lt) != (w.sampleHash(&recs[i]) < lt) {
			t.Fatalf("record %d: the shadow and the live record are sampled apart", i)
		}
	}
	// Another Writer (another process) has another key.
	w2 := newTestWriter(t, Config{Dir: t.TempDir(), SamplePercent: 25}, nil)
	same := 0
	for i := range recs {
		if (w.sampleHash(&recs[i]) < lt) == (w2.sampleHash(&recs[i]) < lt) {
			same++
		}
	}
	if same == len(recs) {
		t.Fatal("two Writers sample alike: the key is not secret per process")
	}
	closeWriter(t, w)
	closeWriter(t, w2)
}
