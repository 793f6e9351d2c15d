package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	lakes3 "github.com/leadscore/leadscore/lake/s3"
	"github.com/leadscore/leadscore/monitor"
	"github.com/leadscore/leadscore/monitor/report"
	"github.com/leadscore/leadscore/monitor/sns"
)

const monitorUsage = `Usage: leadscore monitor --lake DIR|s3://BUCKET/PREFIX [flags]

Checks the scored leads captured in the data lake (Parquet files in
DIR/dt=YYYY-MM-DD/hour=HH/) over a time range against a training baseline,
like a SageMaker Model Monitor data quality job, and writes to --out:

  constraint_violations.json  violations, in Model Monitor's schema
  statistics.json             the range's own statistics
  monitoring.json             the full report (as GET /v1/monitoring)
  report.html                 a readable page with a chart per feature

When the lake has ground truth (DIR/groundtruth/dt=.../hour=.../, written
by serve from POST /v1/feedback), outcomes are joined to the rows by
inference id, else lead id, and the report has a quality section
(binary_classification_metrics).

With facets (the bundle's manifest "bias", its baseline's bias.json, or
--facet), the report has a bias section: SageMaker Clarify's metrics of
each facet group against the rest, DPPL, DI and CDDPL from the predicted
labels of every row, and DCA, DCR, RD, DAR, DRR, AD and TE from the rows
the ground truth labels, each checked against its allowed range (widened
around the baseline's value) as a bias_drift_check, or "insufficient_data"
below --min-group-rows rows. With a bundle whose baseline has
attribution.json, the report has an attribution section: TreeSHAP on a
uniform sample of at most --attribution-rows rows, the features' mean
|SHAP| ranked against the baseline's by NDCG; below 0.9 is a
feature_attribution_drift_check violation naming the features that moved
most. An s3:// lake is listed with
ListObjectsV2 and its files are downloaded one at a time into a temporary
directory; credentials come from LEADSCORE_LAKE_S3_ACCESS_KEY_ID,
_SECRET_ACCESS_KEY and _SESSION_TOKEN, else the AWS default chain. Violations
go to --monitor-webhook-url and --monitor-sns-topic-arn when given; with
--monitor-alert-state, a violation that lasts from run to run is posted
once, and one that clears and returns within an hour is not posted again.
The exit
status is 0 whether or not constraints are violated, unless
--fail-on-violation is given: then it is 3 when one is.

Flags:
`

// errViolations reports violated constraints under --fail-on-violation:
// a failed check, exit status 3.
var errViolations = fmt.Errorf("%w: constraints violated", errCheck)

// runMonitor implements `leadscore monitor`.
func runMonitor(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("monitor", monitorUsage, stdout, stderr)
	lake := fs.String("lake", "", "data lake directory or s3://bucket/prefix (required)")
	s3Region := fs.String("s3-region", "", "an s3:// lake's bucket `region` (default AWS_REGION, then us-east-1)")
	s3Endpoint := fs.String("s3-endpoint", "", "S3-compatible endpoint `URL` (MinIO, Ceph, R2, ...)")
	s3PathStyle := fs.Bool("s3-path-style", false, "address S3 buckets by path (most S3-compatible stores)")
	basePath := fs.String("baseline", "", "baseline directory (statistics.json, constraints.json), or a bundle directory with a baseline (default: the embedded demo model's)")
	since := fs.Duration("since", 24*time.Hour, "how far back from --until to check")
	until := fs.String("until", "", "end of the range, RFC 3339 (default: now)")
	model := fs.String("model-name", "", "check only the rows of this model_name")
	out := fs.String("out", "monitoring", "directory to write the results to")
	webhook := fs.String("monitor-webhook-url", "", "post violations to this Slack-compatible webhook `URL` (a secret: prefer the environment variable)")
	snsTopic := fs.String("monitor-sns-topic-arn", "", "Amazon SNS topic `ARN` that also receives the violations (credentials: the AWS default chain)")
	snsRegion := fs.String("monitor-sns-region", "", "the SNS topic's `region` (default: the ARN's)")
	snsURL := fs.String("monitor-sns-endpoint", "", "SNS endpoint `URL` (a VPC endpoint or a stand-in; default AWS's)")
	alertState := fs.String("monitor-alert-state", "", "keep the alert state in this `file` between runs, so that a violation that lasts is posted once, not at every run (default: none)")
	asJSON := fs.Bool("json", false, "print the report (monitoring.json) on stdout instead of a summary")
	failOn := fs.Bool("fail-on-violation", false, "exit with status 3 when a constraint is violated")
	attrRows := fs.Int("attribution-rows", monitor.DefaultAttributionRows, "explain (TreeSHAP) a uniform sample of at most this many `rows` for attribution drift; 0: off")
	var bf biasFlags
	bf.addFlags(fs.FlagSet)
	fs.deprecate("lake-s3-region", "s3-region")
	fs.deprecate("lake-s3-endpoint", "s3-endpoint")
	fs.deprecate("lake-s3-path-style", "s3-path-style")
	fs.deprecate("webhook", "monitor-webhook-url")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *lake == "" {
		return fmt.Errorf("%w: leadscore monitor needs --lake DIR", errUsage)
	}
	if *since <= 0 {
		return fmt.Errorf("%w: --since %v: want a positive duration", errUsage, *since)
	}
	to := time.Now().UTC()
	if *until != "" {
		t, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			return fmt.Errorf("%w: --until %q: want an RFC 3339 time like 2025-06-01T00:00:00Z", errUsage, *until)
		}
		to = t.UTC()
	}
	if *attrRows < 0 || *attrRows > monitor.MaxWindowRows {
		return fmt.Errorf("%w: --attribution-rows %d: want 0 to %d", errUsage, *attrRows, monitor.MaxWindowRows)
	}
	base, tiers, b, err := openBaseline(*basePath)
	if err != nil {
		return err
	}
	biasCfg, err := bf.config(base.Features())
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	q := monitor.LakeQuery{Dir: *lake, From: to.Add(-*since), To: to, Model: *model, Bias: biasCfg}
	if b != nil {
		if q.Bias == nil {
			q.Bias = b.Manifest().Bias
		}
		if *attrRows > 0 {
			q.Attribution = monitor.LakeAttribution{Explain: b.Forest().ContributionsBatch, Features: b.FeatureNames(), Rows: *attrRows}
		}
	}
	if strings.Contains(*lake, "://") {
		store, err := openLakeS3(ctx, *lake, *s3Region, *s3Endpoint, *s3PathStyle)
		if err != nil {
			return err
		}
		q.Store = store
	}
	prog := newProgress(stderr)
	prog.printf("checking %s from %s to %s ...", *lake, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	res, err := monitor.CheckLake(ctx, q, base, monitor.Checks{}, tiers)
	prog.done()
	if err != nil {
		return lakeReadError(err)
	}
	written, err := writeMonitorOutput(*out, res)
	if err != nil {
		return err
	}
	if *asJSON {
		err = writeJSON(stdout, res.Report)
	} else {
		err = printMonitor(stdout, res, *lake, written)
	}
	if err != nil {
		return err
	}
	vs := res.Report.ConstraintViolations.Violations
	if *webhook != "" || *snsTopic != "" {
		cfg := monitor.AlertConfig{WebhookURL: *webhook, Title: "leadscore monitor " + *lake, StatePath: *alertState}
		if *snsTopic != "" {
			p, err := sns.New(ctx, sns.Config{TopicARN: *snsTopic, Region: *snsRegion, Endpoint: *snsURL})
			if err != nil {
				return fmt.Errorf("%w: --monitor-sns-topic-arn: %w", errUsage, err)
			}
			cfg.Notifiers = []monitor.Notifier{p}
		}
		a, err := monitor.NewAlerter(cfg, prometheus.NewRegistry())
		if err != nil {
			return fmt.Errorf("%w: alerts: %w", errUsage, err)
		}
		// With a state file, a run without violations clears the checks
		// that were violated, so that their return is posted again.
		if len(vs) > 0 || *alertState != "" {
			if err := a.Update(ctx, time.Now(), vs); err != nil {
				return err
			}
		}
	}
	if *failOn && len(vs) > 0 {
		return fmt.Errorf("%w: %d", errViolations, len(vs))
	}
	return nil
}

// openBaseline reads a baseline directory, or a bundle's baseline ("" is
// the embedded demo bundle). tiers are the bundle's cut-offs, zero for a
// bare baseline directory; b is the bundle, nil for a bare baseline
// directory.
func openBaseline(path string) (base *monitor.Baseline, tiers leadscore.Tiers, b *bundle.Bundle, err error) {
	if path == "demo" {
		path = ""
	}
	if path != "" && !fileExists(filepath.Join(path, bundle.ManifestFile)) {
		base, err := monitor.LoadBaseline(path)
		if err != nil {
			return nil, leadscore.Tiers{}, nil, fmt.Errorf("%w: baseline: %w", errInput, err)
		}
		return base, leadscore.Tiers{}, nil, nil
	}
	b, err = bundle.Open(path)
	if err != nil {
		return nil, leadscore.Tiers{}, nil, fmt.Errorf("%w: baseline: %w", errInput, err)
	}
	base, err = monitor.ReadBaseline(b.ReadBaseline)
	if err != nil {
		return nil, leadscore.Tiers{}, nil, fmt.Errorf("%w: baseline of %s: %w", errInput, b.Source(), err)
	}
	return base, b.Manifest().Tiers, b, nil
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// writeMonitorOutput writes a lake check's files into dir and returns
// their paths.
func writeMonitorOutput(dir string, res *monitor.LakeResult) ([]string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	var page bytes.Buffer
	if err := report.Write(&page, res.Report); err != nil {
		return nil, err
	}
	files := []struct {
		name string
		v    any
		raw  []byte
	}{
		{monitor.ViolationsFile, res.Report.ConstraintViolations, nil},
		{monitor.StatisticsFile, res.Statistics, nil},
		{"monitoring.json", res.Report, nil},
		{"report.html", nil, page.Bytes()},
	}
	var paths []string
	for _, f := range files {
		data := f.raw
		if data == nil {
			var err error
			if data, err = json.MarshalIndent(f.v, "", "  "); err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			data = append(data, '\n')
		}
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// printMonitor summarises a lake check.
func printMonitor(w io.Writer, res *monitor.LakeResult, lake string, written []string) error {
	r := res.Report
	var sb strings.Builder
	fmt.Fprintf(&sb, "read %d rows from %s of %s, event time %s to %s\n", r.Window.Rows, counted(len(res.Files), "file"), lake,
		r.Window.From.Format(time.RFC3339), r.Window.To.Format(time.RFC3339))
	if q := r.Quality; q != nil {
		fmt.Fprintf(&sb, "joined %s of %s: %d labelled rows", counted(len(res.GroundTruthFiles), "groundtruth file"), lake, q.LabeledRows)
		if m := q.BinaryClassificationMetrics; m != nil {
			fmt.Fprintf(&sb, ", AUC %.4f", float64(m.AUC.Value))
		}
		sb.WriteString("\n")
	}
	if br := r.Bias; br != nil {
		var ok, bad, short int
		for _, f := range br.Facets {
			for _, m := range f.Metrics {
				switch m.Status {
				case monitor.StatusViolation:
					bad++
				case monitor.StatusInsufficient:
					short++
				default:
					ok++
				}
			}
		}
		fmt.Fprintf(&sb, "bias: %s, positive %s: %d metrics within range, %d outside, %d with insufficient data\n",
			counted(len(br.Facets), "facet group"), br.Positive, ok, bad, short)
	}
	if a := r.Attribution; a != nil {
		fmt.Fprintf(&sb, "attribution: TreeSHAP on %d sampled rows, NDCG %.4f (threshold %.2g), %s", a.Samples,
			float64(a.NDCG), a.Threshold, a.Status)
		if a.Status == monitor.StatusViolation {
			fmt.Fprintf(&sb, "; moved most: %s", strings.Join(a.MovedMost, ", "))
		}
		sb.WriteString("\n")
	}
	vs := r.ConstraintViolations.Violations
	fmt.Fprintf(&sb, "%s\n", counted(len(vs), "violation"))
	for _, v := range vs {
		fmt.Fprintf(&sb, "  %-28s %-22s %s\n", v.FeatureName, v.ConstraintCheckType, v.Description)
	}
	fmt.Fprintf(&sb, "wrote %s\n", strings.Join(written, ", "))
	_, err := io.WriteString(w, sb.String())
	return err
}

// counted writes n and the noun, with an s unless n is 1.
func counted(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// openLakeS3 opens the lake at url (s3://bucket/prefix) for the commands
// that read it (monitor, compare, dataset). Credentials: the
// LEADSCORE_LAKE_S3_* variables, else the AWS default chain. A bad URL or
// configuration is a usage error.
func openLakeS3(ctx context.Context, url, region, endpoint string, pathStyle bool) (*lakes3.Client, error) {
	bucket, prefix, err := lakes3.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("%w: --lake: %w", errUsage, err)
	}
	store, err := lakes3.New(ctx, lakes3.Config{
		Bucket: bucket, Prefix: prefix, Region: region, Endpoint: endpoint, PathStyle: pathStyle,
		AccessKeyID:     os.Getenv("LEADSCORE_LAKE_S3_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("LEADSCORE_LAKE_S3_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("LEADSCORE_LAKE_S3_SESSION_TOKEN"),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: --lake: %w", errUsage, err)
	}
	return store, nil
}
