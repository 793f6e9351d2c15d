package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/httpapi"
	"github.com/leadscore/leadscore/monitor"
	"github.com/leadscore/leadscore/variant"
)

// Drift monitoring runs per variant: each variant whose bundle has a
// baseline has its own monitor, fed only its variant's records, its
// metrics labelled variant="NAME". The set follows the variants served:
// a variant added at runtime (SIGHUP on the config file) gets a monitor
// when it is published, a removed one's monitor is stopped and its
// metrics unregistered, and a reloaded one's monitor is rebased on the
// new model's baseline.

// monitorSet is the monitors of the variants served now, and the
// champion's name (GET /v1/monitoring and POST /v1/feedback without a
// variant go to its monitor). Immutable once published.
type monitorSet struct {
	champion string
	byName   map[string]*monitor.Monitor
	feedback map[string]http.Handler
}

// variantMonitor is one running monitor: how to stop it and unregister its
// metrics, and the bundle its baseline came from.
type variantMonitor struct {
	mon    *monitor.Monitor
	cancel context.CancelFunc
	done   chan struct{}
	reg    *trackedRegisterer
	based  *bundle.Bundle
}

// trackedRegisterer remembers the collectors registered through it, so
// that a monitor's metrics can all be unregistered when it stops.
type trackedRegisterer struct {
	prometheus.Registerer
	mu sync.Mutex
	cs []prometheus.Collector
}

func newTrackedRegisterer(reg prometheus.Registerer) *trackedRegisterer {
	return &trackedRegisterer{Registerer: reg}
}

func (t *trackedRegisterer) Register(c prometheus.Collector) error {
	if err := t.Registerer.Register(c); err != nil {
		return err
	}
	t.mu.Lock()
	t.cs = append(t.cs, c)
	t.mu.Unlock()
	return nil
}

func (t *trackedRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}

// unregisterAll removes every collector registered through t.
func (t *trackedRegisterer) unregisterAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.cs {
		t.Unregister(c)
	}
	t.cs = nil
}

// variantRegisterer is reg with every metric labelled variant="NAME",
// tracked for unregistering.
func variantRegisterer(reg prometheus.Registerer, name string) *trackedRegisterer {
	return newTrackedRegisterer(prometheus.WrapRegistererWith(prometheus.Labels{"variant": name}, reg))
}

// buildMonitors starts a drift monitor for each variant whose bundle has
// a baseline: champion is the champion's (built by serve on championReg,
// nil without a baseline), the others are built here. Monitors run
// until ctx is done or their variant is removed. Later variants get
// theirs from syncMonitors.
func (vs *variantServing) buildMonitors(ctx context.Context, specs []variant.Spec, mc *monitorConfig, champion *monitor.Monitor,
	championReg *trackedRegisterer, outcomes monitor.FeedbackSink, reg prometheus.Registerer) error {
	ci := variant.Champion(specs)
	vs.monMu.Lock()
	defer vs.monMu.Unlock()
	vs.mc, vs.monCtx, vs.outcomes, vs.reg = mc, ctx, outcomes, reg
	for i, sp := range specs {
		b := vs.bundle(sp.Name)
		if b == nil { // not loaded yet: the server loads it next
			if _, err := vs.load(sp); err != nil {
				return fmt.Errorf("%w: variant %s: %v", errInput, sp.Name, err)
			}
			b = vs.bundle(sp.Name)
		}
		if i == ci {
			if champion != nil {
				vs.adoptMonitor(sp.Name, champion, championReg, b)
			} else {
				vs.noBase[sp.Name] = b
			}
			continue
		}
		if err := vs.startMonitor(sp.Name, b); err != nil {
			return err
		}
	}
	vs.publishMonitors(specs[ci].Name)
	return nil
}

// startMonitor builds and starts the drift monitor of variant name on
// bundle b's baseline (none when b has none or monitoring is off).
// Callers hold monMu.
func (vs *variantServing) startMonitor(name string, b *bundle.Bundle) error {
	tr := variantRegisterer(vs.reg, name)
	mon, err := vs.mc.build(b, vs.outcomes, tr, vs.log)
	if err != nil {
		tr.unregisterAll()
		return err
	}
	if mon == nil {
		vs.noBase[name] = b
		return nil
	}
	delete(vs.noBase, name)
	vs.adoptMonitor(name, mon, tr, b)
	return nil
}

// adoptMonitor runs mon as variant name's monitor. Callers hold monMu.
func (vs *variantServing) adoptMonitor(name string, mon *monitor.Monitor, tr *trackedRegisterer, b *bundle.Bundle) {
	ctx, cancel := context.WithCancel(vs.monCtx)
	run := &variantMonitor{mon: mon, cancel: cancel, done: make(chan struct{}), reg: tr, based: b}
	go func() {
		defer close(run.done)
		_ = mon.Run(ctx)
	}()
	vs.runs[name] = run
	info := b.Info()
	vs.log.Info("drift monitor started", "variant", name, "model", info.Name, "version", info.Version)
}

// stopMonitor stops variant name's monitor (its Run has returned when
// this does) and unregisters its metrics. Callers hold monMu.
func (vs *variantServing) stopMonitor(name string) {
	run := vs.runs[name]
	if run == nil {
		return
	}
	run.cancel()
	<-run.done
	if run.reg != nil {
		run.reg.unregisterAll()
	}
	delete(vs.runs, name)
	vs.log.Info("drift monitor stopped: the variant is no longer served", "variant", name)
}

// publishMonitors publishes the running monitors for Capture and the
// routes. Callers hold monMu.
func (vs *variantServing) publishMonitors(champion string) {
	set := &monitorSet{champion: champion, byName: map[string]*monitor.Monitor{}, feedback: map[string]http.Handler{}}
	for name, run := range vs.runs {
		set.byName[name] = run.mon
		set.feedback[name] = run.mon.FeedbackHandler()
	}
	vs.monitors.Store(set)
}

// syncMonitors makes the monitors follow the variants srv serves now. The
// server calls it (OnVariants) each time it publishes its variants: a
// reconfiguration (SIGHUP, the admin route), a file-watch or registry
// reload. A variant with no monitor whose model has a baseline gets one
// (its bundle's baseline, the same settings as the others); a monitor
// whose variant is gone is stopped and its metrics unregistered; a
// monitor whose variant now serves another model follows that model's
// baseline (a new window). A monitor is tied to its variant's name; the
// model behind the name may change. With adopt, models differing from
// the monitors' bundles are taken as theirs without a rebase: serve's
// first load of each variant, right after the start.
func (vs *variantServing) syncMonitors(srv *httpapi.Server, adopt bool) {
	specs := srv.Variants()
	if len(specs) == 0 {
		return
	}
	vs.monMu.Lock()
	defer vs.monMu.Unlock()
	if vs.mc == nil { // buildMonitors has not run
		return
	}
	served := map[string]bool{}
	for _, sp := range specs {
		served[sp.Name] = true
		sc, ok := srv.VariantScorer(sp.Name)
		if !ok {
			continue
		}
		b, _ := sc.(*bundle.Bundle)
		run := vs.runs[sp.Name]
		switch {
		case b == nil:
		case run == nil:
			if vs.noBase[sp.Name] == b {
				continue // known to have no baseline
			}
			if err := vs.startMonitor(sp.Name, b); err != nil {
				vs.noBase[sp.Name] = b
				vs.log.Error("drift monitor not started for the variant", "variant", sp.Name, "error", err.Error())
			}
		case run.based != b:
			run.based = b
			if adopt {
				continue
			}
			vs.mc.rebase(run.mon, b, sc.Info(), vs.log)
			vs.log.Info("drift monitor follows the variant's reloaded model", "variant", sp.Name,
				"model", sc.Info().Name, "version", sc.Info().Version)
		}
	}
	for name := range vs.runs {
		if !served[name] {
			vs.stopMonitor(name)
		}
	}
	for name := range vs.noBase {
		if !served[name] {
			delete(vs.noBase, name)
		}
	}
	vs.publishMonitors(specs[variant.Champion(specs)].Name)
}

// monitorCount is how many variants' drift monitors run now.
func (vs *variantServing) monitorCount() int {
	vs.monMu.Lock()
	defer vs.monMu.Unlock()
	return len(vs.runs)
}

// waitMonitors waits for every running monitor to return (their context
// is done: serve is shutting down).
func (vs *variantServing) waitMonitors() {
	vs.monMu.Lock()
	defer vs.monMu.Unlock()
	for _, run := range vs.runs {
		run.cancel()
		<-run.done
	}
}

// Capture feeds each variant's monitor its own records: a request's
// records share a variant, unless its leads were routed one by one (by
// their ids) to several, and the shadow records of a job are the
// shadow's.
func (vs *variantServing) Capture(recs []leadscore.Record) {
	if len(recs) == 0 {
		return
	}
	set := vs.monitors.Load()
	if oneVariant(recs) {
		if mon := set.byName[recs[0].Variant]; mon != nil {
			mon.Capture(recs)
		}
		return
	}
	vs.captureEach(set, recs)
}

// CaptureBatch hands a request's batch to its variant's monitor, which
// keeps it by reference (leadscore.BatchSink) instead of copying it. A
// batch whose leads went to several variants is split: each variant's
// monitor gets copies of its own records (Capture), since a monitor
// takes a batch whole.
func (vs *variantServing) CaptureBatch(b *leadscore.Batch) {
	recs := b.Records
	if len(recs) == 0 {
		return
	}
	set := vs.monitors.Load()
	if oneVariant(recs) {
		if mon := set.byName[recs[0].Variant]; mon != nil {
			mon.CaptureBatch(b)
		}
		return
	}
	vs.captureEach(set, recs)
}

// captureEach gives each variant's monitor copies of its records among
// recs, in their order.
func (vs *variantServing) captureEach(set *monitorSet, recs []leadscore.Record) {
	var done []string
	var own []leadscore.Record
	for i := range recs {
		name := recs[i].Variant
		if slices.Contains(done, name) {
			continue
		}
		done = append(done, name)
		mon := set.byName[name]
		if mon == nil {
			continue
		}
		own = own[:0]
		for j := i; j < len(recs); j++ {
			if recs[j].Variant == name {
				own = append(own, recs[j])
			}
		}
		mon.Capture(own) // copies what it keeps: own is reused
	}
}

// oneVariant reports whether every record of recs has the first's
// variant.
func oneVariant(recs []leadscore.Record) bool {
	v := recs[0].Variant
	for i := 1; i < len(recs); i++ {
		if recs[i].Variant != v {
			return false
		}
	}
	return true
}

// CopiesRecords reports true: the monitors copy what they keep
// (leadscore.SliceCopier).
func (vs *variantServing) CopiesRecords() bool { return true }

// CopiesFeatures reports true: the monitors copy the features they keep
// (leadscore.FeatureCopier).
func (vs *variantServing) CopiesFeatures() bool { return true }

// monitoringHandler serves GET /v1/monitoring for the champion, or for
// ?variant=NAME.
func (vs *variantServing) monitoringHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := vs.monitors.Load()
		name := r.URL.Query().Get("variant")
		if name == "" {
			name = set.champion
		}
		mon := set.byName[name]
		if mon == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			msg, _ := json.Marshal(fmt.Sprintf("no drift monitor for variant %q: unknown, or its model has no baseline", name))
			_, _ = fmt.Fprintf(w, `{"error":{"code":"not_found","message":%s,"row":null,"feature":"variant"}}`+"\n", msg)
			return
		}
		mon.ReportHandler().ServeHTTP(w, r)
	})
}

// feedbackRoute serves POST /v1/feedback through the champion's monitor
// now (outcomes join its window, then reach the lake and the live
// comparison), or through fallback when the champion has none.
func (vs *variantServing) feedbackRoute(fallback http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := vs.monitors.Load()
		if h := set.feedback[set.champion]; h != nil {
			h.ServeHTTP(w, r)
			return
		}
		fallback.ServeHTTP(w, r)
	})
}
