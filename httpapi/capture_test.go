package httpapi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/variant"
)

// recordingSink keeps every record it is given.
type recordingSink struct {
	mu   sync.Mutex
	recs []leadscore.Record
}

func (s *recordingSink) Capture(recs []leadscore.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, recs...)
}

func TestCaptureRecords(t *testing.T) {
	sink := &recordingSink{}
	s, _ := testServer(t, 2, func(c *Config) { c.Sink = sink })

	w := do(s, "POST", "/score", "application/json",
		`{"leads":[{"id":"a\"1","features":{"f0":1,"f1":null}},{"id":7,"features":{"f0":-1,"f1":2}}]}`)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	w = do(s, "POST", "/invocations", "text/csv", "0.5,0.25\n", "X-Amzn-SageMaker-Inference-Id", "inf-9")
	if w.Code != 200 {
		t.Fatalf("invocations: %d %s", w.Code, w.Body)
	}
	if w := do(s, "POST", "/score", "application/json", `[[1]]`); w.Code != 422 {
		t.Fatalf("bad row: %d", w.Code)
	}
	if len(sink.recs) != 3 {
		t.Fatalf("%d records, want 3 (rejected requests are not captured)", len(sink.recs))
	}
	a, b, c := sink.recs[0], sink.recs[1], sink.recs[2]
	if a.LeadID != `a"1` || b.LeadID != "7" || c.LeadID != "" {
		t.Errorf("lead ids %q %q %q", a.LeadID, b.LeadID, c.LeadID)
	}
	if a.InferenceID != a.RequestID+"-0" || b.InferenceID != a.RequestID+"-1" || a.RequestID != b.RequestID || a.RequestID == "" || c.InferenceID != "inf-9" {
		t.Errorf("ids: %+v %+v %+v", a, b, c)
	}
	// A one-row request with a lead id, and a batch whose later rows have
	// none.
	w = do(s, "POST", "/score", "application/json",
		`{"leads":[{"id":"x\u00e9","features":{"f0":1,"f1":2}}]}`, "X-Amzn-SageMaker-Inference-Id", "inf-10")
	if w.Code != 200 || len(sink.recs) != 4 || sink.recs[3].LeadID != "xé" || sink.recs[3].InferenceID != "inf-10" {
		t.Fatalf("one lead with an id: %d %s %+v", w.Code, w.Body, sink.recs[len(sink.recs)-1])
	}
	w = do(s, "POST", "/score", "application/json",
		`{"leads":[{"id":"p","features":{"f0":1,"f1":2}},{"features":{"f0":1,"f1":2}},{"id":"q","features":{"f0":1,"f1":2}}]}`)
	if w.Code != 200 || len(sink.recs) != 7 {
		t.Fatalf("three leads: %d %s", w.Code, w.Body)
	}
	if got := []string{sink.recs[4].LeadID, sink.recs[5].LeadID, sink.recs[6].LeadID}; got[0] != "p" || got[1] != "" || got[2] != "q" {
		t.Errorf("lead ids of three leads %q", got)
	}
	if !strings.HasSuffix(sink.recs[6].InferenceID, "-2") {
		t.Errorf("third inference id %q", sink.recs[6].InferenceID)
	}
	if a.Model != "fake" || a.ModelVersion != "1" || a.Time.IsZero() || a.Time.Location().String() != "UTC" {
		t.Errorf("record %+v", a)
	}
	if a.Features[0] != 1 || !math.IsNaN(float64(a.Features[1])) || b.Features[0] != -1 || c.Features[1] != 0.25 {
		t.Errorf("features %v %v %v", a.Features, b.Features, c.Features)
	}
	if want := 1 / (1 + math.Exp(-1)); math.Abs(a.Probability-want) > 1e-9 || a.Margin != 1 || a.Tier != 4 {
		t.Errorf("scores %+v", a)
	}
	// Each record names the features of the model that scored it (issue
	// 10, finding 5), every record of a model with one shared slice.
	for i, r := range sink.recs {
		if !slices.Equal(r.FeatureNames, []string{"f0", "f1"}) || &r.FeatureNames[0] != &a.FeatureNames[0] {
			t.Errorf("record %d names features %q", i, r.FeatureNames)
		}
	}
}

func TestMonitoringRoutes(t *testing.T) {
	s, _ := testServer(t, 2, nil)
	if w := do(s, "GET", "/v1/monitoring", "", ""); w.Code != http.StatusNotFound {
		t.Errorf("no monitor: %d", w.Code)
	}
	mon := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"ok":true}`)) })
	fb := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	s, _ = testServer(t, 2, func(c *Config) {
		c.Monitoring, c.Feedback = mon, fb
		c.APIKeys = []APIKey{{Name: "crm", Hash: sha256.Sum256([]byte("secret"))}}
		c.RequireAPIKey = true
	})
	if w := do(s, "GET", "/v1/monitoring", "", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("monitoring without a key: %d", w.Code)
	}
	if w := do(s, "GET", "/v1/monitoring", "", "", "X-API-Key", "secret"); w.Code != 200 || w.Body.String() != `{"ok":true}` {
		t.Errorf("monitoring: %d %s", w.Code, w.Body)
	}
	if w := do(s, "POST", "/v1/feedback", "application/json", "[]", "Authorization", "Bearer secret"); w.Code != http.StatusAccepted {
		t.Errorf("feedback: %d", w.Code)
	}
}

// copyingSink is recordingSink declaring that it copies (a
// leadscore.SliceCopier); it also keeps the slices it was given, to
// check which the server reused.
type copyingSink struct {
	recordingSink
	slices [][]leadscore.Record
}

func (s *copyingSink) Capture(recs []leadscore.Record) {
	s.recordingSink.Capture(recs)
	s.mu.Lock()
	s.slices = append(s.slices, recs)
	s.mu.Unlock()
}

func (s *copyingSink) CopiesRecords() bool { return true }

// TestCaptureReusesRecordsForCopiers: a sink that copies the records
// (capture.Writer, monitor.Monitor) gets the exchange's pooled slice,
// request after request, and what it copied stays intact while later
// requests reuse the slice; any other sink gets a slice of its own per
// request, as before.
func TestCaptureReusesRecordsForCopiers(t *testing.T) {
	body := twoLeadBody
	const n = 50
	for _, copies := range []bool{true, false} {
		var sink leadscore.Sink
		cs := &copyingSink{}
		rs := &recordingSink{}
		var keep [][]leadscore.Record
		if copies {
			sink = cs
		} else {
			sink = sliceKeeper{rs, &keep}
		}
		s, _ := testServer(t, 2, func(c *Config) { c.Sink = sink })
		for i := 1; i <= n; i++ {
			if w := do(s, "POST", "/score", "application/json", body(i)); w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
		got := rs.recs
		if copies {
			got = cs.recs
			// The pool gives the serial requests the same slice back
			// (mostly: under -race sync.Pool drops some of what is put).
			arrays := map[*leadscore.Record]bool{}
			for _, recs := range cs.slices {
				arrays[&recs[0]] = true
			}
			if len(arrays) > n/2 {
				t.Errorf("a copying sink got %d slices for %d requests", len(arrays), n)
			}
		} else if &keep[0][0] == &keep[n-1][0] {
			t.Fatalf("a sink that does not copy got a reused slice")
		}
		if len(got) != 2*n {
			t.Fatalf("copies=%v: %d records, want %d", copies, len(got), 2*n)
		}
		for i := 1; i <= n; i++ {
			a, b := got[2*i-2], got[2*i-1]
			if a.LeadID != "a"+strconv.Itoa(i) || b.LeadID != "b"+strconv.Itoa(i) || a.Features[0] != float32(i) || b.Features[0] != -float32(i) ||
				a.RequestID != b.RequestID || a.InferenceID != a.RequestID+"-0" || b.InferenceID != a.RequestID+"-1" {
				t.Fatalf("copies=%v: request %d's records changed: %+v %+v", copies, i, a, b)
			}
		}
		if !copies {
			// What a keeping sink holds is intact too.
			for i, recs := range keep {
				if recs[0].LeadID != "a"+strconv.Itoa(i+1) {
					t.Fatalf("kept slice %d: lead %q", i, recs[0].LeadID)
				}
			}
		}
	}
}

// sliceKeeper keeps the slices it is given (and copies into rs).
type sliceKeeper struct {
	rs   *recordingSink
	keep *[][]leadscore.Record
}

func (k sliceKeeper) Capture(recs []leadscore.Record) {
	k.rs.Capture(recs)
	*k.keep = append(*k.keep, recs)
}

// featureCopyingSink copies each record and its features (a
// leadscore.FeatureCopier, as capture.Writer and monitor.Monitor are);
// it also keeps the Features slices it was given, to check that the
// server handed it the request's own rows.
type featureCopyingSink struct {
	recordingSink
	given [][]float32
}

func (s *featureCopyingSink) Capture(recs []leadscore.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.given = append(s.given, r.Features)
		r.Features = slices.Clone(r.Features)
		s.recs = append(s.recs, r)
	}
}

func (s *featureCopyingSink) CopiesRecords() bool  { return true }
func (s *featureCopyingSink) CopiesFeatures() bool { return true }

// TestCaptureFeaturesForFeatureCopiers: concurrent requests with
// distinct features; a sink that copies the features gets each record's
// own values (the server lends it the request's rows, reused by later
// requests), and a sink that keeps them (not a FeatureCopier) gets
// features of their own that later requests never overwrite.
func TestCaptureFeaturesForFeatureCopiers(t *testing.T) {
	body := twoLeadBody
	const callers, each = 4, 40
	for _, copies := range []bool{true, false} {
		fs := &featureCopyingSink{}
		rs := &recordingSink{}
		var sink leadscore.Sink = rs
		if copies {
			sink = fs
		}
		s, _ := testServer(t, 2, func(c *Config) { c.Sink = sink })
		var wg sync.WaitGroup
		for g := range callers {
			wg.Go(func() {
				for k := range each {
					if w := do(s, "POST", "/score", "application/json", body(1+g*each+k)); w.Code != 200 {
						t.Errorf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		}
		wg.Wait()
		got := rs.recs
		if copies {
			got = fs.recs
		}
		if len(got) != 2*callers*each {
			t.Fatalf("copies=%v: %d records, want %d", copies, len(got), 2*callers*each)
		}
		for _, r := range got {
			if want := twoLeadFeatures(t, r.LeadID); !slices.Equal(r.Features, want) {
				t.Fatalf("copies=%v: lead %s has features %v, want %v", copies, r.LeadID, r.Features, want)
			}
		}
		if copies {
			// The rows lent are the exchanges' own, reused: fewer arrays
			// than requests (a copy per request would make one each;
			// under -race sync.Pool drops a quarter of what is put).
			arrays := map[*float32]bool{}
			for _, f := range fs.given {
				arrays[&f[0]] = true
			}
			if len(arrays) > callers*each*3/4 {
				t.Errorf("a feature-copying sink got %d arrays for %d requests", len(arrays), callers*each)
			}
		}
	}
}

// recordIDs finds row i's inference id in its one string from i alone:
// every row of batches across the digit boundaries (1, 10, 100 and 1000
// rows) gets base-<row>, and a one-row batch base itself.
func TestRecordIDsInference(t *testing.T) {
	for _, n := range []int{1, 2, 9, 10, 11, 99, 100, 101, 999, 1000, 1001} {
		ids := recordIDs("req-7f", n, &batch{}, nil, nil)
		seq := ids.inferences()
		for i := range n {
			want := "req-7f"
			if n > 1 {
				want = "req-7f-" + strconv.Itoa(i)
			}
			if got := ids.inference(i); got != want {
				t.Fatalf("n=%d row %d: %q, want %q", n, i, got, want)
			}
			if got := seq.next(); got != want {
				t.Fatalf("n=%d row %d read in order: %q, want %q", n, i, got, want)
			}
		}
		if n > 1 && len(ids.all) != indexedIDsLen(len("req-7f"), n) {
			t.Fatalf("n=%d: %d bytes of ids, want exactly %d", n, len(ids.all), indexedIDsLen(len("req-7f"), n))
		}
	}
}

// TestRecordIDsArena: ids built one request after another in an
// exchange's arena stay as they were while later requests' ids are built
// (across chunks, with lead ids, and ids too large for a chunk), and a
// chunk serves many requests.
func TestRecordIDsArena(t *testing.T) {
	var a idArena
	type built struct {
		base      string
		inf, lead []string // as the records took them
	}
	var all []built
	chunks := map[*byte]bool{}
	for r := range 300 {
		n := []int{1, 2, 100, 7, 3000}[r%5]
		b := &batch{}
		if r%2 == 0 {
			b.hasIDs = true
			for i := range n {
				b.ids = append(b.ids, []byte(fmt.Sprintf(`"lead-%d-%d"`, r, i)))
			}
		}
		x := built{base: fmt.Sprintf("req-%d", r)}
		ids := recordIDs(x.base, n, b, &a, nil)
		for i := range n {
			x.inf = append(x.inf, ids.inference(i))
			x.lead = append(x.lead, ids.lead(i))
		}
		all = append(all, x)
		if cap(a.chunk) > 0 {
			chunks[unsafe.SliceData(a.chunk)] = true // #nosec G103 -- the chunk's address, to count chunks
		}
	}
	for r, x := range all {
		for i := range x.inf {
			want := x.base
			if len(x.inf) > 1 {
				want += "-" + strconv.Itoa(i)
			}
			if x.inf[i] != want {
				t.Fatalf("%s row %d: inference id %q, want %q", x.base, i, x.inf[i], want)
			}
			want = ""
			if r%2 == 0 {
				want = fmt.Sprintf("lead-%d-%d", r, i)
			}
			if x.lead[i] != want {
				t.Fatalf("%s row %d: lead id %q, want %q", x.base, i, x.lead[i], want)
			}
		}
	}
	if len(chunks) < 2 || len(chunks) > 40 {
		t.Errorf("%d chunks for 300 requests' ids, want a few, each serving many requests", len(chunks))
	}
}

// twoLeadBody is request i of the capture tests: leads a<i> and b<i>,
// whose features leadFeatures gives.
func twoLeadBody(i int) string { return leadsBody(i, 2) }

// leadsBody is request i with n leads (at most 26): a<i>, b<i>, ...
func leadsBody(i, n int) string {
	var sb strings.Builder
	sb.WriteString(`{"leads":[`)
	for k := range n {
		if k > 0 {
			sb.WriteByte(',')
		}
		f := leadValues(i, k)
		fmt.Fprintf(&sb, `{"id":"%c%d","features":{"f0":%g,"f1":%g}}`, 'a'+k, i, f[0], f[1])
	}
	sb.WriteString(`]}`)
	return sb.String()
}

// leadValues are the features of lead k of request i.
func leadValues(i, k int) []float32 {
	switch k {
	case 0:
		return []float32{float32(i), 1}
	case 1:
		return []float32{-float32(i), 2}
	}
	return []float32{float32(i * k), float32(k + 1)}
}

// twoLeadFeatures is the features leadsBody sent for lead id.
func twoLeadFeatures(t *testing.T, id string) []float32 {
	t.Helper()
	i, err := strconv.Atoi(id[1:])
	if err != nil {
		t.Fatalf("lead id %q", id)
	}
	return leadValues(i, int(id[0]-'a'))
}

// TestCaptureFewLeadsCopied: a request of fewer than minPooledBatch leads
// reaches even a BatchSink through Capture (the sinks copy a few records
// more cheaply than they hold a batch each).
func TestCaptureFewLeadsCopied(t *testing.T) {
	sink := &batchOrCopy{}
	s, _ := testServer(t, 2, func(c *Config) { c.Sink = sink })
	for _, n := range []int{1, minPooledBatch - 1, minPooledBatch, 20} {
		if w := do(s, "POST", "/score", "application/json", leadsBody(7, n)); w.Code != 200 {
			t.Fatalf("%d leads: status %d: %s", n, w.Code, w.Body)
		}
	}
	if want := []int{1, minPooledBatch - 1}; !slices.Equal(sink.copied, want) {
		t.Errorf("requests given to Capture had %v records, want %v", sink.copied, want)
	}
	if want := []int{minPooledBatch, 20}; !slices.Equal(sink.batches, want) {
		t.Errorf("requests given to CaptureBatch had %v records, want %v", sink.batches, want)
	}
}

// batchOrCopy records how each request's records arrived.
type batchOrCopy struct {
	mu              sync.Mutex
	copied, batches []int
}

func (c *batchOrCopy) Capture(recs []leadscore.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.copied = append(c.copied, len(recs))
}

func (c *batchOrCopy) CaptureBatch(b *leadscore.Batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, len(b.Records))
}

// batchKeeper is a leadscore.BatchSink that keeps every batch by
// reference until release.
type batchKeeper struct {
	mu      sync.Mutex
	batches []*leadscore.Batch
	seen    map[*leadscore.Batch]bool
}

func (k *batchKeeper) Capture([]leadscore.Record) { panic("Capture instead of CaptureBatch") }

func (k *batchKeeper) CaptureBatch(b *leadscore.Batch) {
	b.Retain()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.batches = append(k.batches, b)
	k.seen[b] = true
}

func (k *batchKeeper) release() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, b := range k.batches {
		b.Release()
	}
	k.batches = nil
}

// TestCaptureBatchesForBatchSinks: a sink that keeps batches by reference
// sees each request's records intact for as long as it holds them, while
// other requests run, and batches it released serve later requests.
func TestCaptureBatchesForBatchSinks(t *testing.T) {
	body := func(i int) string { return leadsBody(i, minPooledBatch) }
	k := &batchKeeper{seen: map[*leadscore.Batch]bool{}}
	s, _ := testServer(t, 2, func(c *Config) { c.Sink = k })
	const callers, each, rounds = 4, 20, 3
	for round := range rounds {
		var wg sync.WaitGroup
		for g := range callers {
			wg.Go(func() {
				for j := range each {
					if w := do(s, "POST", "/score", "application/json", body(1+(round*callers+g)*each+j)); w.Code != 200 {
						t.Errorf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		}
		wg.Wait()
		if len(k.batches) != callers*each {
			t.Fatalf("round %d: %d batches, want %d", round, len(k.batches), callers*each)
		}
		for _, b := range k.batches {
			if len(b.Records) != minPooledBatch {
				t.Fatalf("a kept batch has %d records", len(b.Records))
			}
			for i, r := range b.Records {
				if want := twoLeadFeatures(t, r.LeadID); !slices.Equal(r.Features, want) || r.Time.IsZero() {
					t.Fatalf("lead %s: features %v time %v, want %v", r.LeadID, r.Features, r.Time, want)
				}
				// The ids are the batch's own storage (the sink takes
				// batches only), intact while it is held.
				if want := r.RequestID + "-" + strconv.Itoa(i); r.InferenceID != want {
					t.Fatalf("row %d: inference id %q, want %q", i, r.InferenceID, want)
				}
				if !inBytes(b.IDs, r.InferenceID) || !inBytes(b.IDs, r.LeadID) {
					t.Fatalf("row %d: ids %q, %q are not the batch's storage", i, r.InferenceID, r.LeadID)
				}
			}
		}
		k.release()
	}
	// Released batches come back from the pool (under -race sync.Pool
	// drops a quarter of what is put, hence the margin).
	if n := len(k.seen); n > rounds*callers*each*3/4 {
		t.Errorf("%d distinct batches for %d requests: released batches are not reused", n, rounds*callers*each)
	}
}

// inBytes reports whether s is a view of buf's bytes.
func inBytes(buf []byte, s string) bool {
	if len(s) == 0 || len(buf) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.SliceData(buf))) // #nosec G103 -- compares addresses only
	return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(buf))
}

// TestCaptureIDsOutsideBatchesForOtherSinks: when a sink that is not a
// BatchSink sees the records too (through Capture, and may keep their
// strings past the batch's reuse), the ids are not built in the batch's
// storage, and what that sink kept stays as it was while later requests
// reuse the batches.
func TestCaptureIDsOutsideBatchesForOtherSinks(t *testing.T) {
	k := &batchKeeper{seen: map[*leadscore.Batch]bool{}}
	c := &featureCopyingSink{}
	s, _ := testServer(t, 2, func(cf *Config) { cf.Sink = leadscore.MultiSink(k, c) })
	for i := range 40 {
		if w := do(s, "POST", "/score", "application/json", leadsBody(1+i, minPooledBatch)); w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		for _, b := range k.batches {
			for _, r := range b.Records {
				if inBytes(b.IDs, r.InferenceID) || inBytes(b.IDs, r.LeadID) {
					t.Fatalf("ids %q, %q built in the batch's storage for a sink that is not a BatchSink", r.InferenceID, r.LeadID)
				}
			}
		}
		k.release()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.recs) != 40*minPooledBatch {
		t.Fatalf("%d records kept, want %d", len(c.recs), 40*minPooledBatch)
	}
	for j, r := range c.recs {
		if want := r.RequestID + "-" + strconv.Itoa(j%minPooledBatch); r.InferenceID != want {
			t.Fatalf("kept record %d: inference id %q, want %q", j, r.InferenceID, want)
		}
		if want := string(rune('a'+j%minPooledBatch)) + strconv.Itoa(1+j/minPooledBatch); r.LeadID != want {
			t.Fatalf("kept record %d: lead id %q, want %q", j, r.LeadID, want)
		}
	}
}

// copyingBatchSink takes batches (CaptureBatch) and records (Capture),
// copying every record and its features as they come and keeping no
// reference: a batch goes back to the pool as soon as the request and
// its shadow jobs release it.
type copyingBatchSink struct {
	mu      sync.Mutex
	recs    []leadscore.Record
	batches int
}

func (c *copyingBatchSink) Capture(recs []leadscore.Record) { c.keep(recs, false) }

func (c *copyingBatchSink) CaptureBatch(b *leadscore.Batch) { c.keep(b.Records, true) }

func (c *copyingBatchSink) keep(recs []leadscore.Record, batch bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if batch {
		c.batches++
	}
	for _, r := range recs {
		r.Features = slices.Clone(r.Features)
		// The ids may be a batch's storage (leadscore.BatchSink).
		r.InferenceID, r.LeadID = strings.Clone(r.InferenceID), strings.Clone(r.LeadID)
		c.recs = append(c.recs, r)
	}
}

func (c *copyingBatchSink) CopiesRecords() bool  { return true }
func (c *copyingBatchSink) CopiesFeatures() bool { return true }

// TestCaptureBatchVariantsShadows: with variants, a batch of leads goes to
// the sinks as a pooled batch too, and the shadow jobs that score its
// leads after the answer hold it: while requests run concurrently (each
// reusing released batches and their storage), every live and shadow
// record carries its own lead's features, and every lead has its live
// record, its shadow's and, when the challenger answered, the champion's.
func TestCaptureBatchVariantsShadows(t *testing.T) {
	sink := &copyingBatchSink{}
	var vars []Variant
	for _, sp := range []variant.Spec{
		{Name: "champion", Source: "a", Role: variant.Weighted, Weight: 1},
		{Name: "challenger", Source: "b", Role: variant.Weighted, Weight: 1},
		{Name: "shadow", Source: "c", Role: variant.Shadow, Sample: 1},
	} {
		f := newFake(2)
		f.version = sp.Name + "-v"
		vars = append(vars, Variant{Spec: sp, Loader: func() (leadscore.Scorer, error) { return f, nil }})
	}
	s, err := New(context.Background(), Config{Variants: vars, Sink: sink, Registerer: prometheus.NewRegistry(),
		ShadowMaxLive: -1, ShadowMaxCPULoad: -1, ShadowMaxCPUWait: -1, ShadowQueue: 1 << 12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	const callers, each, leads = 4, 30, 12
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			for j := range each {
				if w := do(s, "POST", "/score", "application/json", leadsBody(1+g*each+j, leads)); w.Code != 200 {
					t.Errorf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
	wg.Wait()
	eventually(t, func() bool { return s.ShadowPending() == 0 })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.batches != callers*each {
		t.Errorf("%d requests reached the sink as batches, want all %d", sink.batches, callers*each)
	}
	live := map[string]string{}
	shadows := map[string][]string{}
	for _, r := range sink.recs {
		if want := twoLeadFeatures(t, r.LeadID); !slices.Equal(r.Features, want) {
			t.Fatalf("lead %s (variant %s, shadow %v): features %v, want %v", r.LeadID, r.Variant, r.Shadow, r.Features, want)
		}
		if r.Shadow {
			shadows[r.LeadID] = append(shadows[r.LeadID], r.Variant)
			continue
		}
		if live[r.LeadID] != "" {
			t.Fatalf("lead %s captured live twice", r.LeadID)
		}
		live[r.LeadID] = r.Variant
	}
	if len(live) != callers*each*leads {
		t.Fatalf("%d leads captured live, want %d", len(live), callers*each*leads)
	}
	for id, v := range live {
		want := []string{"shadow"}
		if v == "challenger" {
			want = []string{"champion", "shadow"}
		}
		got := slices.Sorted(slices.Values(shadows[id]))
		if !slices.Equal(got, want) {
			t.Fatalf("lead %s answered by %s has shadow records of %v, want %v", id, v, got, want)
		}
	}
}

// BenchmarkRecordIDs is what a 100-lead request's inference ids cost the
// request path (Server.capture): built in an exchange's arena, and read
// back as each record takes its own.
func BenchmarkRecordIDs(b *testing.B) {
	var a idArena
	bt := &batch{}
	base := "0123abcd-00000000000004d2"
	b.ReportAllocs()
	for b.Loop() {
		ids := recordIDs(base, 100, bt, &a, nil)
		seq := ids.inferences()
		for range 100 {
			sinkString = seq.next()
		}
	}
}

var sinkString string
