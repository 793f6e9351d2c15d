package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/leadscore/leadscore"
)

// served is one loaded model with what the request path precomputes from
// it. It is immutable once published.
type served struct {
	scorer leadscore.Scorer
	info   leadscore.ModelInfo
	schema schema
	// objective is the XGBoost objective (binary:logistic when the
	// scorer does not say), for SageMaker's selectable inference.
	objective string
	// modelJSON is {"name":...,"version":...}, ready to copy into
	// responses, with "variant" when several variants are served.
	modelJSON []byte
	// variant names the variant the model serves as; empty with one model.
	variant string
}

// newServed checks a freshly loaded scorer and prepares it for serving. A
// model with no features, duplicate feature names, bad tier cut-offs, or
// that fails to score an all-missing row is rejected.
func newServed(ctx context.Context, sc leadscore.Scorer) (*served, error) {
	if sc == nil {
		return nil, errors.New("loader returned no model")
	}
	info := sc.Info()
	if len(info.Features) == 0 {
		return nil, fmt.Errorf("model %q has no features", info.Name)
	}
	if err := info.Tiers.Validate(); err != nil {
		return nil, fmt.Errorf("model %q: %w", info.Name, err)
	}
	m := &served{scorer: sc, info: info, objective: info.Objective}
	if m.objective == "" {
		m.objective = objectiveDefault
	}
	m.schema.names = make([]string, len(info.Features))
	m.schema.index = make(map[string]int, len(info.Features))
	for i, f := range info.Features {
		if _, dup := m.schema.index[f.Name]; dup {
			return nil, fmt.Errorf("model %q: feature %q appears twice", info.Name, f.Name)
		}
		m.schema.names[i] = f.Name
		m.schema.index[f.Name] = i
	}
	// Smoke test: a model that cannot score an all-missing lead is broken.
	row := make([]float32, len(info.Features))
	for i := range row {
		row[i] = float32(math.NaN())
	}
	out := make([]leadscore.Result, 1)
	if err := sc.Score(ctx, row, 0, out); err != nil {
		return nil, fmt.Errorf("model %q fails to score an all-missing lead: %w", info.Name, err)
	}
	if p := out[0].Probability; !(p >= 0 && p <= 1) || out[0].Score < 1 || out[0].Score > 5 {
		return nil, fmt.Errorf("model %q scores an all-missing lead as probability %v, tier %d", info.Name, p, out[0].Score)
	}
	b := append([]byte(nil), `{"name":`...)
	b = appendJSONString(b, info.Name)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, info.Version)
	m.modelJSON = append(b, '}')
	return m, nil
}

// Model describes the model being served.
func (s *Server) Model() leadscore.ModelInfo { return s.model.Load().info }

// Reload loads a model with the Loader and, if it passes the checks, swaps
// it in; requests in flight finish on the model they started with. A model
// that fails to load or to pass the checks is rejected with the reason
// logged and returned, and the current model keeps serving. Reloads are
// serialized. reason ("sighup", "admin", "file changed") goes to the log.
func (s *Server) Reload(ctx context.Context, reason string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if cur := s.variants.Load(); cur != nil {
		return s.reloadVariants(ctx, cur, reason)
	}
	start := time.Now()
	old := s.model.Load()
	m, err := s.load(ctx)
	if err != nil {
		s.metrics.reloads.WithLabelValues("rejected").Inc()
		s.log.LogAttrs(ctx, slog.LevelError, "model reload rejected",
			slog.String("trigger", reason),
			slog.String("error", err.Error()),
			slog.String("serving", old.info.Name+" "+old.info.Version))
		return fmt.Errorf("reload rejected, still serving %s %s: %w", old.info.Name, old.info.Version, err)
	}
	if s.onReload != nil {
		s.onReload(m.scorer)
	}
	s.model.Store(m)
	s.metrics.setModel(m.info)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.log.LogAttrs(ctx, slog.LevelInfo, "model reloaded",
		slog.String("trigger", reason),
		slog.String("model", m.info.Name),
		slog.String("version", m.info.Version),
		slog.String("previous", old.info.Name+" "+old.info.Version),
		slog.Duration("took", time.Since(start)))
	return nil
}

// reloadVariants reloads every variant's model; callers hold reloadMu.
func (s *Server) reloadVariants(ctx context.Context, cur *variantSet, reason string) error {
	vars := make([]Variant, len(cur.specs))
	for i := range vars {
		vars[i] = Variant{Spec: cur.specs[i], Loader: cur.loaders[i]}
	}
	vs, err := s.newVariantSet(ctx, vars, cur, true)
	if err != nil {
		s.metrics.reloads.WithLabelValues("rejected").Inc()
		s.log.LogAttrs(ctx, slog.LevelError, "model reload rejected", slog.String("trigger", reason), slog.String("error", err.Error()))
		return fmt.Errorf("reload rejected, still serving the variants as they were: %w", err)
	}
	if s.onReload != nil {
		s.onReload(vs.models[vs.champion].scorer)
	}
	s.publish(vs)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.log.LogAttrs(ctx, slog.LevelInfo, "variants reloaded", slog.String("trigger", reason))
	return nil
}

// load calls the Loader and checks its model.
func (s *Server) load(ctx context.Context) (m *served, err error) {
	return s.loadWith(ctx, s.loader)
}

// loadWith calls loader and checks its model.
func (s *Server) loadWith(ctx context.Context, loader leadscore.Loader) (m *served, err error) {
	defer func() {
		// A Loader that panics on a hostile file must not take the
		// server down: treat it as a broken model.
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("loading the model panicked: %v", r)
		}
	}()
	sc, err := loader()
	if err != nil {
		return nil, err
	}
	return newServed(ctx, sc)
}
