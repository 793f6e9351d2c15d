package monitor

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

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

// TestWindowKeepsIDCopies: the window keeps its own copies of the ids it
// is pushed, since a record's ids may be its batch's storage, another
// request's once the batch is released. Batches of records whose ids are
// views of one buffer, overwritten after every push, go into windows
// small and large (so that the id arrays are reused and grown, with long
// lead ids among short ones); every row still in the window is then
// found by its own ids, and a row that left is not.
func TestWindowKeepsIDCopies(t *testing.T) {
	for _, capacity := range []int{1, 5, 100, 3000} {
		w := newWindow(1, capacity, 0)
		var buf []byte
		pushed := 0
		for b := range 200 {
			n := 1 + b%37
			recs := make([]leadscore.Record, n)
			buf = buf[:0]
			var spans [][4]int
			for i := range recs {
				inf := fmt.Sprintf("req-%d-%d", b, i)
				lead := fmt.Sprintf("lead-%d", pushed+i)
				if i%7 == 3 {
					lead += strings.Repeat("x", 300)
				}
				at := len(buf)
				buf = append(buf, inf...)
				buf = append(buf, lead...)
				spans = append(spans, [4]int{at, at + len(inf), at + len(inf), at + len(inf) + len(lead)})
			}
			for i, sp := range spans {
				inf := unsafe.String(&buf[sp[0]], sp[1]-sp[0])  // #nosec G103 -- test: a view, as a batch's ids are
				lead := unsafe.String(&buf[sp[2]], sp[3]-sp[2]) // #nosec G103 -- as above
				recs[i] = leadscore.Record{Features: []float32{1}, Probability: 0.5, InferenceID: inf, LeadID: lead}
			}
			w.pushRecords(recs, 1)
			pushed += n
			for i := range buf {
				buf[i] = '#' // the batch's storage, reused
			}
		}
		// The rows still in the window, by their ids.
		for seq := w.start; seq < w.next; seq++ {
			s := w.slot(seq)
			lead := "lead-" + strconv.FormatUint(seq, 10)
			if !strings.HasPrefix(w.lead[s], lead) || strings.Contains(w.inf[s], "#") || !strings.HasPrefix(w.inf[s], "req-") {
				t.Fatalf("capacity %d: row %d holds ids %q, %q", capacity, seq, w.inf[s], w.lead[s])
			}
			if !w.setLabel(&Feedback{LeadID: w.lead[s], Converted: true}) || w.label[s] != 1 {
				t.Fatalf("capacity %d: row %d not found by its lead id", capacity, seq)
			}
			if !w.setLabel(&Feedback{InferenceID: w.inf[s]}) || w.label[s] != 0 {
				t.Fatalf("capacity %d: row %d not found by its inference id", capacity, seq)
			}
		}
		if w.start > 0 && w.setLabel(&Feedback{LeadID: "lead-" + strconv.FormatUint(w.start-1, 10)}) {
			t.Fatalf("capacity %d: a row that left the window was found", capacity)
		}
		if capacity >= 100 && cap(w.idCur)+cap(w.idOld) > 8*(capacity*64+64<<10) {
			t.Errorf("capacity %d: %d bytes of id arrays", capacity, cap(w.idCur)+cap(w.idOld))
		}
	}
}

// TestWindowIDsNoAllocation: once its id arrays hold a window's ids, a
// window pushed batch after batch allocates nothing for them.
func TestWindowIDsNoAllocation(t *testing.T) {
	w := newWindow(2, 1000, 0)
	recs := make([]leadscore.Record, 100)
	for i := range recs {
		recs[i] = leadscore.Record{Features: []float32{1, 2}, Probability: 0.5,
			InferenceID: fmt.Sprintf("0123abcd-00000000000004d2-%d", i), LeadID: fmt.Sprintf("crm-%06d", i)}
	}
	for range 200 {
		w.pushRecords(recs, 1)
	}
	if n := testing.AllocsPerRun(100, func() { w.pushRecords(recs, 1) }); n != 0 {
		t.Errorf("%v allocations a batch of 100 rows", n)
	}
	if got, most := cap(w.idCur)+cap(w.idOld), 4*1000*(len(recs[99].InferenceID)+len(recs[99].LeadID)); got > most {
		t.Errorf("%d bytes of id arrays for a window of 1,000 rows of ids, want at most %d", got, most)
	}
}
