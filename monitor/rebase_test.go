package monitor

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRebase follows a reloaded model: after Rebase the window starts
// empty, reports name the new model, drift is measured against the new
// baseline, and the old model's feature series are gone.
func TestRebase(t *testing.T) {
	t.Parallel()
	base := loadDemo(t, "leads_10k.csv")
	drift := loadDemo(t, "leads_10k_drift.csv")
	reg := prometheus.NewRegistry()
	m := newMonitor(t, Config{Baseline: baselineOf(t, base, 0, base.t.Rows), Features: base.names,
		Model: ModelRef{Name: "lead", Version: "1"}, Registerer: reg})
	m.Capture(records(drift, 0, 5000, "a", t0))
	r := m.Evaluate()
	if r.Model.Version != "1" || r.Window.Rows != 5000 || !violated(r, "")["company_size_log"] {
		t.Fatalf("before: model %+v, %d rows, violations %v", r.Model, r.Window.Rows, violated(r, ""))
	}

	// A broken rebase changes nothing.
	if err := m.Rebase(Rebase{Features: base.names}); err == nil {
		t.Fatal("rebase without a baseline: no error")
	}
	if err := m.Rebase(Rebase{Baseline: baselineOf(t, drift, 0, 5000)}); err == nil {
		t.Fatal("rebase without features: no error")
	}
	if r := m.Evaluate(); r.Model.Version != "1" || r.Window.Rows != 5000 {
		t.Fatalf("after failed rebases: %+v, %d rows", r.Model, r.Window.Rows)
	}

	// Version 2 was trained on the shifted population: the same leads are
	// no longer drift, and only 8 of the 50 inputs remain.
	names := base.names[:8]
	if err := m.Rebase(Rebase{Baseline: baselineOf(t, drift, 0, drift.t.Rows), Features: base.names,
		Model: ModelRef{Name: "lead", Version: "2"}}); err != nil {
		t.Fatal(err)
	}
	r = m.Evaluate()
	if r.Model.Version != "2" || r.Window.Rows != 0 {
		t.Fatalf("after rebase: model %+v, %d rows", r.Model, r.Window.Rows)
	}
	m.Capture(records(drift, 5000, 10000, "b", t0))
	r = m.Evaluate()
	if r.Window.Rows != 5000 {
		t.Fatalf("window %d rows, want 5000", r.Window.Rows)
	}
	for _, name := range shifted {
		if violated(r, CheckDrift)[name] {
			t.Errorf("%s flagged against the drifted population's own baseline", name)
		}
	}

	// Fewer inputs: the stale series of the others are gone.
	if err := m.Rebase(Rebase{Baseline: baselineOf(t, drift, 0, drift.t.Rows), Features: names,
		Model: ModelRef{Name: "lead", Version: "3"}}); err != nil {
		t.Fatal(err)
	}
	recs := records(drift, 0, 200, "c", t0)
	for i := range recs {
		recs[i].Features = recs[i].Features[:len(names)]
	}
	m.Capture(recs)
	m.Capture(records(drift, 200, 300, "old", t0)) // the old model's 50 inputs
	r = m.Evaluate()
	if r.Window.Rows != 200 || r.Window.Rejected != 100 {
		t.Fatalf("window %d rows, %d rejected; want 200 and 100", r.Window.Rows, r.Window.Rejected)
	}
	if !violated(r, CheckMissingCol)[base.names[20]] {
		t.Errorf("baseline feature %s without an input: no missing_column_check", base.names[20])
	}
	if n := testutil.CollectAndCount(reg, "leadscore_monitor_feature_distance"); n > len(names) {
		t.Errorf("%d distance series after rebasing to %d inputs", n, len(names))
	}
	if !strings.Contains(r.Model.Name, "lead") {
		t.Errorf("model %+v", r.Model)
	}
}

// TestRejectsOtherFeatureOrder is issue 10, finding 5 at the monitor:
// records the old model scored while a reload was published (the same
// features in another order) name their feature list and are kept out of
// the window rather than counted under the wrong features.
func TestRejectsOtherFeatureOrder(t *testing.T) {
	t.Parallel()
	base := loadDemo(t, "leads_10k.csv")
	m := newMonitor(t, Config{Baseline: baselineOf(t, base, 0, base.t.Rows), Features: base.names,
		Model: ModelRef{Name: "lead", Version: "1"}})
	same := append([]string(nil), base.names...)
	reversed := append([]string(nil), base.names...)
	slices.Reverse(reversed)
	recs := records(base, 0, 300, "a", t0)
	for i := range recs {
		switch i % 3 {
		case 0:
			recs[i].FeatureNames = same
		case 1:
			recs[i].FeatureNames = reversed
		}
	}
	m.Capture(recs)
	if r := m.Evaluate(); r.Window.Rows != 200 || r.Window.Rejected != 100 {
		t.Fatalf("window %d rows, %d rejected; want 200 and 100 (the other order)", r.Window.Rows, r.Window.Rejected)
	}
}
