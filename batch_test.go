package leadscore

import (
	"sync"
	"testing"
)

// keepSink keeps every batch it is handed by reference until done.
type keepSink struct {
	mu   sync.Mutex
	kept []*Batch
}

func (k *keepSink) Capture([]Record) { panic("keepSink: Capture instead of CaptureBatch") }

func (k *keepSink) CaptureBatch(b *Batch) {
	b.Retain()
	k.mu.Lock()
	k.kept = append(k.kept, b)
	k.mu.Unlock()
}

func (k *keepSink) done() {
	for _, b := range k.kept {
		b.Release()
	}
	k.kept = nil
}

// TestBatchReferences: a batch goes back to its pool only at the last
// Release, with its records cleared, and a sink that is not a BatchSink
// gets the records through Capture.
func TestBatchReferences(t *testing.T) {
	var pool BatchPool
	b := pool.Get(3, 6)
	if len(b.Records) != 3 || len(b.Features) != 6 {
		t.Fatalf("Get(3, 6): %d records, %d features", len(b.Records), len(b.Features))
	}
	for i := range b.Records {
		b.Records[i] = Record{InferenceID: "id", Features: b.Features[2*i : 2*i+2]}
	}
	keep1, keep2, plain := &keepSink{}, &keepSink{}, &countSink{}
	CaptureBatch(MultiSink(keep1, plain, keep2), b)
	if plain.records != 3 {
		t.Errorf("plain sink got %d records, want 3", plain.records)
	}
	b.Release() // the producer's reference
	if got := b.refs.Load(); got != 2 {
		t.Fatalf("after the producer's release: %d references, want 2 (the sinks')", got)
	}
	keep1.done()
	if b.Records[0].InferenceID != "id" {
		t.Fatal("records cleared while a sink still holds the batch")
	}
	keep2.done()
	if got := b.refs.Load(); got != 0 {
		t.Fatalf("%d references after the last release", got)
	}
	if len(b.Records) != 0 || b.Records[:1][0].InferenceID != "" {
		t.Error("released batch keeps its records' strings")
	}
}

// TestBatchMisuse: retaining a released batch, or releasing it too often,
// panics rather than handing shared storage to two requests.
func TestBatchMisuse(t *testing.T) {
	for name, f := range map[string]func(*Batch){
		"retain":  func(b *Batch) { b.Retain() },
		"release": func(b *Batch) { b.Release() },
	} {
		t.Run(name, func(t *testing.T) {
			b := NewBatch(make([]Record, 1))
			b.Release()
			defer func() {
				if recover() == nil {
					t.Errorf("%s after the last release did not panic", name)
				}
			}()
			f(b)
		})
	}
}

// TestBatchPoolBound: a very large batch is not kept by the pool.
func TestBatchPoolBound(t *testing.T) {
	var pool BatchPool
	big := pool.Get(maxPooledRecords+1, 1)
	big.Release()
	if len(big.Records) != maxPooledRecords+1 {
		t.Error("a batch larger than the pool keeps was cleared for reuse")
	}
}

// TestBatchPoolClasses: a batch comes back for requests of its size
// class only, so a small request never pins a large one's storage.
func TestBatchPoolClasses(t *testing.T) {
	for _, tc := range []struct{ n, class int }{{0, 0}, {1, 0}, {2, 1}, {3, 2}, {4, 2}, {5, 3}, {100, 7}, {128, 7}, {129, 8}, {maxPooledRecords, poolClasses - 1}} {
		if got := poolClass(tc.n); got != tc.class {
			t.Errorf("poolClass(%d) = %d, want %d", tc.n, got, tc.class)
		}
	}
	var pool BatchPool
	for range 100 { // sync.Pool may drop what is put (always, at random, under -race)
		big := pool.Get(100, 5000)
		if cap(big.Records) != 128 || cap(big.Features) != 6400 {
			t.Fatalf("a 100-record batch has room for %d records, %d features; want its class's 128 and 6400", cap(big.Records), cap(big.Features))
		}
		big.Release()
		small := pool.Get(1, 50)
		if small == big || cap(small.Features) > 50 {
			t.Fatalf("a one-record request got a batch with room for %d records, %d features", cap(small.Records), cap(small.Features))
		}
		small.Release()
		odd := pool.Get(64, 3199) // features per record not a whole number
		if len(odd.Features) != 3199 {
			t.Fatalf("Get(64, 3199): %d features", len(odd.Features))
		}
		odd.Release()
	}
}

// TestBatchPoolGetRows: a batch takes rows that fit its size class
// without copying them and gives back storage for the next rows; rows
// too large for the class are copied, so a small batch never pins a
// large request's storage.
func TestBatchPoolGetRows(t *testing.T) {
	var pool BatchPool
	const per = 50
	for range 100 { // sync.Pool may drop what is put
		rows := make([]float32, 100*per, 128*per)
		for i := range rows {
			rows[i] = float32(i)
		}
		b, spare := pool.GetRows(100, rows)
		if len(b.Records) != 100 || len(b.Features) != 100*per || &b.Features[0] != &rows[0] {
			t.Fatalf("GetRows(100, rows that fit the class): %d records, %d features, taken=%v",
				len(b.Records), len(b.Features), &b.Features[0] == &rows[0])
		}
		if len(spare) != 0 || cap(spare) < 100*per || &spare[:1][0] == &rows[0] {
			t.Fatalf("spare storage: len %d cap %d, shared with the rows taken: %v", len(spare), cap(spare), &spare[:1][0] == &rows[0])
		}
		b.Release()
		big := make([]float32, 8*per, 1000*per) // a large request's storage, 8 leads now
		small, spare := pool.GetRows(8, big)
		if &small.Features[0] == &big[0] || cap(small.Features) > 8*per || &spare[:1][0] != &big[0] {
			t.Fatalf("an 8-lead batch took storage for %d values (cap %d), spare is the caller's own: %v",
				len(big), cap(small.Features), &spare[:1][0] == &big[0])
		}
		for i, v := range small.Features {
			if v != big[i] {
				t.Fatalf("copied rows differ at %d", i)
			}
		}
		small.Release()
		huge, spare := pool.GetRows(maxPooledRecords+1, make([]float32, maxPooledRecords+1))
		if len(huge.Features) != maxPooledRecords+1 || len(spare) != 0 {
			t.Fatalf("GetRows past the pool's bound: %d features, spare len %d", len(huge.Features), len(spare))
		}
		huge.Release()
	}
}

// TestOnlyBatches: a producer may build records' strings in a batch's
// storage only when every sink it fans out to takes batches.
func TestOnlyBatches(t *testing.T) {
	k := &keepSink{}
	other := &countSink{}
	for _, c := range []struct {
		name string
		sink Sink
		want bool
	}{
		{"nil", nil, false},
		{"batch sink", k, true},
		{"other", other, false},
		{"batch sinks", MultiSink(k, &keepSink{}), true},
		{"a batch sink and another", MultiSink(k, other), false},
		{"nested", MultiSink(MultiSink(k, &keepSink{}), &keepSink{}), true},
	} {
		if got := OnlyBatches(c.sink); got != c.want {
			t.Errorf("%s: OnlyBatches %v, want %v", c.name, got, c.want)
		}
	}
}

// TestBatchIDsReuse: a batch's IDs come back from the pool empty with
// their room, for the next request's ids, unless they grew past
// maxPooledIDBytes.
func TestBatchIDsReuse(t *testing.T) {
	var pool BatchPool
	for _, size := range []int{100, maxPooledIDBytes + 1} {
		b := pool.Get(16, 16)
		b.IDs = append(b.IDs[:0], make([]byte, size)...)
		room := cap(b.IDs)
		b.Release()
		var again *Batch
		for range 100 { // sync.Pool may drop what is put (under -race)
			if again = pool.Get(16, 16); again == b {
				break
			}
		}
		if again != b {
			t.Skip("the pool dropped the batch")
		}
		switch {
		case len(again.IDs) != 0:
			t.Errorf("%d bytes of ids: the batch came back with %d", size, len(again.IDs))
		case size <= maxPooledIDBytes && cap(again.IDs) != room:
			t.Errorf("%d bytes of ids: room %d came back as %d", size, room, cap(again.IDs))
		case size > maxPooledIDBytes && cap(again.IDs) != 0:
			t.Errorf("%d bytes of ids: kept by the pool", size)
		}
		again.Release()
	}
}
