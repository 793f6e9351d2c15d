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
	// byInf and byLead index the rows before indexed (at least start) by
	// their ids. Only feedback looks ids up, so rows are indexed when it
	// does (index), not as they come: a server without feedback never
	// hashes an id, and one with feedback hashes each row once either way.
	indexed uint64
	byInf   idIndex
	byLead  idIndex
	version uint64 // changes whenever the rows or labels change

	// idCur holds the rows' ids (inf and lead are views of it): the
	// window's own copies, since a record's may be its batch's storage
	// (leadscore.Batch.IDs), another request's once the batch is
	// released. Ids are appended to idCur; when it is full, idOld takes
	// its place once none of its rows is left in the window (they are
	// all before idOldEnd), else a new array does (the collector frees
	// the one dropped once no row holds its ids): see idRoom. A window
	// keeps two to four windows' worth of ids, and allocates nothing
	// once they fit.
	idCur, idOld []byte
	idOldEnd     uint64
}

// minIDBytes is the first id array a window allocates.
const minIDBytes = 4 << 10

// idIndex finds the newest window row holding an id. It is a hash table
// chained through the ring's slots, so that adding and evicting a row
// neither allocates nor rehashes (a Go map churned by ten thousand ids a
// second spent more time in its inserts than the rest of the window): a
// row's slot is pushed at the head of its bucket's chain, and an evicted
// row, the oldest, is the tail of its chain.
type idIndex struct {
	seed   maphash.Seed
	mask   uint64
	head   []int32 // bucket -> slot+1 of its newest row (0: empty)
	next   []int32 // slot -> slot+1 of the next older row of its bucket (0: none)
	bucket []int32 // slot -> its bucket, so that removing a row hashes nothing
}

func newIDIndex(capacity int) idIndex {
	buckets := 1 << bits.Len(uint(max(capacity, 2)-1)) // a power of two >= capacity
	return idIndex{seed: maphash.MakeSeed(), mask: uint64(buckets - 1),
		head: make([]int32, buckets), next: make([]int32, capacity), bucket: make([]int32, capacity)}
}

func (x *idIndex) bucketOf(id string) int32 { return int32(maphash.String(x.seed, id) & x.mask) } // #nosec G115 -- masked, buckets <= 2*MaxWindowRows

// add indexes slot, which holds id.
func (x *idIndex) add(slot int, id string) {
	b := x.bucketOf(id)
	x.bucket[slot] = b
	x.next[slot] = x.head[b]
	x.head[b] = int32(slot + 1) // #nosec G115 -- slots < MaxWindowRows
}

// remove unindexes slot, which is indexed and the oldest row of its
// bucket.
func (x *idIndex) remove(slot int) {
	link := &x.head[x.bucket[slot]]
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
	for s := x.head[x.bucketOf(id)]; s != 0; s = x.next[s-1] {
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

// pushRecords adds len(recs) rows, at most capacity, evicting the
// oldest rows to make room: each record holds nf Features, and one
// without a time takes now (unix nanoseconds).
func (w *window) pushRecords(recs []leadscore.Record, now int64) {
	n := len(recs)
	// The rows the new ones replace leave the window (and the indexes);
	// their ids are overwritten below.
	for over := w.len() + n - w.capacity; over > 0; over-- {
		w.unindexOldest()
		w.start++
	}
	w.indexed = max(w.indexed, w.start)
	s, nf := w.slot(w.next), w.nf
	for i := range recs {
		r := &recs[i]
		at := now
		if !r.Time.IsZero() {
			at = r.Time.UnixNano()
		}
		if need := len(r.InferenceID) + len(r.LeadID); cap(w.idCur)-len(w.idCur) < need {
			w.idRoom(need, w.next+uint64(i)) // #nosec G115 -- a count
		}
		w.prob[s], w.at[s], w.label[s] = r.Probability, at, -1
		w.inf[s], w.lead[s] = w.keepID(r.InferenceID), w.keepID(r.LeadID)
		copy(w.feats[s*nf:(s+1)*nf], r.Features)
		if s++; s == w.capacity {
			s = 0
		}
	}
	w.next += uint64(n) // #nosec G115 -- a count
	w.version++
}

// idRoom makes room in idCur for need bytes of the ids of row seq (the
// rows before it may hold ids in idCur). idOld takes idCur's place when
// none of its rows is left and it is as large; else a new array does,
// twice as large when idOld still had rows (the window's ids outgrew
// the two), so that both arrays soon hold a window's ids each and
// alternate without allocating.
func (w *window) idRoom(need int, seq uint64) {
	free := w.idOld != nil && w.idOldEnd <= w.start
	if free && cap(w.idOld) >= max(need, cap(w.idCur)) {
		w.idCur, w.idOld = w.idOld[:0], w.idCur
	} else {
		size := cap(w.idCur)
		if w.idOld != nil && !free {
			size *= 2
		}
		w.idCur, w.idOld = make([]byte, 0, max(size, need, minIDBytes)), w.idCur
	}
	w.idOldEnd = seq
}

// keepID returns a copy of id in idCur, which has room for it (written
// once; reused only when its row has left).
func (w *window) keepID(id string) string {
	s, cur := appendString(w.idCur, id)
	w.idCur = cur
	return s
}

// unindexOldest takes the oldest row out of the id indexes, if it is in
// them.
func (w *window) unindexOldest() {
	if w.start >= w.indexed {
		return
	}
	s := w.slot(w.start)
	if w.inf[s] != "" {
		w.byInf.remove(s)
	}
	if w.lead[s] != "" {
		w.byLead.remove(s)
	}
}

// evict drops the oldest row.
func (w *window) evict() {
	w.unindexOldest()
	s := w.slot(w.start)
	w.inf[s], w.lead[s] = "", ""
	w.start++
	w.indexed = max(w.indexed, w.start)
	w.version++
}

// index brings the id indexes up to date with the rows pushed since.
func (w *window) index() {
	for seq := w.indexed; seq < w.next; seq++ {
		s := w.slot(seq)
		if id := w.inf[s]; id != "" {
			w.byInf.add(s, id)
		}
		if id := w.lead[s]; id != "" {
			w.byLead.add(s, id)
		}
	}
	w.indexed = w.next
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
	w.index()
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
