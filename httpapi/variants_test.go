package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/internal/testutil"
	"github.com/leadscore/leadscore/variant"
)

// variantServer serves a champion (weight 90), a challenger (weight 10)
// and a shadow, each a fake with its own version.
func variantServer(t *testing.T, sink leadscore.Sink) (*Server, map[string]*fakeScorer) {
	t.Helper()
	fakes := map[string]*fakeScorer{}
	var vars []Variant
	for _, sp := range []variant.Spec{
		{Name: "champion", Source: "a", Role: variant.Weighted, Weight: 90},
		{Name: "challenger", Source: "b", Role: variant.Weighted, Weight: 10},
		{Name: "shadow", Source: "c", Role: variant.Shadow, Sample: 1},
	} {
		f := newFake(2)
		f.version = sp.Name + "-v"
		fakes[sp.Name] = f
		vars = append(vars, Variant{Spec: sp, Loader: func() (leadscore.Scorer, error) { return f, nil }})
	}
	live := variant.NewLive([]variant.Spec{vars[0].Spec, vars[1].Spec, vars[2].Spec}, variant.LiveConfig{})
	sinks := multiSink{live}
	if sink != nil {
		sinks = append(sinks, sink)
	}
	s, err := New(context.Background(), Config{Variants: vars, Sink: sinks, Comparison: live, Registerer: prometheus.NewRegistry(),
		// Every shadow job scored, however busy the test machine.
		ShadowMaxLive: -1, ShadowMaxCPULoad: -1, ShadowMaxCPUWait: -1,
		APIKeys: []APIKey{{Name: "ops", Hash: sha256.Sum256([]byte("secret")), Admin: true}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, fakes
}

type multiSink []leadscore.Sink

func (m multiSink) Capture(recs []leadscore.Record) {
	for _, s := range m {
		s.Capture(recs)
	}
}

func TestVariantRouting(t *testing.T) {
	s, _ := variantServer(t, nil)
	got := map[string]int{}
	for i := range 2000 {
		body := fmt.Sprintf(`{"leads":[{"id":"lead-%d","features":{"f0":0.1,"f1":0.2}}]}`, i)
		w := do(s, "POST", "/score", "application/json", body)
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		v := w.Header().Get("X-Amzn-Invoked-Production-Variant")
		var resp struct {
			Model struct{ Name, Version, Variant string } `json:"model"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Model.Variant != v || resp.Model.Version != v+"-v" {
			t.Fatalf("header %q, body model %+v", v, resp.Model)
		}
		got[v]++
		// Sticky: the same lead again lands on the same variant.
		if w2 := do(s, "POST", "/score", "application/json", body); w2.Header().Get("X-Amzn-Invoked-Production-Variant") != v {
			t.Fatalf("lead-%d moved from %s", i, v)
		}
	}
	if got["shadow"] != 0 || got["challenger"] < 140 || got["challenger"] > 260 {
		t.Errorf("split %v, want about 200 challenger of 2000 and no shadow", got)
	}
	// The override header, on /score, /invocations and V2.
	for _, tc := range []struct{ path, ct, body string }{
		{"/score", "application/json", `[[1,2]]`},
		{"/invocations", "text/csv", "1,2\n"},
		{"/v2/models/fake/infer", "application/json", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2]}]}`},
	} {
		w := do(s, "POST", tc.path, tc.ct, tc.body, "X-Amzn-SageMaker-Target-Variant", "shadow")
		if w.Code != 200 || w.Header().Get("X-Amzn-Invoked-Production-Variant") != "shadow" {
			t.Errorf("%s override: %d %q %s", tc.path, w.Code, w.Header().Get("X-Amzn-Invoked-Production-Variant"), w.Body)
		}
		w = do(s, "POST", tc.path, tc.ct, tc.body, "X-Amzn-SageMaker-Target-Variant", "nope")
		if w.Code != 400 || !strings.Contains(w.Body.String(), `\"nope\"`) && !strings.Contains(w.Body.String(), `"nope"`) {
			t.Errorf("%s unknown variant: %d %s", tc.path, w.Code, w.Body)
		}
	}
	// Each variant is a V2 model of its own.
	w := do(s, "POST", "/v2/models/challenger/infer", "application/json", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2]}]}`)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"model_name":"challenger"`) || !strings.Contains(w.Body.String(), `"model_version":"challenger-v"`) {
		t.Errorf("V2 by variant name: %d %s", w.Code, w.Body)
	}
	if w := do(s, "GET", "/v2/models/shadow", "", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"versions":["shadow-v"]`) {
		t.Errorf("V2 metadata by variant name: %d %s", w.Code, w.Body)
	}
}

func TestVariantShadowPairsAndReport(t *testing.T) {
	rec := &recordingSink{}
	s, _ := variantServer(t, rec)
	for i := range 300 {
		w := do(s, "POST", "/score", "application/json", fmt.Sprintf(`{"leads":[{"id":"l%d","features":{"f0":%d,"f1":0}}]}`, i, i%7-3))
		if w.Code != 200 {
			t.Fatal(w.Body)
		}
	}
	// Every job handed to the shadow workers is scored (shedding is off)
	// once they have drained: then, and not before, the counts are exact.
	eventually(t, func() bool { return s.ShadowPending() == 0 })
	rec.mu.Lock()
	shadows, byChallenger := 0, 0
	for _, r := range rec.recs {
		switch {
		case r.Shadow:
			shadows++
		case r.Variant == "challenger":
			byChallenger++
		}
	}
	rec.mu.Unlock()
	// Every lead: one shadow row; leads the challenger answered: also the
	// champion's.
	if shadows != 300+byChallenger {
		t.Fatalf("%d shadow rows, want 300 + %d (the challenger's leads)", shadows, byChallenger)
	}
	rec.mu.Lock()
	live := map[string]leadscore.Record{}
	for _, r := range rec.recs {
		if !r.Shadow {
			live[r.InferenceID] = r
		}
	}
	for _, r := range rec.recs {
		if !r.Shadow {
			continue
		}
		l, ok := live[r.InferenceID]
		if !ok || l.LeadID != r.LeadID || r.Variant == l.Variant || r.ModelVersion != r.Variant+"-v" {
			t.Fatalf("shadow %+v has no live pair (%+v)", r, l)
		}
	}
	// Every variant's records, live and shadow, name the shared feature
	// list with one slice, so that the lake's pointer compare holds.
	for _, r := range rec.recs {
		if len(r.FeatureNames) != 2 || &r.FeatureNames[0] != &rec.recs[0].FeatureNames[0] {
			t.Fatalf("%s record (shadow %v) names features %q apart from the others", r.Variant, r.Shadow, r.FeatureNames)
		}
	}
	rec.mu.Unlock()
	rep := s.VariantsReport()
	if !rep.Enabled || rep.Champion != "champion" || len(rep.Variants) != 3 || len(rep.Comparisons) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, c := range rep.Comparisons {
		if c.Leads == 0 || c.Verdict != variant.NoOutcomes {
			t.Errorf("comparison %+v", c)
		}
	}
	if rep.Variants[2].Shadow != 300 || rep.Variants[2].ShadowShed != 0 || rep.Variants[0].Leads == 0 {
		t.Errorf("variants %+v", rep.Variants)
	}
	w := do(s, "GET", "/v1/variants", "", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"tier_confusion"`) {
		t.Errorf("/v1/variants: %d %s", w.Code, w.Body)
	}
	w = do(s, "GET", "/metrics", "", "")
	for _, m := range []string{"leadscore_variant_leads_total{variant=\"challenger\"}", "leadscore_variant_shadow_scored_total{variant=\"shadow\"}",
		"leadscore_variant_tier_agreement{challenger=\"shadow\"} 1", `leadscore_variant_verdict{challenger="challenger",verdict="no outcomes yet"} 1`} {
		if !strings.Contains(w.Body.String(), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func TestVariantShadowFailureAndShed(t *testing.T) {
	s, fakes := variantServer(t, &recordingSink{})
	fakes["shadow"].err = errors.New("shadow is broken") // after the load's smoke test
	for i := range 50 {
		if w := do(s, "POST", "/score", "application/json", fmt.Sprintf(`{"leads":[{"id":"x%d","features":{"f0":1,"f1":0}}]}`, i)); w.Code != 200 {
			t.Fatalf("live request failed with a failing shadow: %d %s", w.Code, w.Body)
		}
	}
	eventually(t, func() bool { return s.variantState("shadow").failed.Load() == 50 })
	// A blocked shadow fills the queue: requests are shed, not slowed.
	fakes["shadow"].err = nil
	fakes["shadow"].block = make(chan struct{})
	for i := range DefaultShadowQueue + 200 {
		if w := do(s, "POST", "/score", "application/json", fmt.Sprintf(`{"leads":[{"id":"y%d","features":{"f0":1,"f1":0}}]}`, i)); w.Code != 200 {
			t.Fatal(w.Body)
		}
	}
	if s.variantState("shadow").shed.Load() == 0 {
		t.Error("nothing shed with the shadow blocked")
	}
	close(fakes["shadow"].block)
}

func TestAdminVariants(t *testing.T) {
	s, _ := variantServer(t, nil)
	send := func(body string) *httpRecorder {
		return do(s, "POST", "/admin/variants", "application/json", body, "X-API-Key", "secret")
	}
	if w := send(`{"variants":[{"name":"challenger","weight":90},{"name":"champion","weight":10}]}`); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	got := 0
	for i := range 1000 {
		w := do(s, "POST", "/score", "application/json", fmt.Sprintf(`{"leads":[{"id":"z%d","features":{"f0":1,"f1":0}}]}`, i))
		if w.Header().Get("X-Amzn-Invoked-Production-Variant") == "challenger" {
			got++
		}
	}
	if got < 850 || got > 950 {
		t.Errorf("challenger answered %d of 1000 after weights 90/10 its way", got)
	}
	if w := send(`{"variants":[{"name":"ghost","weight":1}]}`); w.Code != 400 || !strings.Contains(w.Body.String(), "ghost") {
		t.Errorf("unknown variant: %d %s", w.Code, w.Body)
	}
	if w := send(`{"variants":[{"name":"champion","role":"shadow"},{"name":"challenger","role":"shadow"}]}`); w.Code != 422 {
		t.Errorf("no live variant left: %d %s", w.Code, w.Body)
	}
	if w := do(s, "POST", "/admin/variants", "application/json", `{}`); w.Code != 401 {
		t.Errorf("no key: %d", w.Code)
	}
}

func TestVariantsFeatureListsMustMatch(t *testing.T) {
	a, b := newFake(2), newFake(3)
	_, err := New(context.Background(), Config{Registerer: prometheus.NewRegistry(), Variants: []Variant{
		{Spec: variant.Spec{Name: "a", Role: variant.Weighted, Weight: 1}, Loader: func() (leadscore.Scorer, error) { return a, nil }},
		{Spec: variant.Spec{Name: "b", Role: variant.Shadow, Sample: 1}, Loader: func() (leadscore.Scorer, error) { return b, nil }},
	}})
	if err == nil || !strings.Contains(err.Error(), "variants must share one feature list") {
		t.Fatalf("err %v", err)
	}
}

// eventually is testutil.Eventually with this package's timeout.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "the condition", cond)
}

// TestCPULoad: the load is about the cores' worth of threads wanting a
// CPU: high while GOMAXPROCS goroutines spin, low once they stop.
func TestCPULoad(t *testing.T) {
	c := newCPULoad(0.5, -1)
	defer c.Close()
	if c.Busy(time.Now()); c.off.Load() {
		t.Skip("no per-thread scheduler statistics here (/proc/self/task/*/schedstat)")
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	n := runtime.GOMAXPROCS(0)
	for range n {
		go func() {
			defer func() { done <- struct{}{} }()
			x := 0
			for {
				select {
				case <-stop:
					return
				default:
					x++
				}
			}
		}()
	}
	eventually(t, func() bool { return c.Busy(time.Now()) })
	if c.Load() <= 0.5 {
		t.Errorf("busy at load %v", c.Load())
	}
	close(stop)
	for range n {
		<-done
	}
	eventually(t, func() bool { return !c.Busy(time.Now()) })
	if c.Load() > 0.5 {
		t.Errorf("idle at load %v", c.Load())
	}
}

// TestCPULoadHysteresis: past a limit the process is busy at once; a
// dip below the limit for a window or two (a saturated server between
// bursts) keeps it busy, as does a load between the limits; only both
// figures below calmShare of their limits for cpuCalmFor make it spare
// again.
func TestCPULoadHysteresis(t *testing.T) {
	c := newCPULoad(0.9, 500*time.Microsecond)
	t0 := time.Unix(1000, 0)
	at := t0
	step := func(load float64, wait time.Duration) bool {
		next := at.Add(cpuLoadInterval)
		c.judge(at, next, load, wait)
		at = next
		return c.busy.Load()
	}
	if step(0.5, 50*time.Microsecond) {
		t.Fatal("busy at load 0.5")
	}
	if !step(0.95, 50*time.Microsecond) {
		t.Fatal("not busy past the load limit")
	}
	for i, l := range []float64{0.3, 0.3, 0.95, 0.85, 0.8, 0.3, 0.85} {
		if !step(l, 50*time.Microsecond) {
			t.Fatalf("step %d (load %v): a dip freed the CPU for shadows", i, l)
		}
	}
	// A long wait for a core is busy too, and a wait between the limits
	// keeps it busy.
	for i, w := range []time.Duration{time.Millisecond, 400 * time.Microsecond, 100 * time.Microsecond} {
		if !step(0.2, w) {
			t.Fatalf("wait step %d (%v): not busy", i, w)
		}
	}
	// Calm: free once both stayed low for cpuCalmFor.
	calm := int(cpuCalmFor / cpuLoadInterval)
	for i := range calm - 2 { // the previous step was calm already
		if !step(0.2, 100*time.Microsecond) {
			t.Fatalf("free after %d calm windows, want %d", i+2, calm)
		}
	}
	if step(0.2, 100*time.Microsecond) {
		t.Fatalf("still busy after %v of calm", cpuCalmFor)
	}
	// An idle server's first read covers a long calm window.
	c = newCPULoad(0.9, 500*time.Microsecond)
	c.judge(t0, t0.Add(cpuLoadInterval), 1.2, 0)
	c.judge(t0.Add(cpuLoadInterval), t0.Add(time.Second), 0.01, 0)
	if c.busy.Load() {
		t.Error("busy after a second idle")
	}
}

// TestShadowShedWithoutSpareCPU: past the CPU load limit shadow jobs are
// shed and counted as no_spare_cpu, and live answers are unaffected.
func TestShadowShedWithoutSpareCPU(t *testing.T) {
	var vars []Variant
	for _, sp := range []variant.Spec{
		{Name: "champion", Source: "a", Role: variant.Weighted, Weight: 1},
		{Name: "shadow", Source: "c", Role: variant.Shadow, Sample: 1},
	} {
		f := newFake(2)
		vars = append(vars, Variant{Spec: sp, Loader: func() (leadscore.Scorer, error) { return f, nil }})
	}
	s, err := New(context.Background(), Config{Variants: vars, Sink: &recordingSink{}, Registerer: prometheus.NewRegistry(),
		ShadowMaxLive: -1, ShadowMaxCPULoad: 1e-9, ShadowMaxCPUWait: -1}) // any work at all is "no spare CPU"
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if s.cpuLoad.Busy(time.Now()); s.cpuLoad.off.Load() {
		t.Skip("no per-thread scheduler statistics here (/proc/self/task/*/schedstat)")
	}
	i := 0
	eventually(t, func() bool {
		for range 20 {
			i++
			if w := do(s, "POST", "/score", "application/json", fmt.Sprintf(`{"leads":[{"id":"z%d","features":{"f0":1,"f1":0}}]}`, i)); w.Code != 200 {
				t.Fatalf("live request: %d %s", w.Code, w.Body)
			}
		}
		return s.variantState("shadow").shedCPU.Load() > 0
	})
	eventually(t, func() bool { return s.ShadowPending() == 0 })
	st := s.variantState("shadow")
	if got := st.shed.Load() + st.shadowScored.Load(); got != int64(i) {
		t.Errorf("shed %d + scored %d = %d, want every lead (%d)", st.shed.Load(), st.shadowScored.Load(), got, i)
	}
	w := do(s, "GET", "/v1/variants", "", "")
	var rep VariantsJSON
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if v := rep.Variants[1]; v.ShadowShedNoSpareCPU == 0 || v.ShadowShedNoSpareCPU != v.ShadowShed || rep.Shadow.MaxCPULoad != 1e-9 {
		t.Errorf("/v1/variants: %+v %+v", v, rep.Shadow)
	}
	w = do(s, "GET", "/metrics", "", "")
	if !strings.Contains(w.Body.String(), `leadscore_variant_shadow_shed_total{reason="no_spare_cpu",variant="shadow"}`) {
		t.Error("/metrics lacks the no_spare_cpu shed count")
	}
}

// TestVariantBatchSplit: each lead of a batch goes to its own sticky
// variant, the one it gets alone; the batch is split, scored by each
// variant and answered in the request's order, naming each lead's variant;
// the lake rows name each lead's variant and model, and every lead gets its
// shadow score.
func TestVariantBatchSplit(t *testing.T) {
	rec := &recordingSink{}
	s, _ := variantServer(t, rec)
	alone := map[string]string{}
	var leads []string
	for i := range 200 {
		id := fmt.Sprintf("batch-%d", i)
		body := fmt.Sprintf(`{"leads":[{"id":%q,"features":{"f0":%d,"f1":0}}]}`, id, i%7-3)
		w := do(s, "POST", "/score", "application/json", body, "X-Amzn-SageMaker-Inference-Id", "alone-"+id)
		if w.Code != 200 {
			t.Fatal(w.Body)
		}
		alone[id] = w.Header().Get("X-Amzn-Invoked-Production-Variant")
		leads = append(leads, fmt.Sprintf(`{"id":%q,"features":{"f0":%d,"f1":0}}`, id, i%7-3))
	}
	w := do(s, "POST", "/score", "application/json", `{"leads":[`+strings.Join(leads, ",")+`]}`, "X-Amzn-SageMaker-Inference-Id", "batch")
	if w.Code != 200 {
		t.Fatal(w.Body)
	}
	if h := w.Header().Get("X-Amzn-Invoked-Production-Variant"); h != "" {
		t.Errorf("a split batch names one variant in its header: %q", h)
	}
	var resp struct {
		Model struct {
			Variants []struct{ Name, Version, Variant string } `json:"variants"`
		} `json:"model"`
		Results []struct {
			ID      string `json:"id"`
			Variant string `json:"variant"`
		} `json:"results"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for i, r := range resp.Results {
		id := fmt.Sprintf("batch-%d", i)
		if r.ID != id || r.Variant != alone[id] {
			t.Fatalf("result %d: id %q variant %q, want %q on %q (its variant alone)", i, r.ID, r.Variant, id, alone[id])
		}
		per[r.Variant]++
	}
	if len(resp.Results) != 200 || per["champion"] == 0 || per["challenger"] == 0 || per["shadow"] != 0 {
		t.Fatalf("%d results, per variant %v: want both weighted variants and no shadow", len(resp.Results), per)
	}
	if len(resp.Model.Variants) != 2 || resp.Model.Variants[0].Variant != alone["batch-0"] {
		t.Errorf("model of a split batch: %+v", resp.Model)
	}
	eventually(t, func() bool { return s.ShadowPending() == 0 })
	rec.mu.Lock()
	shadowed := map[string]int{}
	liveRows := 0
	for _, r := range rec.recs {
		if !strings.HasPrefix(r.InferenceID, "batch-") {
			continue
		}
		if r.Shadow {
			shadowed[r.LeadID]++
			continue
		}
		liveRows++
		if r.Variant != alone[r.LeadID] || r.ModelVersion != r.Variant+"-v" {
			t.Errorf("lake row %+v: want variant %s and its model", r, alone[r.LeadID])
		}
	}
	if liveRows != 200 {
		t.Errorf("%d live lake rows of the batch, want 200", liveRows)
	}
	for id, v := range alone {
		want := 1 // the shadow
		if v == "challenger" {
			want = 2 // and the champion beside the challenger
		}
		if shadowed[id] != want {
			t.Errorf("lead %s (%s) has %d shadow rows, want %d", id, v, shadowed[id], want)
		}
	}
	rec.mu.Unlock()
	// A batch whose leads all go to one variant is answered as before.
	var same []string
	for i := range 200 {
		if id := fmt.Sprintf("batch-%d", i); alone[id] == "champion" && len(same) < 5 {
			same = append(same, leads[i])
		}
	}
	w = do(s, "POST", "/score", "application/json", `{"leads":[`+strings.Join(same, ",")+`]}`)
	if w.Code != 200 || w.Header().Get("X-Amzn-Invoked-Production-Variant") != "champion" || !strings.Contains(w.Body.String(), `"model":{"name":"fake","version":"champion-v","variant":"champion"}`) {
		t.Errorf("one-variant batch: %d %q %s", w.Code, w.Header().Get("X-Amzn-Invoked-Production-Variant"), w.Body)
	}
}

// BenchmarkScore1Shadow is BenchmarkScore1 served as a champion with a
// shadow and the live comparison, on a server with no spare CPU (every
// shadow job shed): what a saturated server pays per request for a
// shadow it cannot afford. Compare with BenchmarkScore1.
func BenchmarkScore1Shadow(b *testing.B) {
	live := variant.NewLive([]variant.Spec{
		{Name: "champion", Role: variant.Weighted, Weight: 1}, {Name: "shadow", Role: variant.Shadow, Sample: 1},
	}, variant.LiveConfig{})
	done := make(chan struct{})
	defer close(done)
	go live.Run(done)
	benchmarkScore(b, benchRows(1), "/score", func(c *Config) {
		c.Variants = []Variant{
			{Spec: variant.Spec{Name: "champion", Source: "a", Role: variant.Weighted, Weight: 1}, Loader: c.Loader},
			{Spec: variant.Spec{Name: "shadow", Source: "b", Role: variant.Shadow, Sample: 1}, Loader: c.Loader},
		}
		c.Comparison, c.Sink = live, live
		c.ShadowMaxLive, c.ShadowMaxCPULoad, c.ShadowMaxCPUWait = -1, 1e-9, -1
	})
}
