package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/internal/testutil"
	"github.com/leadscore/leadscore/monitor"
)

// capturedKey is one record as the lake holds it.
type capturedKey struct {
	inference, variant string
	shadow             bool
}

// TestServeVariantsCaptureEachOnce serves a champion and a weighted
// challenger as `leadscore serve --variant` builds them (in process, the
// real lake and drift monitors) and checks that every record reaches the
// lake exactly once under its own variant and role, and each variant's
// monitor exactly its own records: requests of 1 to 100 leads (a few
// leads are copied to the sinks, a batch goes by reference), split
// across the variants by lead id or sent to one by name, and the
// champion's shadow scores of the leads the challenger answered.
func TestServeVariantsCaptureEachOnce(t *testing.T) {
	champDir, _ := demoBundleCopy(t, true)
	chalDir, setChal := demoBundleCopy(t, true)
	setChal("2.0.0")
	lakeDir := filepath.Join(t.TempDir(), "lake")
	c, err := parseServeConfig([]string{"--listen", "127.0.0.1:0", "--watch-interval", "0", "--lake-dir", lakeDir,
		"--access-log=false", "--variant", "champion=" + champDir, "--variant", "challenger=" + chalDir,
		"--shadow-max-live", "-1", "--shadow-max-cpu-load", "0", "--shadow-max-cpu-wait", "0"},
		func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := newService(c, newLogSink(io.Discard))
	if err := s.build(context.Background(), s.buildSteps()); err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = s.closeAll(time.Now().Add(10 * time.Second))
		}
	}()

	leads := loadVariantLeads(t)
	want := map[capturedKey]int{}
	perVariant := map[string]int{}
	add := func(k capturedKey) {
		want[k]++
		perVariant[k.variant]++
	}
	sizes := []int{1, 3, 8, 20, 100}
	split := 0
	for i := range 30 {
		n := sizes[i%len(sizes)]
		var body strings.Builder
		body.WriteString(`{"leads":[`)
		for k := range n {
			if k > 0 {
				body.WriteByte(',')
			}
			body.WriteString(leads[(i*97+k)%len(leads)].json)
		}
		body.WriteString(`]}`)
		inf := "inf-" + strconv.Itoa(i)
		r := httptest.NewRequest(http.MethodPost, "/score", strings.NewReader(body.String()))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Amzn-SageMaker-Inference-Id", inf)
		if i%4 == 3 { // the whole request to the challenger, by name
			r.Header.Set("X-Amzn-SageMaker-Target-Variant", "challenger")
		}
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("request %d (%d leads): %d %s", i, n, w.Code, w.Body)
		}
		var resp struct {
			Results []struct {
				Variant string `json:"variant"`
			} `json:"results"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || len(resp.Results) != n {
			t.Fatalf("request %d: %d results (%v): %s", i, len(resp.Results), err, w.Body)
		}
		seen := map[string]bool{}
		for k, res := range resp.Results {
			id := inf
			if n > 1 {
				id += "-" + strconv.Itoa(k)
			}
			seen[res.Variant] = true
			add(capturedKey{inference: id, variant: res.Variant})
			if res.Variant == "challenger" {
				// The champion scores the challenger's leads aside, so
				// that the comparison has pairs.
				add(capturedKey{inference: id, variant: "champion", shadow: true})
			}
		}
		if len(seen) > 1 {
			split++
		}
	}
	if split == 0 || perVariant["challenger"] == 0 {
		t.Fatalf("no request was split across the variants (%d), or none reached the challenger (%v)", split, perVariant)
	}
	testutil.Eventually(t, 10*time.Second, "the shadow jobs scored", func() bool { return s.srv.ShadowPending() == 0 })

	// Each variant's monitor holds its own records, each once.
	for name, n := range perVariant {
		r := httptest.NewRequest(http.MethodGet, "/v1/monitoring?variant="+name, nil)
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, r)
		var rep struct {
			Window struct{ Rows int64 } `json:"window"`
		}
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &rep) != nil {
			t.Fatalf("GET /v1/monitoring?variant=%s: %d %.300s", name, w.Code, w.Body)
		}
		if rep.Window.Rows != int64(n) {
			t.Errorf("variant %s's monitor holds %d rows, want its %d records", name, rep.Window.Rows, n)
		}
	}

	// The lake holds every record once, under its variant and role.
	closed = true
	if err := s.closeAll(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got := map[capturedKey]int{}
	day := time.Now().UTC()
	_, err = monitor.ReadScores(context.Background(), monitor.LakeQuery{Dir: lakeDir, From: day.Add(-time.Hour), To: day.Add(time.Hour)},
		func(r *monitor.ScoredRow) {
			got[capturedKey{inference: r.InferenceID, variant: r.Variant, shadow: r.Shadow}]++
		})
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for k, n := range want {
		if got[k] != n && bad < 10 {
			t.Errorf("lake: %+v %d times, want %d", k, got[k], n)
			bad++
		}
	}
	for k, n := range got {
		if want[k] == 0 && bad < 10 {
			t.Errorf("lake: %+v %d times, never scored so", k, n)
			bad++
		}
	}
	if len(got) != len(want) {
		t.Errorf("lake: %d distinct records, want %d", len(got), len(want))
	}
	t.Logf("%d records (%v), %d requests split", len(want), perVariant, split)
}

// TestVariantServingCaptureBatch: a batch of one variant's records goes
// to that variant's monitor by reference, a batch split across variants
// gives each monitor copies of its own records, a variant without a
// monitor gets nothing; and every reference taken is given back (the
// batch returns to its pool, records cleared, once the producer and the
// monitors have released it; a Release too many would panic).
func TestVariantServingCaptureBatch(t *testing.T) {
	base, err := monitor.LoadBaseline(filepath.Join("..", "..", "bundle", "demo", "baseline"))
	if err != nil {
		t.Fatal(err)
	}
	names := base.Features()
	mons := map[string]*monitor.Monitor{}
	for _, v := range []string{"a", "b"} {
		if mons[v], err = monitor.New(monitor.Config{Baseline: base, Features: names}); err != nil {
			t.Fatal(err)
		}
	}
	vs := &variantServing{}
	vs.monitors.Store(&monitorSet{champion: "a", byName: mons})
	var pool leadscore.BatchPool
	batch := func(variants ...string) *leadscore.Batch {
		b := pool.Get(len(variants), len(variants)*len(names))
		for i, v := range variants {
			b.Records[i] = leadscore.Record{Time: time.Now(), InferenceID: fmt.Sprintf("%s-%d", v, i), Variant: v, Probability: 0.5,
				Features: b.Features[i*len(names) : (i+1)*len(names)], FeatureNames: names}
		}
		return b
	}
	rows := func(name string) int64 { return mons[name].Evaluate().Window.Rows }
	type step struct {
		variants []string
		a, b     int64 // each monitor's rows after the step
	}
	for _, st := range []step{
		{[]string{"a", "a", "a"}, 3, 0},
		{[]string{"b", "b"}, 3, 2},
		{[]string{"a", "b", "b", "a", "b"}, 5, 5},
		{[]string{"c", "c"}, 5, 5},      // no monitor
		{[]string{"c", "a", "c"}, 6, 5}, // one has
	} {
		b := batch(st.variants...)
		vs.CaptureBatch(b)
		b.Release() // the producer's
		if got := [2]int64{rows("a"), rows("b")}; got != [2]int64{st.a, st.b} {
			t.Fatalf("after %v: monitors hold %v rows, want [%d %d]", st.variants, got, st.a, st.b)
		}
		// Evaluate has applied what was queued and released the batch:
		// it is back in the pool.
		if len(b.Records) != 0 {
			t.Fatalf("after %v: the batch still holds its records: a reference was not released", st.variants)
		}
	}
	// Capture (a few leads, copied) splits the same way.
	vs.Capture(batch("b", "a").Records)
	if got := [2]int64{rows("a"), rows("b")}; got != [2]int64{7, 6} {
		t.Fatalf("after Capture of a split pair: %v rows, want [7 6]", got)
	}
}
