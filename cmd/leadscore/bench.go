package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/leadscore/leadscore/forest"
	"github.com/leadscore/leadscore/internal/cputime"
)

const benchUsage = `Usage: leadscore bench [flags]

Measures this machine's scoring throughput (rows/s, batch scoring spread over
--threads goroutines) and single-row latency (p50, p99, one row per call on
one goroutine) for a model, on rows from --data or rows generated to match
the model's features (uniform in the bundle's expected ranges, 5% missing).
Throughput is the median of --repeats runs.

Flags:
`

// benchResult is what `leadscore bench --json` prints.
type benchResult struct {
	Model      string  `json:"model"`
	Rows       int     `json:"rows"`
	Batch      int     `json:"batch"`
	Threads    int     `json:"threads"`
	Repeats    int     `json:"repeats"`
	RowsPerSec float64 `json:"rows_per_s"`
	// RowsPerCPUSec is rows per second of process CPU time (median of the
	// repeats): with --threads 1 the rate one dedicated core would give.
	RowsPerCPUSec float64 `json:"rows_per_cpu_s"`
	SingleP50us   float64 `json:"single_p50_us"`
	SingleP99us   float64 `json:"single_p99_us"`
	SingleMeanus  float64 `json:"single_mean_us"`
	// ControlP50us and ControlP99us time a control interleaved with the
	// single-row calls: a fixed loop of arithmetic calibrated to the calls'
	// median, touching no memory. What the host adds to any few
	// microseconds of work (preemption, interrupts, frequency changes) shows
	// in its p99 as in ours; the difference is the model's.
	ControlP50us float64 `json:"single_control_p50_us"`
	ControlP99us float64 `json:"single_control_p99_us"`
	// Explain figures: --explain rows explained one per call on one
	// goroutine (TreeSHAP, as ?explain does), after a warm-up call that
	// builds the model's explanation tables.
	ExplainRows     int     `json:"explain_rows,omitempty"`
	ExplainUsPerRow float64 `json:"explain_us_per_row,omitempty"`
	// ExplainCPUUsPerRow is the process CPU time (user+system, from
	// getrusage) per explained row: steadier than wall time on a busy host.
	ExplainCPUUsPerRow float64 `json:"explain_cpu_us_per_row,omitempty"`
	ExplainP99us       float64 `json:"explain_p99_us,omitempty"`
	// Batch explain figures: the same --explain rows explained
	// --explain-batch rows per ContributionsBatch call (as pred_contribs on
	// a DMatrix, or ?explain on a multi-lead request).
	ExplainBatch            int     `json:"explain_batch,omitempty"`
	ExplainBatchUsPerRow    float64 `json:"explain_batch_us_per_row,omitempty"`
	ExplainBatchCPUUsPerRow float64 `json:"explain_batch_cpu_us_per_row,omitempty"`
}

// runBench implements `leadscore bench`.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("bench", benchUsage, stdout, stderr)
	modelPath := fs.String("model", "", "model file or bundle directory (default: the embedded demo model)")
	input := fs.String("data", "", "`file` of rows to score (JSON, CSV or Parquet); default: generated rows")
	format := fs.String("format", "", "input format (default: from the file extension)")
	nrows := fs.Int("rows", 100000, "rows scored per throughput run (input rows are repeated to fill)")
	batch := fs.Int("batch", 1000, "rows per Predict call")
	threads := fs.Int("threads", 1, "goroutines scoring in parallel")
	repeats := fs.Int("repeats", 5, "throughput runs; the median is reported")
	singles := fs.Int("single", 20000, "single-row calls timed for latency")
	explain := fs.Int("explain", 0, "also time TreeSHAP explanations of this many rows, one per call (0: skip)")
	explainBatch := fs.Int("explain-batch", 0, "also time the --explain rows explained this many `rows` per call (0: skip)")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.deprecate("input", "data")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *nrows < 1 || *batch < 1 || *threads < 1 || *repeats < 1 || *singles < 1 || *explain < 0 || *explainBatch < 0 {
		return fmt.Errorf("%w: --rows, --batch, --threads, --repeats and --single must be positive, --explain and --explain-batch not negative", errUsage)
	}
	m, err := openModel(*modelPath)
	if err != nil {
		return err
	}
	f := m.forest
	nf := f.NumFeature()
	var base []float32
	if *input != "" {
		if *format == "" {
			*format = formatFromName(*input)
		}
		t, err := readTable(*input, *format, m.names, nil)
		if err != nil {
			return err
		}
		if t.Rows == 0 {
			return fmt.Errorf("%w: %s has no rows", errInput, *input)
		}
		base = t.Values
	} else {
		base = generateRows(m, 4096)
	}
	forest.ReplaceMissing(base, m.missing)
	rows := make([]float32, *nrows*nf)
	for i := 0; i < len(rows); i += len(base) {
		copy(rows[i:], base)
	}
	res := benchResult{Model: m.source, Rows: *nrows, Batch: *batch, Threads: *threads, Repeats: *repeats}
	res.RowsPerSec, res.RowsPerCPUSec = throughput(f, rows, *batch, *threads, *repeats)
	sl := singleLatency(f, base, *singles)
	res.SingleP50us, res.SingleP99us, res.SingleMeanus = sl.p50, sl.p99, sl.mean
	res.ControlP50us, res.ControlP99us = sl.controlP50, sl.controlP99
	if *explain > 0 {
		res.ExplainRows = *explain
		res.ExplainUsPerRow, res.ExplainCPUUsPerRow, res.ExplainP99us = explainCost(f, base, *explain)
		if *explainBatch > 0 {
			res.ExplainBatch = *explainBatch
			res.ExplainBatchUsPerRow, res.ExplainBatchCPUUsPerRow = explainBatchCost(f, base, *explain, *explainBatch)
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	_, err = fmt.Fprintf(stdout, `model              %s
objective          %s, %d trees, max depth %d, %d features
throughput         %.0f rows/s, %.0f rows per CPU-second  (%d rows, batch %d, %d threads, median of %d)
single-row p50     %.2f us
single-row p99     %.2f us
single-row mean    %.2f us
control p50, p99   %.2f us, %.2f us  (fixed arithmetic as long as a call, interleaved: the host's share of the tail)
`, res.Model, f.Objective(), f.NumTrees(), f.MaxDepth(), nf, res.RowsPerSec, res.RowsPerCPUSec, res.Rows, res.Batch, res.Threads,
		res.Repeats, res.SingleP50us, res.SingleP99us, res.SingleMeanus, res.ControlP50us, res.ControlP99us)
	if err == nil && res.ExplainRows > 0 {
		_, err = fmt.Fprintf(stdout, "explain            %.1f us/row wall, %.1f us/row CPU, p99 %.1f us  (%d rows)\n",
			res.ExplainUsPerRow, res.ExplainCPUUsPerRow, res.ExplainP99us, res.ExplainRows)
	}
	if err == nil && res.ExplainBatch > 0 {
		_, err = fmt.Fprintf(stdout, "explain, batches   %.1f us/row wall, %.1f us/row CPU  (%d rows, %d per call)\n",
			res.ExplainBatchUsPerRow, res.ExplainBatchCPUUsPerRow, res.ExplainRows, res.ExplainBatch)
	}
	return err
}

// explainCost explains n rows one per call and returns the mean wall time,
// the mean process CPU time and the p99 wall time per row, in
// microseconds. The first call, which builds the explanation tables, is
// not timed.
func explainCost(f *forest.Forest, rows []float32, n int) (wall, cpu, p99 float64) {
	nf := f.NumFeature()
	nrows := len(rows) / nf
	out := make([]float32, f.NumGroup()*(nf+1))
	_ = f.Contributions(rows[:nf], out)
	lat := make([]float64, n)
	cpu0 := cputime.Process()
	start := time.Now()
	for i := range lat {
		row := rows[(i%nrows)*nf : (i%nrows+1)*nf]
		t := time.Now()
		_ = f.Contributions(row, out)
		lat[i] = float64(time.Since(t).Nanoseconds()) / 1e3
	}
	wall = float64(time.Since(start).Nanoseconds()) / 1e3 / float64(n)
	cpu = (cputime.Process() - cpu0).Seconds() * 1e6 / float64(n)
	slices.Sort(lat)
	return wall, cpu, lat[min(n-1, n*99/100)]
}

// explainBatchCost explains n rows (rows repeated to fill) batch rows per
// ContributionsBatch call and returns the wall and process CPU time per
// row, in microseconds. A first, untimed call builds the tables.
func explainBatchCost(f *forest.Forest, rows []float32, n, batch int) (wall, cpu float64) {
	nf := f.NumFeature()
	w := f.NumGroup() * (nf + 1)
	in := make([]float32, n*nf)
	for i := 0; i < len(in); i += len(rows) {
		copy(in[i:], rows)
	}
	batch = min(batch, n)
	out := make([]float32, batch*w)
	_ = f.ContributionsBatch(in[:nf], out[:w])
	cpu0 := cputime.Process()
	start := time.Now()
	for i := 0; i < n; i += batch {
		m := min(batch, n-i)
		_ = f.ContributionsBatch(in[i*nf:(i+m)*nf], out[:m*w])
	}
	wall = float64(time.Since(start).Nanoseconds()) / 1e3 / float64(n)
	cpu = (cputime.Process() - cpu0).Seconds() * 1e6 / float64(n)
	return wall, cpu
}

// generateRows makes n rows uniform in each feature's expected range (or
// N(0, 3) where the range is unknown), with 5% missing.
func generateRows(m *loadedModel, n int) []float32 {
	nf := m.forest.NumFeature()
	rng := rand.New(rand.NewPCG(7, 11)) // #nosec G404 -- benchmark data, not security
	var lo, hi []float64
	if m.bundle != nil {
		for _, ft := range m.bundle.Manifest().Features {
			lo, hi = append(lo, ft.Min), append(hi, ft.Max)
		}
	}
	rows := make([]float32, n*nf)
	for i := range rows {
		j := i % nf
		switch {
		case rng.IntN(20) == 0:
			rows[i] = float32(math.NaN())
		case lo != nil && !math.IsInf(lo[j], 0) && !math.IsInf(hi[j], 0):
			rows[i] = float32(lo[j] + rng.Float64()*(hi[j]-lo[j]))
		default:
			rows[i] = float32(rng.NormFloat64() * 3)
		}
	}
	return rows
}

// throughput scores all rows in batches over threads goroutines, repeats
// times, and returns the median rows per second of wall time and of process
// CPU time.
func throughput(f *forest.Forest, rows []float32, batch, threads, repeats int) (wall, cpu float64) {
	nf, g := f.NumFeature(), f.NumGroup()
	n := len(rows) / nf
	rates := make([]float64, repeats)
	cpuRates := make([]float64, repeats)
	for r := range rates {
		start, cpu0 := time.Now(), cputime.Process()
		var wg sync.WaitGroup
		per := (n + threads - 1) / threads
		for t := 0; t < threads; t++ {
			lo, hi := t*per, min((t+1)*per, n)
			if lo >= hi {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				out := make([]float32, batch*g)
				for s := lo; s < hi; s += batch {
					e := min(s+batch, hi)
					_ = f.Predict(rows[s*nf:e*nf], out)
				}
			}()
		}
		wg.Wait()
		rates[r] = float64(n) / time.Since(start).Seconds()
		if c := (cputime.Process() - cpu0).Seconds(); c > 0 {
			cpuRates[r] = float64(n) / c
		}
	}
	slices.Sort(rates)
	slices.Sort(cpuRates)
	return rates[len(rates)/2], cpuRates[len(cpuRates)/2]
}

// latency is singleLatency's result, in microseconds.
type latency struct {
	p50, p99, mean         float64
	controlP50, controlP99 float64
}

// singleLatency times calls scoring one row each, after a warm-up of
// 1,000 untimed calls, interleaved with a control: spin, calibrated to
// last as long as a call's median.
func singleLatency(f *forest.Forest, rows []float32, calls int) latency {
	nf, g := f.NumFeature(), f.NumGroup()
	n := len(rows) / nf
	out := make([]float32, g)
	call := func(i int) float64 {
		row := rows[(i%n)*nf : (i%n+1)*nf]
		start := time.Now()
		_ = f.Predict(row, out)
		return float64(time.Since(start).Nanoseconds()) / 1e3
	}
	warm := make([]float64, 1000)
	for i := range warm {
		warm[i] = call(i)
	}
	slices.Sort(warm)
	// Calibrate: the spin count whose median time matches the calls'.
	const probe = 1 << 12
	spins := make([]float64, 200)
	for i := range spins {
		start := time.Now()
		spin(probe)
		spins[i] = float64(time.Since(start).Nanoseconds()) / 1e3
	}
	slices.Sort(spins)
	iters := max(1, int(float64(probe)*warm[len(warm)/2]/max(spins[len(spins)/2], 1e-3)))

	lat := make([]float64, calls)
	ctl := make([]float64, calls)
	for i := range lat {
		lat[i] = call(i)
		start := time.Now()
		spin(iters)
		ctl[i] = float64(time.Since(start).Nanoseconds()) / 1e3
	}
	sum := 0.0
	for _, l := range lat {
		sum += l
	}
	slices.Sort(lat)
	slices.Sort(ctl)
	return latency{p50: lat[calls/2], p99: lat[calls*99/100], mean: sum / float64(calls),
		controlP50: ctl[calls/2], controlP99: ctl[calls*99/100]}
}

// spinSink keeps spin's result observable so that the loop is not
// optimized away.
var spinSink uint64

// spin runs n steps of a xorshift generator: arithmetic on registers only.
func spin(n int) {
	x := spinSink | 1
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	spinSink = x
}
