package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/leadscore/leadscore/monitor"
	"github.com/leadscore/leadscore/variant"
	"github.com/leadscore/leadscore/variant/report"
)

const compareUsage = `Usage: leadscore compare --lake DIR|s3://bucket/prefix --champion NAME --challenger NAME [flags]

Compares two variants over the captured data lake (docs/variants.md): the
rows each variant scored, live or shadow, are paired by inference id and
joined to the lake's groundtruth/ outcomes by inference id, else lead id.
Reports each variant's live share, latency percentiles and tier
distribution; on the leads both scored the rank correlation, tier
agreement, 5x5 tier confusion and mean shift; with outcomes each one's AUC,
precision and recall per tier cut-off and conversion per tier, the AUC
difference with DeLong's 95% interval, and a verdict. Writes to --out:

  compare.json   the comparison (the shape of GET /v1/variants' report)
  report.html    a self-contained page

The verdict is the last line printed. Exit status 0 whatever it is.
`

// runCompare implements `leadscore compare`.
func runCompare(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("compare", compareUsage, stdout, stderr)
	lakeDir := fs.String("lake", "", "data lake directory or s3://bucket/prefix (required)")
	s3Region := fs.String("s3-region", "", "an s3:// lake's bucket `region` (default AWS_REGION, then us-east-1)")
	s3Endpoint := fs.String("s3-endpoint", "", "S3-compatible endpoint `URL` (MinIO, Ceph, R2, ...)")
	s3PathStyle := fs.Bool("s3-path-style", false, "address S3 buckets by path (most S3-compatible stores)")
	since := fs.Duration("since", 24*time.Hour, "how far back from --until to compare")
	until := fs.String("until", "", "end of the range, RFC 3339 (default: now)")
	champion := fs.String("champion", "", "the champion variant's `name` (required)")
	challenger := fs.String("challenger", "", "the challenger variant's `name` (required)")
	out := fs.String("out", "compare", "`directory` to write compare.json and report.html to")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case *lakeDir == "":
		return fmt.Errorf("%w: leadscore compare needs --lake DIR", errUsage)
	case !variant.ValidName(*champion) || !variant.ValidName(*challenger):
		return fmt.Errorf("%w: --champion and --challenger must name variants (1-%d letters, digits, '-', '_' or '.'), got %q and %q",
			errUsage, variant.MaxNameLength, *champion, *challenger)
	case *champion == *challenger:
		return fmt.Errorf("%w: --champion and --challenger are both %q", errUsage, *champion)
	case *since <= 0:
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	q := monitor.LakeQuery{Dir: *lakeDir, From: to.Add(-*since), To: to}
	if strings.Contains(*lakeDir, "://") {
		store, err := openLakeS3(ctx, *lakeDir, *s3Region, *s3Endpoint, *s3PathStyle)
		if err != nil {
			return err
		}
		q.Store = store
	}
	t := newLakeComparison(*champion, *challenger)
	read, err := monitor.ReadScores(ctx, q, t.add)
	if err != nil {
		return fmt.Errorf("%w: %w", errInput, err)
	}
	for i, n := range t.names {
		if t.rows[i] == 0 {
			return fmt.Errorf("%w: no rows of variant %q in %s between %s and %s (%d rows read)", errInput,
				n, *lakeDir, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), read.Rows)
		}
	}
	rep := variant.Compare(t.table())
	meta := report.Meta{Lake: *lakeDir, From: q.From, To: q.To, Rows: read.Rows, Files: len(read.Files), Generated: time.Now().UTC()}
	written, err := writeCompareOutput(*out, rep, meta)
	if err != nil {
		return err
	}
	return printCompare(stdout, rep, t, read, written)
}

// lakeComparison gathers the two variants' rows of the lake.
type lakeComparison struct {
	names   [2]string
	rows    [2]int64
	traffic [2]variant.Traffic
	leads   map[string]*variant.Lead // by inference id
}

func newLakeComparison(champion, challenger string) *lakeComparison {
	return &lakeComparison{names: [2]string{champion, challenger}, leads: map[string]*variant.Lead{}}
}

// add takes one lake row.
func (c *lakeComparison) add(r *monitor.ScoredRow) {
	v := -1
	for i, n := range c.names {
		if r.Variant == n {
			v = i
		}
	}
	if v < 0 || r.InferenceID == "" {
		return
	}
	c.rows[v]++
	tr := &c.traffic[v]
	if r.Shadow {
		tr.Shadow++
	} else {
		tr.Leads++
		tr.Latencies = append(tr.Latencies, r.LatencyMS)
		if r.Tier >= 1 && r.Tier <= 5 {
			tr.Tiers[r.Tier-1]++
		}
	}
	l := c.leads[r.InferenceID]
	if l == nil {
		l = &variant.Lead{Prob: []float64{math.NaN(), math.NaN()}, Tier: []int{0, 0}, Outcome: -1}
		c.leads[r.InferenceID] = l
	}
	l.Prob[v], l.Tier[v] = r.Probability, r.Tier
	if r.Outcome >= 0 {
		l.Outcome = r.Outcome
	}
}

func (c *lakeComparison) table() *variant.Table {
	t := &variant.Table{Names: c.names[:], Champion: 0, Traffic: c.traffic[:], Leads: make([]variant.Lead, 0, len(c.leads))}
	for _, l := range c.leads {
		t.Leads = append(t.Leads, *l)
	}
	return t
}

// writeCompareOutput writes compare.json and report.html into dir.
func writeCompareOutput(dir string, rep *variant.Report, meta report.Meta) ([]string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(struct {
		*variant.Report
		Lake  string    `json:"lake"`
		From  time.Time `json:"from"`
		To    time.Time `json:"to"`
		Rows  int64     `json:"rows_read"`
		Files int       `json:"files_read"`
	}{rep, meta.Lake, meta.From, meta.To, meta.Rows, meta.Files}, "", "  ")
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	if err := report.Write(&page, rep, meta); err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range []struct {
		name string
		data []byte
	}{{"compare.json", append(data, '\n')}, {"report.html", page.Bytes()}} {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o600); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// printCompare summarises a comparison; the verdict is the last line.
func printCompare(w io.Writer, rep *variant.Report, c *lakeComparison, read *monitor.ScoresRead, written []string) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "read %d rows from %s (%s)\n", read.Rows, counted(len(read.Files), "file"), counted(len(read.GroundTruthFiles), "groundtruth file"))
	for i, v := range rep.Variants {
		auc := "no outcomes"
		if v.Quality != nil {
			auc = fmt.Sprintf("AUC %.4f on %d leads with outcomes", float64(v.Quality.AUC), v.Quality.Leads)
		}
		fmt.Fprintf(&sb, "%-12s %d rows: %d live, %d shadow; %s\n", v.Name, c.rows[i], v.Leads, v.Shadow, auc)
	}
	fmt.Fprintf(&sb, "wrote %s\n", strings.Join(written, ", "))
	for _, cmp := range rep.Comparisons {
		fmt.Fprintf(&sb, "%s\n", cmp.Summary)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
