package monitor

import (
	"errors"
	"fmt"

	"github.com/leadscore/leadscore"
)

// Rebase is what changes when the service reloads its model: the new
// model's baseline, inputs, tier cut-offs and name.
type Rebase struct {
	Baseline *Baseline
	Features []string
	Tiers    leadscore.Tiers // default: the baseline's
	Model    ModelRef
	// Bias is the new model's facets (default: its baseline's).
	Bias *leadscore.BiasConfig
	// Explain explains the new model's leads; nil turns attribution drift
	// off (as does a baseline without attributions).
	Explain Explainer
}

// Rebase switches the monitor to a reloaded model: from now on the window
// is compared with the new baseline, reports and alerts name the new
// model, and the window starts empty (rows scored by the old model would
// mix two models' distributions). Records still queued from the old model
// are counted as rejected when their feature count differs. On error the
// monitor keeps its current baseline.
func (m *Monitor) Rebase(r Rebase) error {
	if r.Baseline == nil {
		return errors.New("monitor: no baseline")
	}
	if len(r.Features) == 0 {
		return errors.New("monitor: no model features")
	}
	checks, err := m.cfg.Checks.resolve(r.Baseline)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	tiers := r.Tiers
	if tiers == (leadscore.Tiers{}) {
		var ok bool
		if tiers, ok = r.Baseline.tiers(); !ok {
			return errors.New("monitor: no tier cut-offs in the model or the baseline")
		}
	}
	if err := tiers.Validate(); err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	bias, err := newBiasState(r.Bias, r.Baseline, r.Features)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	acfg := m.cfg.Attribution
	acfg.Baseline, acfg.Explain = nil, r.Explain
	attr, err := newAttribution(acfg, r.Baseline, r.Features)
	if err != nil {
		return err
	}
	m.evalMu.Lock()
	defer m.evalMu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg.Features = append([]string(nil), r.Features...)
	m.seenNames = nil
	m.cfg.Model = r.Model
	m.base, m.checks, m.tiers, m.nf = r.Baseline, checks, tiers, len(r.Features)
	m.static = m.matchFeatures()
	m.win = newWindow(m.nf, m.cfg.WindowRows, m.cfg.WindowAge)
	m.bias, m.attr = bias, attr
	close(m.attrChanged)
	m.attrChanged = make(chan struct{})
	m.last = nil
	// Series of the old model's features would linger with stale values.
	m.met.distance.Reset()
	m.met.psi.Reset()
	m.met.completeness.Reset()
	m.met.outOfRange.Reset()
	m.met.violations.Reset()
	m.met.bias.Reset()
	m.met.attribution.Reset()
	if m.alerter != nil {
		m.alerter.setTitle("leadscore " + r.Model.Name + " " + r.Model.Version)
	}
	m.log.Info("drift monitor follows the reloaded model", "model", r.Model.Name, "version", r.Model.Version,
		"features", len(r.Features), "baseline_features", len(r.Baseline.features))
	return nil
}
