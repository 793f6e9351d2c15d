package monitor

import (
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/tabular"
)

// demoData is a lead-demo CSV read and scored with the demo model.
type demoData struct {
	names  []string
	t      *tabular.Table
	probs  []float32
	labels []float64
	tiers  leadscore.Tiers
}

var (
	demoMu    sync.Mutex
	demoCache = map[string]*demoData{}
)

// demoBaseline returns the embedded demo bundle and its baseline.
func demoBaseline(t testing.TB) (*bundle.Bundle, *Baseline) {
	t.Helper()
	bd, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	base, err := ReadBaseline(bd.ReadBaseline)
	if err != nil {
		t.Fatal(err)
	}
	return bd, base
}

// loadDemo reads testdata/lead-demo/<file> and scores it (cached).
func loadDemo(t testing.TB, file string) *demoData {
	t.Helper()
	demoMu.Lock()
	defer demoMu.Unlock()
	if d, ok := demoCache[file]; ok {
		return d
	}
	b, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("..", "testdata", "lead-demo", file))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	tab, err := tabular.ReadCSV(f, b.FeatureNames(), tabular.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	probs := make([]float32, tab.Rows)
	if err := b.Forest().Predict(tab.Values, probs); err != nil {
		t.Fatal(err)
	}
	d := &demoData{names: b.FeatureNames(), t: tab, probs: probs, labels: tab.Extra["converted"], tiers: b.Manifest().Tiers}
	demoCache[file] = d
	return d
}

type baselineKey struct {
	d      *demoData
	lo, hi int
}

var baselineCache = map[baselineKey]*Baseline{}

// baselineOf computes a baseline of rows [lo, hi) of d (cached: a
// Baseline is read-only).
func baselineOf(t testing.TB, d *demoData, lo, hi int) *Baseline {
	t.Helper()
	demoMu.Lock()
	defer demoMu.Unlock()
	if b, ok := baselineCache[baselineKey{d, lo, hi}]; ok {
		return b
	}
	nf := len(d.names)
	b, err := ComputeBaseline(BaselineInput{
		Names: d.names, Values: d.t.Values[lo*nf : hi*nf], Rows: hi - lo,
		Probabilities: d.probs[lo:hi], Labels: d.labels[lo:hi], LabelName: "converted",
		Tiers: d.tiers, Model: ModelRef{Name: "lead-demo", Version: "1.0.0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	baselineCache[baselineKey{d, lo, hi}] = b
	return b
}

// records turns rows [lo, hi) of d into scored records with inference ids
// "<prefix><row>", one second apart from start.
func records(d *demoData, lo, hi int, prefix string, start time.Time) []leadscore.Record {
	nf := len(d.names)
	out := make([]leadscore.Record, 0, hi-lo)
	for i := lo; i < hi; i++ {
		p := float64(d.probs[i])
		out = append(out, leadscore.Record{
			Time: start.Add(time.Duration(i-lo) * time.Second), InferenceID: prefix + itoa(i), LeadID: "lead-" + itoa(i),
			Model: "lead-demo", ModelVersion: "1.0.0", Features: d.t.Values[i*nf : (i+1)*nf],
			Probability: p, Margin: math.Log(p / (1 - p)), Tier: d.tiers.Tier(p),
		})
	}
	return out
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for ; i > 0; i /= 10 {
		n--
		b[n] = byte('0' + i%10)
	}
	return string(b[n:])
}

// fixedClock is a settable clock.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// violated lists the features with a violation of check ("" for any).
func violated(r *Report, check string) map[string]bool {
	out := map[string]bool{}
	for _, v := range r.ConstraintViolations.Violations {
		if check == "" || v.ConstraintCheckType == check {
			out[v.FeatureName] = true
		}
	}
	return out
}
