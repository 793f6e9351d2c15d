package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/leadscore/leadscore/dataset"
)

const datasetUsage = `Usage: leadscore dataset --lake DIR|s3://BUCKET/PREFIX --out FILE.csv|FILE.parquet [flags]

Builds the next training set from the capture lake: each lead scored in the
--since range, with its features as they were when it was scored, joined
with its outcome from POST /v1/feedback (the lake's groundtruth/) within
--label-window of its scoring, by inference id, else lead id.

One row per lead (lead_id, else inference_id): when a lead was scored more
than once, the FIRST scoring wins (the features the model saw when the lead
arrived; the label window counts from it) and the later ones are counted.
Shadow scores of a challenger are skipped. Leads still inside their label
window are left out and counted; a lead whose window ended without an
outcome is taken as not converted (--no-outcome drop leaves it out).

The file has the features, then converted (1/0), lead_id, inference_id,
event_time, model_name, model_version (the model that scored it) and
probability.
`

// days is a duration flag that also takes whole days: 30d.
type days time.Duration

func (d *days) String() string { return time.Duration(*d).String() }

func (d *days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return fmt.Errorf("%q: want a duration like 30d or 12h", s)
		}
		*d = days(v * float64(24*time.Hour))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: want a duration like 30d or 12h", s)
	}
	*d = days(v)
	return nil
}

// datasetJSON is what `dataset --json` prints.
type datasetJSON struct {
	Out          string    `json:"out"`
	Rows         int       `json:"rows"`
	Converted    int       `json:"converted"`
	Features     int       `json:"features"`
	Scored       int       `json:"scored"`
	Rescored     int       `json:"rescored"`
	Pending      int       `json:"pending_in_window"`
	NoOutcome    int       `json:"no_outcome"`
	Late         int       `json:"late_outcomes"`
	Files        int       `json:"files"`
	OutcomeFiles int       `json:"outcome_files"`
	From         time.Time `json:"from"`
	Until        time.Time `json:"until"`
	Models       []string  `json:"model_versions"`
}

func runDataset(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("dataset", datasetUsage, stdout, stderr)
	lakeDir := fs.String("lake", "", "data lake `directory` or s3://bucket/prefix (required)")
	s3Region := fs.String("s3-region", "", "an s3:// lake's bucket `region` (default AWS_REGION, then us-east-1)")
	s3Endpoint := fs.String("s3-endpoint", "", "S3-compatible endpoint `URL` (MinIO, Ceph, R2, ...)")
	s3PathStyle := fs.Bool("s3-path-style", false, "address S3 buckets by path (most S3-compatible stores)")
	since := days(30 * 24 * time.Hour)
	window := days(14 * 24 * time.Hour)
	fs.Var(&since, "since", "how far back from --until leads were scored (e.g. 30d, 12h)")
	fs.Var(&window, "label-window", "how long after its scoring a lead's outcome counts (e.g. 14d)")
	until := fs.String("until", "", "end of the range, RFC 3339 (default: now); outcomes are read up to it")
	model := fs.String("model-name", "", "only the leads scored by this model_name")
	noOutcome := fs.String("no-outcome", "negative", "a lead whose window ended without an outcome: negative (not converted) or drop")
	out := fs.String("out", "", "`file` to write: .csv or .parquet (required)")
	asJSON := fs.Bool("json", false, "print a JSON summary")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *lakeDir == "" || *out == "" {
		return fmt.Errorf("%w: leadscore dataset needs --lake DIR and --out FILE", errUsage)
	}
	if since <= 0 || window <= 0 {
		return fmt.Errorf("%w: --since and --label-window must be positive", errUsage)
	}
	if *noOutcome != "negative" && *noOutcome != "drop" {
		return fmt.Errorf("%w: --no-outcome %q: want negative or drop", errUsage, *noOutcome)
	}
	format := formatFromName(*out)
	if format != "csv" && format != "parquet" {
		return fmt.Errorf("%w: --out %s: want a .csv or .parquet file", errUsage, *out)
	}
	now := time.Now().UTC()
	if *until != "" {
		t, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			return fmt.Errorf("%w: --until %q: want an RFC 3339 time like 2025-06-01T00:00:00Z", errUsage, *until)
		}
		now = t.UTC()
	}
	ctx, stop := commandContext()
	defer stop()
	q := dataset.Query{Dir: *lakeDir, From: now.Add(-time.Duration(since)), Now: now, LabelWindow: time.Duration(window),
		Model: *model, DropNoOutcome: *noOutcome == "drop"}
	if strings.Contains(*lakeDir, "://") {
		store, err := openLakeS3(ctx, *lakeDir, *s3Region, *s3Endpoint, *s3PathStyle)
		if err != nil {
			return err
		}
		q.Store = store
	}
	prog := newProgress(stderr)
	prog.printf("reading %s ...", *lakeDir)
	set, err := dataset.Build(ctx, q)
	prog.done()
	if err != nil {
		return lakeReadError(err)
	}
	if len(set.Rows) == 0 {
		return fmt.Errorf("%w: no labelled leads in %s from %s to %s (%d scored, %d still inside the label window)",
			errInput, *lakeDir, q.From.Format(time.RFC3339), now.Format(time.RFC3339), set.Scored, set.Pending)
	}
	write := set.WriteCSV
	if format == "parquet" {
		write = set.WriteParquet
	}
	if err := writeFileAtomic(*out, write); err != nil {
		return err
	}
	sum := datasetJSON{Out: *out, Rows: len(set.Rows), Features: len(set.Features), Scored: set.Scored, Rescored: set.Rescored,
		Pending: set.Pending, NoOutcome: set.NoOutcome, Late: set.Late, Files: set.Files, OutcomeFiles: set.OutcomeFiles,
		From: q.From, Until: now}
	seen := map[string]bool{}
	for _, r := range set.Rows {
		if r.Converted {
			sum.Converted++
		}
		if mv := r.ModelName + " " + r.ModelVersion; !seen[mv] {
			seen[mv] = true
			sum.Models = append(sum.Models, mv)
		}
	}
	if *asJSON {
		return writeJSON(stdout, sum)
	}
	_, err = fmt.Fprintf(stdout, "wrote %d leads (%d converted, %d features) to %s\n"+
		"read %d scorings from %d files and outcomes from %d files of %s; first scoring wins: %d later scorings skipped\n"+
		"left out: %d leads still inside the %s label window; %d without an outcome in their window (%s)\n"+
		"scored by: %s\n",
		sum.Rows, sum.Converted, sum.Features, *out, sum.Scored, sum.Files, sum.OutcomeFiles, *lakeDir, sum.Rescored,
		sum.Pending, time.Duration(window), sum.NoOutcome, map[bool]string{true: "left out", false: "taken as not converted"}[q.DropNoOutcome],
		strings.Join(sum.Models, ", "))
	return err
}
