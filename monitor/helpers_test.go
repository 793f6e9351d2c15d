package monitor

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/internal/testutil"
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

// randomRecord is record seq of the queue tests' random streams: its
// FeatureNames are names (the list in force), same (an equal list in
// another slice), other (another list) or nil, rarely with one feature too
// few; its Time, InferenceID and LeadID are set or not at random.
func randomRecord(rng *rand.Rand, seq, nf int, names, same, other []string) leadscore.Record {
	r := leadscore.Record{Probability: float64(seq) / 1e6, FeatureNames: names}
	width := nf
	switch k := rng.IntN(20); {
	case k == 0:
		r.FeatureNames = other
	case k == 1:
		width, r.FeatureNames = nf-1, nil
	case k < 5:
		r.FeatureNames = nil
	case k < 8:
		r.FeatureNames = same
	}
	r.Features = make([]float32, width)
	for j := range r.Features {
		r.Features[j] = float32(seq*1000 + j)
	}
	if rng.IntN(4) != 0 {
		r.Time = t0.Add(time.Duration(seq) * time.Millisecond)
	}
	if rng.IntN(5) != 0 {
		r.InferenceID = "inf-" + strconv.Itoa(seq)
	}
	if rng.IntN(3) == 0 {
		r.LeadID = "lead-" + strconv.Itoa(seq%17)
	}
	return r
}

// windowComplete waits until m's window holds total rows, stops its Run
// (cancel, then its error from done) and checks that nothing was dropped.
func windowComplete(t *testing.T, m *Monitor, total int, cancel func(), done <-chan error) {
	t.Helper()
	testutil.EventuallyState(t, 5*time.Second, "every record in the window", func() (bool, string) {
		n := windowRows(m)
		return n == total, "rows " + itoa(n)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := m.dropped.Load(); got != 0 {
		t.Errorf("dropped %d", got)
	}
}
