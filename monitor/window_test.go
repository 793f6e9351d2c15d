package monitor

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
)

// TestWindowIndexMatchesMap drives the window's id index and a plain
// map-based model of it (the newest row of each id that is still in the
// window) with the same random pushes, evictions, expiries and lookups,
// with ids repeated often so that chains hold several rows of one id.
func TestWindowIndexMatchesMap(t *testing.T) {
	for _, capacity := range []int{1, 2, 3, 7, 64, 1000} {
		rng := rand.New(rand.NewPCG(uint64(capacity), 1)) // #nosec G404 -- test data
		w := newWindow(1, capacity, time.Minute)
		t0 := time.Unix(1_700_000_000, 0)
		at := t0
		// The model: every pushed row by sequence number, and the window's
		// span [start, next).
		type row struct{ inf, lead string }
		var rows []row
		newest := func(seq0, seq1 uint64, match func(row) bool) (uint64, bool) {
			for s := seq1; s > seq0; s-- {
				if match(rows[s-1]) {
					return s - 1, true
				}
			}
			return 0, false
		}
		for op := 0; op < 20*capacity+200; op++ {
			switch k := rng.IntN(10); {
			case k < 6: // push
				r := row{}
				if rng.IntN(8) != 0 {
					r.inf = "i" + strconv.Itoa(rng.IntN(capacity+3))
				}
				if rng.IntN(4) != 0 {
					r.lead = "l" + strconv.Itoa(rng.IntN(capacity/2+2))
				}
				at = at.Add(time.Duration(rng.IntN(3)) * time.Second)
				push(w, []float32{1}, 0.5, at.UnixNano(), r.inf, r.lead)
				rows = append(rows, r)
			case k < 7: // expire the rows of more than a minute ago
				w.expire(at.Add(time.Duration(rng.IntN(90)) * time.Second))
			default: // feedback by inference id or by lead id
				fb := Feedback{InferenceID: "i" + strconv.Itoa(rng.IntN(capacity+3)), Converted: true}
				if rng.IntN(2) == 0 {
					fb = Feedback{LeadID: "l" + strconv.Itoa(rng.IntN(capacity/2+2))}
				}
				want, ok := uint64(0), false
				if fb.InferenceID != "" {
					want, ok = newest(w.start, w.next, func(r row) bool { return r.inf == fb.InferenceID })
				} else {
					want, ok = newest(w.start, w.next, func(r row) bool { return r.lead == fb.LeadID })
				}
				w.label[w.slot(want)] = -1
				if got := w.setLabel(&fb); got != ok {
					t.Fatalf("capacity %d, op %d: %+v matched %v, want %v", capacity, op, fb, got, ok)
				}
				if ok {
					v := int8(0)
					if fb.Converted {
						v = 1
					}
					if w.label[w.slot(want)] != v {
						t.Fatalf("capacity %d, op %d: %+v labelled another row than %d", capacity, op, fb, want)
					}
				}
			}
		}
	}
}

// BenchmarkWindowPush: one record into a full window of 10,000 rows, with
// an inference id and a lead id, indexed every 100 rows as feedback
// arriving would (the per-record cost of monitoring).
func BenchmarkWindowPush(b *testing.B) {
	const capacity = 10000
	w := newWindow(50, capacity, 0)
	recs := make([]leadscore.Record, 4*capacity)
	for i := range recs {
		recs[i] = leadscore.Record{InferenceID: "req-" + strconv.Itoa(i), LeadID: "lead-" + strconv.Itoa(i%5000),
			Features: make([]float32, 50)}
	}
	now := time.Now().UnixNano()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &recs[i%len(recs)]
		push(w, r.Features, r.Probability, now, r.InferenceID, r.LeadID)
		if i%100 == 99 {
			w.index() // feedback comes in and indexes the rows
		}
	}
}

// push adds one row to w.
func push(w *window, feats []float32, prob float64, at int64, inf, lead string) {
	w.pushRecords([]leadscore.Record{{Features: feats, Probability: prob, Time: time.Unix(0, at), InferenceID: inf, LeadID: lead}}, 0)
}
