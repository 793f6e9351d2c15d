package monitor

import (
	"hash/maphash"
	"math/bits"
	"time"

	"github.com/leadscore/leadscore"
)

// window is the live sliding window: the last capacity scored rows, fewer
// when rows older than maxAge are dropped, in a ring. It is not safe for
// concurrent use; the Monitor guards it.
type window struct {
	nf       int
	capacity int
	maxAge   time.Duration

	feats []float32 // capacity rows of nf values
	prob  []float64
	at    []int64 // unix nanoseconds
	inf   []string
	lead  []string
	label []int8 // -1 unknown, 0 not converted, 1 converted

	start, next uint64 // sequence numbers of the oldest row and the next one
	byInf       idIndex
	byLead      idIndex
	version     uint64 // changes whenever the rows or labels change
}

// idIndex finds the newest window row holding an id. It is a hash table
// chained through the ring's slots, so that adding and evicting a row
// neither allocates nor rehashes (a Go map churned by ten thousand ids a
// second spent more time in its inserts than the rest of the window): a
// row's slot is pushed at the head of its bucket's chain, and an evicted
// row, the oldest, is the tail of its chain.
type idIndex struct {
	seed maphash.Seed
	mask uint64
	head []int32 // bucket -> slot+1 of its newest row (0: empty)
	next []int32 // slot -> slot+1 of the next older row of its bucket (0: none)
}

func newIDIndex(capacity int) idIndex {
	buckets := 1 << bits.Len(uint(max(capacity, 2)-1)) // a power of two >= capacity
	return idIndex{seed: maphash.MakeSeed(), mask: uint64(buckets - 1),
		head: make([]int32, buckets), next: make([]int32, capacity)}
}

func (x *idIndex) bucket(id string) int { return int(maphash.String(x.seed, id) & x.mask) } // #nosec G115 -- masked

// add indexes slot, which holds id.
func (x *idIndex) add(slot int, id string) {
	b := x.bucket(id)
	x.next[slot] = x.head[b]
	x.head[b] = int32(slot + 1) // #nosec G115 -- slots < MaxWindowRows
}

// remove unindexes slot, which holds id and is the oldest row of its
// bucket.
func (x *idIndex) remove(slot int, id string) {
	link := &x.head[x.bucket(id)]
	for *link != 0 {
		if int(*link-1) == slot {
			*link = x.next[slot]
			x.next[slot] = 0
			return
		}
		link = &x.next[*link-1]
	}
}

// find returns the slot of the newest row whose ids[slot] is id.
func (x *idIndex) find(id string, ids []string) (int, bool) {
	for s := x.head[x.bucket(id)]; s != 0; s = x.next[s-1] {
		if ids[s-1] == id {
			return int(s - 1), true
		}
	}
	return 0, false
}

func newWindow(nf, capacity int, maxAge time.Duration) *window {
	return &window{
		nf: nf, capacity: capacity, maxAge: maxAge,
		feats: make([]float32, capacity*nf), prob: make([]float64, capacity), at: make([]int64, capacity),
		inf: make([]string, capacity), lead: make([]string, capacity), label: make([]int8, capacity),
		byInf: newIDIndex(capacity), byLead: newIDIndex(capacity),
	}
}

func (w *window) slot(seq uint64) int { return int(seq % uint64(w.capacity)) } // #nosec G115 -- capacity > 0

func (w *window) len() int { return int(w.next - w.start) } // #nosec G115 -- at most capacity

// push adds a record whose Features has nf values, evicting the oldest
// row when full. A zero record time counts as now.
func (w *window) push(r *leadscore.Record, now time.Time) {
	if w.len() == w.capacity {
		w.evict()
	}
	s := w.slot(w.next)
	copy(w.feats[s*w.nf:(s+1)*w.nf], r.Features)
	t := r.Time
	if t.IsZero() {
		t = now
	}
	w.prob[s], w.at[s], w.inf[s], w.lead[s], w.label[s] = r.Probability, t.UnixNano(), r.InferenceID, r.LeadID, -1
	if r.InferenceID != "" {
		w.byInf.add(s, r.InferenceID)
	}
	if r.LeadID != "" {
		w.byLead.add(s, r.LeadID)
	}
	w.next++
	w.version++
}

// evict drops the oldest row.
func (w *window) evict() {
	s := w.slot(w.start)
	if id := w.inf[s]; id != "" {
		w.byInf.remove(s, id)
	}
	if id := w.lead[s]; id != "" {
		w.byLead.remove(s, id)
	}
	w.inf[s], w.lead[s] = "", ""
	w.start++
	w.version++
}

// expire drops rows older than maxAge before now.
func (w *window) expire(now time.Time) {
	if w.maxAge <= 0 {
		return
	}
	cutoff := now.Add(-w.maxAge).UnixNano()
	for n := w.len(); n > 0 && w.at[w.slot(w.start)] < cutoff; n-- {
		w.evict()
	}
}

// setLabel records the outcome of the row the feedback names, by
// inference id, else by lead id (the latest row of that lead); it reports
// whether a row matched.
func (w *window) setLabel(fb *Feedback) bool {
	slot, ok := 0, false
	if fb.InferenceID != "" {
		slot, ok = w.byInf.find(fb.InferenceID, w.inf)
	}
	if !ok && fb.LeadID != "" {
		slot, ok = w.byLead.find(fb.LeadID, w.lead)
	}
	if !ok {
		return false
	}
	var v int8
	if fb.Converted {
		v = 1
	}
	w.label[slot] = v
	w.version++
	return true
}

// snapshot is a copy of the window's rows, oldest first.
type snapshot struct {
	feats  []float32 // len(probs) rows of nf values
	probs  []float64
	labels []int8
	info   Window
}

// snapshot copies the rows in order: a few memory copies, so that the
// caller holds the lock only briefly.
func (w *window) snapshot() snapshot {
	n := w.len()
	s := snapshot{feats: make([]float32, 0, n*w.nf), probs: make([]float64, 0, n), labels: make([]int8, 0, n),
		info: Window{Rows: int64(n)}}
	if n == 0 {
		return s
	}
	first, last := w.slot(w.start), w.slot(w.next-1)
	// The rows are one run of the ring, or two when they wrap around.
	runs := [][2]int{{first, last + 1}}
	if last < first {
		runs = [][2]int{{first, w.capacity}, {0, last + 1}}
	}
	for _, r := range runs {
		s.feats = append(s.feats, w.feats[r[0]*w.nf:r[1]*w.nf]...)
		s.probs = append(s.probs, w.prob[r[0]:r[1]]...)
		s.labels = append(s.labels, w.label[r[0]:r[1]]...)
	}
	oldest, newest := time.Unix(0, w.at[first]).UTC(), time.Unix(0, w.at[last]).UTC()
	s.info.Oldest, s.info.Newest = &oldest, &newest
	return s
}
