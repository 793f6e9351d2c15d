package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/variant"
)

// Variant is one model of several served at once (champion/challenger):
// its declaration and how to load its model.
type Variant struct {
	Spec   variant.Spec
	Loader leadscore.Loader
}

// Defaults of the shadow pipeline.
const (
	DefaultShadowQueue   = 1024
	DefaultShadowWorkers = 1
)

// targetVariantHeader is the header SageMaker's runtime sends to pick a
// production variant, as Go canonicalises it; invokedVariantHeader is the
// one it answers with.
const (
	targetVariantHeader  = "X-Amzn-Sagemaker-Target-Variant"
	invokedVariantHeader = "X-Amzn-Invoked-Production-Variant"
	codeUnknownVariant   = "unknown_variant" // 400: the target variant header names no variant
)

// variantSet is the variants being served, immutable once published: a
// reconfiguration or reload publishes a new one.
type variantSet struct {
	specs    []variant.Spec
	models   []*served
	loaders  []leadscore.Loader
	router   *variant.Router
	champion int
	byName   map[string]int
	header   [][]string // X-Amzn-Invoked-Production-Variant value of each
	shares   []float64
	// states and shed are each variant's counters and its
	// leadscore_variant_shadow_shed_total series (queue_full,
	// no_spare_cpu), looked up once at publish: a saturated server sheds
	// on every request.
	states []*variantState
	shed   [][2]prometheus.Counter
}

// variantState is the per-variant counters kept across reconfigurations.
type variantState struct {
	shed, shedCPU, failed, shadowScored atomic.Int64
}

// shadowJob is one request's leads to be scored by the variants that did
// not answer it.
type shadowJob struct {
	vs      *variantSet
	targets uint32 // bit i: variant i scores the job
	live    []leadscore.Record
	feats   []float32
	// batch, when not nil, holds the live records' storage (live may be
	// its Records, and the records' Features are its Features): the job
	// holds a reference (Retain) from its queueing until it is scored or
	// shed.
	batch *leadscore.Batch
}

// done releases the job's batch, if it holds one.
func (j *shadowJob) done() {
	if j.batch != nil {
		j.batch.Release()
		j.batch = nil
	}
}

// newVariantSet loads (or reuses from prev, same name and source) the
// model of each variant and checks they share the champion's feature
// list: the lake keeps one schema per file and the request is parsed
// once, so variants whose feature lists differ are refused.
func (s *Server) newVariantSet(ctx context.Context, vars []Variant, prev *variantSet, reload bool) (*variantSet, error) {
	specs := make([]variant.Spec, len(vars))
	for i, v := range vars {
		specs[i] = v.Spec
	}
	if err := variant.ValidateSet(specs); err != nil {
		return nil, err
	}
	vs := &variantSet{specs: specs, byName: map[string]int{}, router: variant.NewRouter(specs),
		champion: variant.Champion(specs), shares: variant.Shares(specs)}
	for i, v := range vars {
		if v.Loader == nil {
			return nil, fmt.Errorf("variant %s: no loader", v.Spec.Name)
		}
		vs.byName[v.Spec.Name] = i
		vs.loaders = append(vs.loaders, v.Loader)
		vs.header = append(vs.header, []string{v.Spec.Name})
		var m *served
		if prev != nil && !reload {
			if j, ok := prev.byName[v.Spec.Name]; ok && prev.specs[j].Source == v.Spec.Source {
				m = prev.models[j]
			}
		}
		if m == nil {
			var err error
			if m, err = s.loadWith(ctx, v.Loader); err != nil {
				return nil, fmt.Errorf("variant %s: %w", v.Spec.Name, err)
			}
		}
		vs.models = append(vs.models, m.withVariant(v.Spec.Name))
	}
	champ := vs.models[vs.champion]
	for i, m := range vs.models {
		if !slices.Equal(m.schema.names, champ.schema.names) {
			return nil, fmt.Errorf("variant %s (%s %s) has features %s, champion %s (%s %s) has %s: variants must share one feature list",
				specs[i].Name, m.info.Name, m.info.Version, describeFeatures(m.schema.names),
				specs[vs.champion].Name, champ.info.Name, champ.info.Version, describeFeatures(champ.schema.names))
		}
		// One slice for the shared list: records name their features with
		// it (Record.FeatureNames), and sinks compare by pointer first.
		m.schema.names = champ.schema.names
	}
	return vs, nil
}

// describeFeatures names a feature list briefly for an error message.
func describeFeatures(names []string) string {
	if len(names) <= 6 {
		return fmt.Sprintf("%q", names)
	}
	return fmt.Sprintf("%d (%q ... %q)", len(names), names[:3], names[len(names)-2:])
}

// withVariant returns a copy of m that answers as the named variant.
func (m *served) withVariant(name string) *served {
	c := *m
	c.variant = name
	b := append([]byte(nil), `{"name":`...)
	b = appendJSONString(b, m.info.Name)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, m.info.Version)
	b = append(b, `,"variant":`...)
	b = appendJSONString(b, name)
	c.modelJSON = append(b, '}')
	return &c
}

// publish makes vs the variants served; the champion answers the routes
// that know of one model only (health, V2 metadata, Model).
func (s *Server) publish(vs *variantSet) {
	vs.states = make([]*variantState, len(vs.specs))
	vs.shed = make([][2]prometheus.Counter, len(vs.specs))
	for i, sp := range vs.specs {
		vs.states[i] = s.variantState(sp.Name)
		vs.shed[i] = [2]prometheus.Counter{s.metrics.shadowShed.WithLabelValues(sp.Name, shedQueueFull),
			s.metrics.shadowShed.WithLabelValues(sp.Name, shedNoSpareCPU)}
	}
	s.variants.Store(vs)
	champ := vs.models[vs.champion]
	s.model.Store(champ)
	s.metrics.setModel(champ.info)
	s.metrics.setVariants(vs)
	if s.onVariants != nil {
		s.onVariants(vs.specs)
	}
}

// SetVariants replaces the variants served (weights, roles, sources)
// without a restart: models whose variant keeps its name and source are
// kept, others are loaded; requests in flight finish on the set they
// started with. On any error nothing changes.
func (s *Server) SetVariants(ctx context.Context, vars []Variant, reason string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.variants.Load() == nil {
		return errors.New("variants are off: the server was started with one model")
	}
	vs, err := s.newVariantSet(ctx, vars, s.variants.Load(), false)
	if err != nil {
		s.metrics.reloads.WithLabelValues("rejected").Inc()
		s.log.LogAttrs(ctx, slog.LevelError, "variants change rejected", slog.String("trigger", reason), slog.String("error", err.Error()))
		return fmt.Errorf("variants change rejected, nothing changed: %w", err)
	}
	if s.onReload != nil {
		s.onReload(vs.models[vs.champion].scorer)
	}
	s.publish(vs)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.log.LogAttrs(ctx, slog.LevelInfo, "variants changed", slog.String("trigger", reason), slog.Any("variants", vs.specs))
	return nil
}

// Variants returns the variants served now, nil with one model.
func (s *Server) Variants() []variant.Spec {
	vs := s.variants.Load()
	if vs == nil {
		return nil
	}
	return slices.Clone(vs.specs)
}

// VariantModel describes the model a variant serves now.
func (s *Server) VariantModel(name string) (leadscore.ModelInfo, bool) {
	vs := s.variants.Load()
	if vs == nil {
		return leadscore.ModelInfo{}, false
	}
	i, ok := vs.byName[name]
	if !ok {
		return leadscore.ModelInfo{}, false
	}
	return vs.models[i].info, true
}

// VariantScorer is the model a variant serves now (the Scorer its loader
// returned), for whoever keeps per-variant state beside it, such as a
// drift monitor's baseline.
func (s *Server) VariantScorer(name string) (leadscore.Scorer, bool) {
	vs := s.variants.Load()
	if vs == nil {
		return nil, false
	}
	i, ok := vs.byName[name]
	if !ok {
		return nil, false
	}
	return vs.models[i].scorer, true
}

// ReloadVariant reloads one variant's model (its registry stage moved, or
// its file changed); the others keep theirs.
func (s *Server) ReloadVariant(ctx context.Context, name, reason string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.variants.Load()
	if cur == nil {
		return errors.New("variants are off")
	}
	i, ok := cur.byName[name]
	if !ok {
		return fmt.Errorf("no variant %q", name)
	}
	m, err := s.loadWith(ctx, cur.loaders[i])
	if err == nil {
		next := *cur
		next.models = slices.Clone(cur.models)
		next.models[i] = m.withVariant(name)
		if !slices.Equal(m.schema.names, cur.models[cur.champion].schema.names) && i != cur.champion {
			err = fmt.Errorf("its features %s differ from the champion's", describeFeatures(m.schema.names))
		} else if i == cur.champion {
			for j, o := range cur.models {
				if j != i && !slices.Equal(o.schema.names, m.schema.names) {
					err = fmt.Errorf("its features %s differ from variant %s's", describeFeatures(m.schema.names), cur.specs[j].Name)
				}
			}
		}
		if err == nil && i != cur.champion {
			next.models[i].schema.names = cur.models[cur.champion].schema.names // one slice for the shared list
		}
		if err == nil {
			if i == cur.champion && s.onReload != nil {
				s.onReload(m.scorer)
			}
			s.publish(&next)
			s.metrics.reloads.WithLabelValues("ok").Inc()
			s.log.LogAttrs(ctx, slog.LevelInfo, "variant reloaded", slog.String("trigger", reason), slog.String("variant", name),
				slog.String("model", m.info.Name), slog.String("version", m.info.Version),
				slog.String("previous", cur.models[i].info.Version))
			return nil
		}
	}
	s.metrics.reloads.WithLabelValues("rejected").Inc()
	s.log.LogAttrs(ctx, slog.LevelError, "variant reload rejected", slog.String("trigger", reason), slog.String("variant", name), slog.String("error", err.Error()))
	return fmt.Errorf("variant %s: reload rejected, still serving %s: %w", name, cur.models[i].info.Version, err)
}

// route picks the variant that answers a parsed request: the one named by
// X-Amzn-SageMaker-Target-Variant (or a V2 model name), else each lead's
// own by its id (sticky; a batch may be split across variants, see
// routeLeads), else one at random for the whole request. It returns the
// (first lead's) variant's model, and m unchanged with one model. The
// X-Amzn-Invoked-Production-Variant header is set when one variant
// answers every lead.
func (s *Server) route(ex *exchange, r *http.Request, m *served) (*served, *apiError) {
	vs := s.variants.Load()
	ex.vs, ex.vidx = vs, -1
	if vs == nil {
		return m, nil
	}
	var i int
	if ex.force >= 0 && ex.force < len(vs.specs) {
		i = ex.force
	} else if target := r.Header[targetVariantHeader]; len(target) > 0 {
		j, ok := vs.byName[target[0]]
		if !ok || len(target) > 1 {
			return nil, newError(http.StatusBadRequest, codeUnknownVariant, "X-Amzn-SageMaker-Target-Variant %q names no variant: this server serves %s",
				truncateName(target[0]), variantNames(vs))
		}
		i = j
	} else if ex.batch.hasIDs && ex.batch.n > 0 {
		i = routeLeads(ex, vs)
	} else {
		i = vs.router.Pick(rand.Float64()) //nolint:gosec // traffic split, not security
	}
	ex.vidx = i
	if !ex.split {
		ex.w.Header()[invokedVariantHeader] = vs.header[i]
	}
	return vs.models[i], nil
}

// routeLeads routes each lead of a batch with ids to its own sticky
// variant (by its id; at random for a row without one) and returns the
// first lead's. When the leads go to more than one variant ex.split is
// set and ex.vrows holds each row's variant.
func routeLeads(ex *exchange, vs *variantSet) int {
	b := &ex.batch
	pick := func(r int) int32 {
		if r < len(b.ids) && b.ids[r] != nil {
			return int32(vs.router.Pick(leadPoint(b.ids[r]))) // #nosec G115 -- at most MaxVariants
		}
		return int32(vs.router.Pick(rand.Float64())) //nolint:gosec // traffic split, not security
	}
	first := pick(0)
	if b.n == 1 {
		return int(first)
	}
	ex.vrows = append(ex.vrows[:0], first)
	for r := 1; r < b.n; r++ {
		k := pick(r)
		ex.vrows = append(ex.vrows, k)
		ex.split = ex.split || k != first
	}
	return int(first)
}

// leadPoint is variant.Point of a lead id kept as its raw JSON token,
// without building the string when the token has no escapes.
func leadPoint(tok []byte) float64 {
	if len(tok) >= 2 && tok[0] == '"' && bytes.IndexByte(tok, '\\') < 0 {
		return variant.PointBytes(tok[1 : len(tok)-1])
	}
	return variant.Point(leadID(tok))
}

func truncateName(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func variantNames(vs *variantSet) string {
	out := ""
	for i, sp := range vs.specs {
		if i > 0 {
			out += ", "
		}
		out += sp.Name
	}
	return out
}

// shadow queues leads that variant answered answered for the variants
// that did not answer them: every shadow (on its sampled share, sticky by
// lead id), and the champion when a weighted challenger answered (so that
// every challenger has paired scores). When the queue is full, or the
// process has no spare CPU (noSpareCPU), a job is shed and counted; the
// live request never waits.
func (s *Server) shadow(vs *variantSet, answered int, live []leadscore.Record, feats []float32, b *leadscore.Batch) {
	if vs == nil || answered < 0 || s.shadowQ == nil || len(live) == 0 {
		return
	}
	var all uint32 // variants scoring every lead: one job
	for j, sp := range vs.specs {
		if j == answered {
			continue
		}
		switch {
		case sp.Role == variant.Shadow && sp.Sample < 1:
			sub, subFeats := sampleLeads(sp.Sample, live, feats)
			switch {
			case len(sub) == len(live):
				all |= 1 << j
			case len(sub) > 0: // a job of its own, with its sampled leads
				s.enqueueShadow(shadowJob{vs: vs, targets: 1 << j, live: sub, feats: subFeats, batch: b})
			}
		case sp.Role == variant.Shadow, j == vs.champion && vs.specs[answered].Role == variant.Weighted:
			all |= 1 << j
		}
	}
	if all != 0 {
		s.enqueueShadow(shadowJob{vs: vs, targets: all, live: live, feats: feats, batch: b})
	}
}

// shadowSplit queues the shadow jobs of a batch split across variants:
// each variant's leads go to the variants that did not answer them.
func (s *Server) shadowSplit(vs *variantSet, vrows []int32, live []leadscore.Record, feats []float32, b *leadscore.Batch) {
	nf := len(feats) / len(live)
	_ = eachVariant(vrows, func(_ int, k int32) error {
		var sub []leadscore.Record
		var subFeats []float32
		for i, v := range vrows {
			if v == k {
				sub = append(sub, live[i])
				subFeats = append(subFeats, feats[i*nf:(i+1)*nf]...)
			}
		}
		s.shadow(vs, int(k), sub, subFeats, b)
		return nil
	})
}

// sampleLeads returns the leads a shadow with share sample scores, with
// their rows: a lead is in when its SamplePoint (random without an id)
// falls below the share, so a lead is always in or always out. It returns
// live and feats themselves when every lead is in.
func sampleLeads(sample float64, live []leadscore.Record, feats []float32) ([]leadscore.Record, []float32) {
	in := func(l *leadscore.Record) bool {
		u := rand.Float64() //nolint:gosec // sampling, not security
		if l.LeadID != "" {
			u = variant.SamplePoint(l.LeadID)
		}
		return variant.Sampled(sample, u)
	}
	if len(live) == 1 {
		if in(&live[0]) {
			return live, feats
		}
		return nil, nil
	}
	nf := len(feats) / len(live)
	var sub []leadscore.Record
	var subFeats []float32
	for i := range live {
		if in(&live[i]) {
			sub = append(sub, live[i])
			subFeats = append(subFeats, feats[i*nf:(i+1)*nf]...)
		}
	}
	if len(sub) == len(live) {
		return live, feats
	}
	return sub, subFeats
}

// enqueueShadow hands a job to the shadow workers, or sheds it. A job
// with a batch retains it while queued.
func (s *Server) enqueueShadow(job shadowJob) {
	if s.cpuLoad.Busy(time.Now()) { // shed here, without waking a worker
		s.shedJob(job, shedNoSpareCPU)
		return
	}
	if job.batch != nil {
		job.batch.Retain()
	}
	s.shadowPending.Add(1)
	select {
	case s.shadowQ <- job:
	default:
		s.shadowPending.Add(-1)
		s.shedJob(job, shedQueueFull)
		job.done()
	}
}

func (s *Server) variantState(name string) *variantState {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	st := s.states[name]
	if st == nil {
		st = &variantState{}
		s.states[name] = st
	}
	return st
}

// Reasons a shadow job is shed, the reason label of
// leadscore_variant_shadow_shed_total.
const (
	shedQueueFull  = "queue_full"   // the shadow queue was full
	shedNoSpareCPU = "no_spare_cpu" // live work was waiting for the cores
)

// noSpareCPU reports whether live work leaves no spare CPU for shadow
// scoring: the process's CPU load or its threads' mean wait for a core
// (cpuLoad) is above its limit, or more live requests than ShadowMaxLive are in flight. The Go scheduler has no
// priorities, so a shadow worker that ran then would take its CPU from
// live requests; it sheds instead.
func (s *Server) noSpareCPU(now time.Time) bool {
	return s.cpuLoad.Busy(now) || s.inFlight.Load() > s.shadowMaxLive
}

// shedJob counts a job's leads as shed for each of its variants.
func (s *Server) shedJob(job shadowJob, reason string) {
	n := int64(len(job.live))
	k := 0
	if reason == shedNoSpareCPU {
		k = 1
	}
	for j := range job.vs.specs {
		if job.targets&(1<<j) != 0 {
			st := job.vs.states[j]
			st.shed.Add(n)
			if k == 1 {
				st.shedCPU.Add(n)
			}
			job.vs.shed[j][k].Add(float64(n))
		}
	}
}

// startShadows starts the shadow workers.
func (s *Server) startShadows(queue, workers int) {
	s.shadowQ = make(chan shadowJob, queue)
	for range workers {
		s.shadowWG.Add(1)
		go func() {
			defer s.shadowWG.Done()
			var out []leadscore.Result
			for job := range s.shadowQ {
				if s.noSpareCPU(time.Now()) {
					s.shedJob(job, shedNoSpareCPU)
				} else {
					out = s.runShadow(job, out)
				}
				job.done()
				s.shadowPending.Add(-1)
			}
		}()
	}
}

// Close stops the shadow workers once the queued jobs are scored (their
// records reach the sink). Call it after the HTTP server has drained and
// before the sink closes. Scoring requests must not arrive after Close.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.shadowQ != nil {
			close(s.shadowQ)
			s.shadowWG.Wait()
		}
		s.cpuLoad.Close()
	})
}

// runShadow scores one job with each target variant and captures the
// scores as shadow records. A failing (or panicking) variant is counted
// and logged; it never reaches the live request, long answered.
func (s *Server) runShadow(job shadowJob, out []leadscore.Result) []leadscore.Result {
	n := len(job.live)
	if cap(out) < n {
		out = make([]leadscore.Result, n)
	}
	out = out[:n]
	// The shadow records reach the sinks by Capture (copied, off the
	// request path), sharing the live records' Features. When those are a
	// pooled batch's storage, which goes back to the pool once the job is
	// done, a sink that may keep features past Capture (not a
	// leadscore.FeatureCopier) gets copies instead.
	var feats []float32
	if job.batch != nil && !s.sinkCopiesFeats {
		feats = slices.Clone(job.feats)
	}
	nf := len(job.feats) / max(n, 1)
	for j := range job.vs.specs {
		if job.targets&(1<<j) == 0 {
			continue
		}
		name := job.vs.specs[j].Name
		// The model serving the variant now (a reload may have replaced
		// it), as long as it reads the live rows' feature order; else the
		// one it served when the request came.
		m := job.vs.models[j]
		if cur := s.variants.Load(); cur != nil {
			if k, ok := cur.byName[name]; ok && slices.Equal(cur.models[k].schema.names, m.schema.names) {
				m = cur.models[k]
			}
		}
		st := s.variantState(name)
		clear(out)
		t0 := time.Now()
		err := scoreSafely(m.scorer, job.feats, out)
		took := time.Since(t0)
		if err != nil {
			st.failed.Add(int64(n))
			s.metrics.shadowFailed.WithLabelValues(name).Add(float64(n))
			if s.shadowErrLog.Add(1) <= 10 || s.shadowErrLog.Load()%1000 == 0 {
				s.log.Warn("shadow variant failed to score; live answers are unaffected", "variant", name, "error", err.Error())
			}
			continue
		}
		st.shadowScored.Add(int64(n))
		s.metrics.shadowScored.WithLabelValues(name).Add(float64(n))
		ms := float64(took.Microseconds()) / 1000
		now := time.Now().UTC()
		recs := make([]leadscore.Record, n)
		for i := range recs {
			l := &job.live[i]
			f := l.Features
			if feats != nil {
				f = feats[i*nf : (i+1)*nf : (i+1)*nf]
			}
			recs[i] = leadscore.Record{
				Time: now, RequestID: l.RequestID, InferenceID: l.InferenceID, LeadID: l.LeadID,
				Model: m.info.Name, ModelVersion: m.info.Version, Features: f, FeatureNames: l.FeatureNames,
				Margin: out[i].Margin, Probability: out[i].Probability, Tier: out[i].Score, LatencyMS: ms,
				Variant: name, Shadow: true,
			}
		}
		s.sink.Capture(recs)
	}
	return out
}

// scoreSafely scores rows, turning a panic into an error.
func scoreSafely(sc leadscore.Scorer, rows []float32, out []leadscore.Result) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("scoring panicked: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return sc.Score(ctx, rows, 0, out)
}

// shadowQueueState is the shadow queue's capacity and length now, and
// the jobs queued or being scored.
func (s *Server) shadowQueueState() (capacity, length, pending int) {
	if s.shadowQ == nil {
		return 0, 0, 0
	}
	return cap(s.shadowQ), len(s.shadowQ), int(s.shadowPending.Load())
}

// ShadowPending is how many shadow jobs are queued or being scored: 0
// once every job handed to the shadow workers so far has been scored (its
// records given to the sink) or shed. Tests and benchmarks wait for it.
func (s *Server) ShadowPending() int { return int(s.shadowPending.Load()) }

// eachVariant calls f once for each variant index in rows (a batch's
// variant per row), in the order of the variant's first row, with that
// row; it stops at f's first error.
func eachVariant(rows []int32, f func(first int, k int32) error) error {
	var done uint32
	for r, k := range rows {
		if done&(1<<k) != 0 {
			continue
		}
		done |= 1 << k
		if err := f(r, k); err != nil {
			return err
		}
	}
	return nil
}
