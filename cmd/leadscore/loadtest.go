package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/leadscore/leadscore/loadgen"
)

const loadtestUsage = `Usage: leadscore loadtest [flags]

Sends POST requests to a running scoring service at a constant arrival rate
(open loop: latency is measured from each request's due time, so a stalled
server cannot hide behind a slowed-down generator) and prints the achieved
rate, errors by kind and latency percentiles of the 2xx responses. Late
requests waited past their due time for a free connection; missed ones were
never sent before the run ended; send lag is how far behind schedule
requests left.

Bodies hold --batch leads each, in the /score format (a JSON array of rows of
numbers, null for missing), drawn from the embedded demo leads or --data.

With --search it looks for the highest rate the service sustains instead:
steps of --duration each, the rate growing by half after every sustained
step (no errors, nothing missed, p99 within --max-p99) and shrinking after a
failed one, then three bisection steps.

Flags:
`

// apiKeyEnv names the environment variable that supplies --api-key's
// default, so the key need not appear in the process list.
const apiKeyEnv = "LEADSCORE_LOADTEST_API_KEY" // #nosec G101 -- a variable name, not a key

// loadtestOptions are the parsed flags of `leadscore loadtest`.
type loadtestOptions struct {
	url         string
	rate        float64
	duration    time.Duration
	batch       int
	input       string
	connections int
	maxRequests int64
	apiKey      string
	timeout     time.Duration
	json        bool
	search      bool
	maxP99      time.Duration
	hgrm        string
}

// runLoadtest implements `leadscore loadtest`.
func runLoadtest(args []string, stdout, stderr io.Writer) error {
	opts, err := parseLoadtestFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	rows, err := loadtestRows(opts.input)
	if err != nil {
		return err
	}
	bodies, err := loadgen.Bodies(rows, opts.batch)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	header := http.Header{}
	if opts.apiKey != "" {
		header.Set("Authorization", "Bearer "+opts.apiKey)
	}
	cfg := loadgen.Config{
		URL:         opts.url,
		Rate:        opts.rate,
		Duration:    opts.duration,
		MaxRequests: opts.maxRequests,
		Connections: opts.connections,
		Bodies:      bodies,
		Batch:       opts.batch,
		Header:      header,
		Timeout:     opts.timeout,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if opts.search {
		return loadtestSearch(ctx, cfg, opts, stdout)
	}
	stopProgress := loadtestProgress(stderr, opts)
	rep, err := loadgen.Run(ctx, cfg)
	stopProgress()
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if opts.json {
		err = writeJSON(stdout, newRunJSON(rep))
	} else {
		err = writeRunTable(stdout, rep)
	}
	if err != nil {
		return err
	}
	if err := writeHgrm(opts.hgrm, rep.LatencyHistogram); err != nil {
		return err
	}
	if rep.Sent > 0 && rep.OK == 0 {
		return fmt.Errorf("no request succeeded (%s)", errorSummary(rep))
	}
	return nil
}

// parseLoadtestFlags parses and checks the flags of `leadscore loadtest`.
func parseLoadtestFlags(args []string, stdout, stderr io.Writer) (loadtestOptions, error) {
	var o loadtestOptions
	fs := newCommand("loadtest", loadtestUsage, stdout, stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080/score", "`URL` to POST the requests to")
	fs.Float64Var(&o.rate, "rate", 1000, "arrival `rate`, requests per second; with --search, the first rate tried")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send for; with --search, each step's length")
	fs.IntVar(&o.batch, "batch", 1, "leads per request")
	fs.StringVar(&o.input, "data", "", "`FILE` of leads, a JSON array of rows or CSV with a header row\n(a \"converted\" column is dropped); default: the embedded demo leads")
	fs.IntVar(&o.connections, "connections", loadgen.DefaultConnections, "workers and connections, the most requests in flight")
	fs.Int64Var(&o.maxRequests, "max-requests", 0, "stop after `N` requests; 0: no limit beyond --duration")
	fs.StringVar(&o.apiKey, "api-key", "", "API `key`, sent as Authorization: Bearer (default: $"+apiKeyEnv+")")
	fs.DurationVar(&o.timeout, "timeout", loadgen.DefaultTimeout, "per-request timeout, response body included")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of a table")
	fs.BoolVar(&o.search, "search", false, "search for the highest sustained rate instead of one run")
	fs.DurationVar(&o.maxP99, "max-p99", 25*time.Millisecond, "with --search, the highest p99 latency a sustained rate may have")
	fs.StringVar(&o.hgrm, "hgrm", "", "also write the latency distribution of 2xx responses to `FILE` in HdrHistogram's\npercentile format (.hgrm, milliseconds), which its plotters read; with --search,\nthat of the highest sustained rate")
	fs.deprecate("input", "data")
	if err := fs.parse(args); err != nil {
		return o, err
	}
	if o.apiKey == "" {
		// Read after parsing so that -h never prints the key.
		o.apiKey = os.Getenv(apiKeyEnv)
	}
	switch {
	case !(o.rate > 0 && o.rate <= loadgen.MaxRate):
		return o, fmt.Errorf("%w: --rate %v: want more than 0 and at most %v", errUsage, o.rate, loadgen.MaxRate)
	case o.duration < 0 || o.maxRequests < 0 || (o.duration == 0 && o.maxRequests == 0):
		return o, fmt.Errorf("%w: want a positive --duration, a positive --max-requests or both", errUsage)
	case o.batch < 1 || o.batch > 100000:
		return o, fmt.Errorf("%w: --batch %d: want 1 to 100000", errUsage, o.batch)
	case o.connections < 1 || o.connections > 10000:
		return o, fmt.Errorf("%w: --connections %d: want 1 to 10000", errUsage, o.connections)
	case o.timeout <= 0:
		return o, fmt.Errorf("%w: --timeout must be positive", errUsage)
	case o.search && o.maxP99 <= 0:
		return o, fmt.Errorf("%w: --max-p99 must be positive", errUsage)
	case strings.ContainsAny(o.apiKey, "\r\n"):
		return o, fmt.Errorf("%w: --api-key must be one line", errUsage)
	}
	return o, nil
}

// loadtestRows reads the leads to send: path, or the embedded demo leads.
func loadtestRows(path string) ([]loadgen.Row, error) {
	if path == "" {
		return loadgen.DemoRows()
	}
	f, err := os.Open(path) // #nosec G304 -- the user names the input file
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInput, err)
	}
	defer func() { _ = f.Close() }()
	rows, err := loadgen.ReadRows(f)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", errInput, path, err)
	}
	return rows, nil
}

// loadtestSearch runs a stepped search, printing each step as it ends in
// table mode and one JSON object at the end with --json.
func loadtestSearch(ctx context.Context, cfg loadgen.Config, opts loadtestOptions, stdout io.Writer) error {
	if !opts.json {
		if err := writeSearchHeader(stdout, cfg); err != nil {
			return err
		}
	}
	step := func(ctx context.Context, rate float64) (loadgen.Report, error) {
		c := cfg
		c.Rate = rate
		rep, err := loadgen.Run(ctx, c)
		if err != nil {
			return rep, fmt.Errorf("%w: %w", errUsage, err)
		}
		if !opts.json {
			if err := writeSearchStep(stdout, rep, loadgen.Sustained(rep, opts.maxP99)); err != nil {
				return rep, err
			}
		}
		return rep, nil
	}
	res, err := loadgen.Search(ctx, loadgen.SearchConfig{
		Start:  opts.rate,
		MaxP99: opts.maxP99,
		Pause:  min(opts.duration/4, 500*time.Millisecond),
	}, step)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if opts.json {
		err = writeJSON(stdout, newSearchJSON(res, opts.maxP99))
	} else {
		err = writeSearchSummary(stdout, res, opts.maxP99)
	}
	if err != nil {
		return err
	}
	if res.Best < 0 {
		return fmt.Errorf("no rate tried was sustained with p99 within %v", opts.maxP99)
	}
	return writeHgrm(opts.hgrm, res.Steps[res.Best].Report.LatencyHistogram)
}

// writeHgrm writes h to path in HdrHistogram's percentile format; nothing
// when path is empty.
func writeHgrm(path string, h *loadgen.Histogram) error {
	if path == "" {
		return nil
	}
	if h == nil {
		h = new(loadgen.Histogram)
	}
	if err := writeFileAtomic(path, h.WritePercentiles); err != nil {
		return fmt.Errorf("--hgrm %s: %w", path, err)
	}
	return nil
}

// errorSummary lists r's errors by kind, most frequent first.
func errorSummary(r loadgen.Report) string {
	if len(r.Errors) == 0 {
		return "none"
	}
	kinds := slices.SortedFunc(maps.Keys(r.Errors), func(a, b string) int {
		if d := r.Errors[b] - r.Errors[a]; d != 0 {
			if d > 0 {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s: %d", k, r.Errors[k])
	}
	return strings.Join(parts, ", ")
}

// ms formats d in milliseconds with microsecond precision.
func ms(d time.Duration) string { return fmt.Sprintf("%.3f", msFloat(d)) }

func msFloat(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// writeRunTable prints one run's report as a small table.
func writeRunTable(w io.Writer, r loadgen.Report) error {
	// tabwriter reports write errors at Flush.
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintf(tw, "url\t%s\n", r.URL)
	_, _ = fmt.Fprintf(tw, "target\t%.1f req/s, %d %s per request, %d connections\n",
		r.Rate, r.Batch, plural(r.Batch, "lead", "leads"), r.Connections)
	_, _ = fmt.Fprintf(tw, "requests\t%d scheduled, %d sent, %d ok, %d failed, %d late, %d missed\n",
		r.Scheduled, r.Sent, r.OK, r.Failed, r.Late, r.Missed)
	_, _ = fmt.Fprintf(tw, "achieved\t%.1f req/s, %.1f ok/s, %.1f leads/s over %.2fs\n",
		r.AchievedRate(), r.OKRate(), r.LeadsRate(), r.Elapsed.Seconds())
	_, _ = fmt.Fprintf(tw, "errors\t%s\n", errorSummary(r))
	if r.FirstError != "" {
		_, _ = fmt.Fprintf(tw, "first error\t%s\n", r.FirstError)
	}
	if r.Canceled {
		_, _ = fmt.Fprintf(tw, "note\tinterrupted: the report covers the requests sent until then\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintf(tw, "ms\tp50\tp90\tp99\tp99.9\tmax\tmean\t\n")
	for _, row := range []struct {
		name string
		p    loadgen.Percentiles
	}{{"latency", r.Latency}, {"send lag", r.Lag}} {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			row.name, ms(row.p.P50), ms(row.p.P90), ms(row.p.P99), ms(row.p.P999), ms(row.p.Max), ms(row.p.Mean))
	}
	return tw.Flush()
}

// searchRow lays out the table of search steps; each row is printed as its
// step ends, so the widths are fixed rather than fitted.
const searchRow = "%10s %10s %11s %7s %7s %9s %9s %10s  %s\n"

// writeSearchHeader introduces a search and heads its table of steps.
func writeSearchHeader(w io.Writer, cfg loadgen.Config) error {
	_, err := fmt.Fprintf(w, "searching %s: %d %s per request, %d connections, steps of %v\n\n"+searchRow,
		cfg.URL, cfg.Batch, plural(cfg.Batch, "lead", "leads"), cfg.Connections, cfg.Duration,
		"rate req/s", "achieved", "leads/s", "failed", "missed", "p50 ms", "p99 ms", "max ms", "sustained")
	return err
}

// writeSearchStep prints one step's row.
func writeSearchStep(w io.Writer, r loadgen.Report, sustained bool) error {
	verdict := "no"
	if sustained {
		verdict = "yes"
	}
	_, err := fmt.Fprintf(w, searchRow,
		fmt.Sprintf("%.1f", r.Rate), fmt.Sprintf("%.1f", r.AchievedRate()), fmt.Sprintf("%.1f", r.LeadsRate()),
		fmt.Sprint(r.Failed), fmt.Sprint(r.Missed),
		ms(r.Latency.P50), ms(r.Latency.P99), ms(r.Latency.Max), verdict)
	return err
}

// writeSearchSummary prints the search's outcome.
func writeSearchSummary(w io.Writer, res loadgen.SearchResult, maxP99 time.Duration) error {
	if res.Best < 0 {
		_, err := fmt.Fprintf(w, "\nno rate tried was sustained (p99 limit %v)\n", maxP99)
		return err
	}
	b := res.Steps[res.Best].Report
	_, err := fmt.Fprintf(w, "\nmax sustained rate: %.1f req/s, %.1f leads/s, p99 %sms (limit %v, %d steps)\n",
		b.Rate, b.LeadsRate(), ms(b.Latency.P99), maxP99, len(res.Steps))
	return err
}

// msJSON is a latency summary in milliseconds.
type msJSON struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func newMSJSON(p loadgen.Percentiles) msJSON {
	return msJSON{
		P50: msFloat(p.P50), P90: msFloat(p.P90), P99: msFloat(p.P99),
		P999: msFloat(p.P999), Max: msFloat(p.Max), Mean: msFloat(p.Mean),
	}
}

// runJSON is the --json form of one run's report.
type runJSON struct {
	URL          string           `json:"url"`
	TargetRate   float64          `json:"target_rate"`
	Batch        int              `json:"batch"`
	Connections  int              `json:"connections"`
	Scheduled    int64            `json:"scheduled"`
	Sent         int64            `json:"sent"`
	OK           int64            `json:"ok"`
	Failed       int64            `json:"failed"`
	Late         int64            `json:"late"`
	Missed       int64            `json:"missed"`
	Canceled     bool             `json:"canceled"`
	ElapsedS     float64          `json:"elapsed_s"`
	AchievedRate float64          `json:"achieved_rate"`
	OKRate       float64          `json:"ok_rate"`
	LeadsRate    float64          `json:"leads_rate"`
	Errors       map[string]int64 `json:"errors"`
	FirstError   string           `json:"first_error,omitempty"`
	LatencyMS    msJSON           `json:"latency_ms"`
	SendLagMS    msJSON           `json:"send_lag_ms"`
}

func newRunJSON(r loadgen.Report) runJSON {
	errs := r.Errors
	if errs == nil {
		errs = map[string]int64{}
	}
	return runJSON{
		URL: r.URL, TargetRate: r.Rate, Batch: r.Batch, Connections: r.Connections,
		Scheduled: r.Scheduled, Sent: r.Sent, OK: r.OK, Failed: r.Failed, Late: r.Late, Missed: r.Missed,
		Canceled: r.Canceled, ElapsedS: r.Elapsed.Seconds(),
		AchievedRate: r.AchievedRate(), OKRate: r.OKRate(), LeadsRate: r.LeadsRate(),
		Errors: errs, FirstError: r.FirstError,
		LatencyMS: newMSJSON(r.Latency), SendLagMS: newMSJSON(r.Lag),
	}
}

// searchJSON is the --json form of a search.
type searchJSON struct {
	MaxRate  float64          `json:"max_rate"`
	MaxP99MS float64          `json:"max_p99_ms"`
	Best     *runJSON         `json:"best"`
	Steps    []searchStepJSON `json:"steps"`
}

type searchStepJSON struct {
	Sustained bool `json:"sustained"`
	runJSON
}

func newSearchJSON(res loadgen.SearchResult, maxP99 time.Duration) searchJSON {
	out := searchJSON{MaxRate: res.MaxRate(), MaxP99MS: msFloat(maxP99), Steps: []searchStepJSON{}}
	for _, s := range res.Steps {
		out.Steps = append(out.Steps, searchStepJSON{Sustained: s.Sustained, runJSON: newRunJSON(s.Report)})
	}
	if res.Best >= 0 {
		best := out.Steps[res.Best].runJSON
		out.Best = &best
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// loadtestProgress prints the elapsed time of a run each second on stderr
// when it is a terminal; the returned function stops it.
func loadtestProgress(stderr io.Writer, opts loadtestOptions) func() {
	p := newProgress(stderr)
	if !p.on {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				p.done()
				return
			case now := <-tick.C:
				p.printf("loadtest %s: %s of %s at %.0f req/s ...", opts.url,
					now.Sub(start).Round(time.Second), opts.duration, opts.rate)
			}
		}
	}()
	return func() { close(done); <-finished }
}
