package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore/internal/testutil"
)

// feedbackBody is a /v1/feedback array of n outcomes, outcome i with
// inference id prefix-i and the time at(i).
func feedbackBody(n int, prefix string, at func(i int) time.Time) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"inference_id":"%s-%d","converted":%d,"time":"%s"}`, prefix, i, i%2, at(i).UTC().Format(time.RFC3339))
	}
	sb.WriteByte(']')
	return sb.String()
}

// groundTruthFiles lists the Parquet files and the partition folders
// under the lake's groundtruth/.
func groundTruthFiles(t *testing.T, lake string) (files, partitions []string) {
	t.Helper()
	root := filepath.Join(lake, "groundtruth")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) && p == root {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir() && strings.HasPrefix(d.Name(), "hour="):
			partitions = append(partitions, rel)
		case !d.IsDir() && strings.HasSuffix(p, ".parquet"):
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, partitions
}

// wantFieldError checks a 4xx JSON error with code naming field.
func wantFieldError(t *testing.T, what string, r response, status int, code, field string) apiErrorBody {
	t.Helper()
	var e apiErrorBody
	if r.status != status || json.Unmarshal(r.body, &e) != nil || e.Error.Code != code || e.Error.Field != field {
		t.Errorf("%s: %d %s, want %d %s naming %q", what, r.status, firstLine(r.body), status, code, field)
	}
	return e
}

// testHostileOutcomeWindow is finding 4 through the binary: one 139 KB
// feedback request with 2,000 outcomes at times from year 0001 to 9999
// used to create 2,000 partition folders and 2,000 Parquet files. Now a
// time outside [received - --max-outcome-age, received + --max-outcome-skew]
// is a 422 naming the field, nothing of the request is stored, and
// 2,000 outcomes spread over the whole allowed window land in the
// partition of the time they were received: a handful of files. The
// window's flags work from the command line, LEADSCORE_* and the config
// file alike.
func testHostileOutcomeWindow(t *testing.T, bin string) {
	lake := t.TempDir()
	s := startServer(t, bin, []string{"LEADSCORE_LAKE_DIR=" + lake}, "--lake-roll-age", "200ms")
	const n = 2000
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	spread := func(from, to time.Time) func(int) time.Time {
		return func(i int) time.Time { return from.Add(time.Duration(float64(to.Sub(from)) * float64(i) / (n - 1))) }
	}
	// Years 0001 to 9999, as the finding sent them; and the same reversed,
	// so that the first refused outcome is one in the future.
	body := feedbackBody(n, "era", func(i int) time.Time {
		y := 1 + i*9998/(n-1)
		return time.Date(y, time.Month(1+i%12), 1+i%28, i%24, 0, 0, 0, time.UTC)
	})
	t.Logf("feedback body of %d outcomes from %s to %s: %d bytes", n, first.Format("2006"), last.Format("2006"), len(body))
	e := wantFieldError(t, "years 0001 to 9999", send(t, nil, "POST", s.url+"/v1/feedback", "application/json", body),
		http.StatusUnprocessableEntity, "invalid_value", "[0].time")
	if !strings.Contains(e.Error.Message, "0001-01-01") || !strings.Contains(e.Error.Message, "received - 1830 days") {
		t.Errorf("message %q: want the time and the window", e.Error.Message)
	}
	wantFieldError(t, "years 9999 to 0001", send(t, nil, "POST", s.url+"/v1/feedback", "application/json",
		feedbackBody(n, "rev", spread(last, first))), http.StatusUnprocessableEntity, "invalid_value", "[0].time")
	wantFieldError(t, "one hour and a minute ahead", send(t, nil, "POST", s.url+"/v1/feedback", "application/json",
		feedbackBody(1, "ahead", func(int) time.Time { return time.Now().Add(61 * time.Minute) })),
		http.StatusUnprocessableEntity, "invalid_value", "[0].time")

	// Inside the window: from 5 years (of 366 days) back, less a day for
	// the clocks, to 59 minutes ahead.
	now := time.Now()
	in := feedbackBody(n, "in", spread(now.Add(-5*366*24*time.Hour+24*time.Hour), now.Add(59*time.Minute)))
	r := send(t, nil, "POST", s.url+"/v1/feedback", "application/json", in)
	var res struct {
		Accepted int  `json:"accepted"`
		Stored   bool `json:"stored"`
	}
	if r.json(t, &res); r.status != 200 || res.Accepted != n || !res.Stored {
		t.Fatalf("%d outcomes inside the window: %d %s", n, r.status, firstLine(r.body))
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	files, parts := groundTruthFiles(t, lake)
	t.Logf("%d outcomes over 5 years made %d file(s) in %d partition(s): %v", n, len(files), len(parts), files)
	// The outcomes' received time decides: one hour partition, two if the
	// hour turned meanwhile, and a file per roll.
	if len(parts) > 2 || len(files) > 3 || len(files) == 0 {
		t.Errorf("%d files in %d partitions, want at most 3 files in at most 2 partitions", len(files), len(parts))
	}
	if got := lakeRows(t, filepath.Join(lake, "groundtruth")); got != n {
		t.Errorf("groundtruth holds %d outcomes, want the %d accepted (none of the refused requests)", got, n)
	}

	// The window from the environment and the config file.
	cfg := filepath.Join(t.TempDir(), "serve.json")
	if err := os.WriteFile(cfg, []byte(`{"max_outcome_skew": "1m"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, bin, []string{"LEADSCORE_MAX_OUTCOME_AGE=48h", "LEADSCORE_CONFIG=" + cfg})
	post := func(d time.Duration) response {
		return send(t, nil, "POST", s2.url+"/v1/feedback", "application/json",
			feedbackBody(1, "w", func(int) time.Time { return time.Now().Add(d) }))
	}
	e = wantFieldError(t, "3 days old under LEADSCORE_MAX_OUTCOME_AGE=48h", post(-72*time.Hour),
		http.StatusUnprocessableEntity, "invalid_value", "[0].time")
	if !strings.Contains(e.Error.Message, "[received - 2 days, received + 1m0s]") {
		t.Errorf("message %q: want the configured window", e.Error.Message)
	}
	wantFieldError(t, "5 minutes ahead under max_outcome_skew 1m", post(5*time.Minute),
		http.StatusUnprocessableEntity, "invalid_value", "[0].time")
	if r := post(-24 * time.Hour); r.status != 200 {
		t.Errorf("1 day old under a 48h window: %d %s", r.status, firstLine(r.body))
	}
}

// metricValue reads one sample of the server's /metrics: the line that
// starts with series (a name, or a name with its labels), 0 when absent.
func metricValue(t *testing.T, url, series string) float64 {
	t.Helper()
	r := send(t, nil, "GET", url+"/metrics", "", "")
	for _, line := range strings.Split(string(r.body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %q", series, line)
			}
			return v
		}
	}
	return 0
}

// padID returns an id of exactly n bytes: prefix, then "é" (two bytes of
// UTF-8 each) when wide, else "x", so the longest ids are both ASCII and
// multi-byte.
func padID(prefix string, n int, wide bool) string {
	pad := n - len(prefix)
	if !wide {
		return prefix + strings.Repeat("x", pad)
	}
	return prefix + strings.Repeat("é", pad/2) + strings.Repeat("x", pad%2)
}

// maxLeadsBody is a /score body of rows leads cycling through the
// fixture's rows, each with a lead id of exactly maxLeadID bytes named
// after prefix, padded with whitespace to size bytes (0: no padding). It
// returns the body and the lead ids.
func maxLeadsBody(f fixture, prefix string, rows, size int) (string, []string) {
	var sb strings.Builder
	ids := make([]string, rows)
	sb.WriteString(`{"leads":[`)
	for i := range rows {
		if i > 0 {
			sb.WriteByte(',')
		}
		ids[i] = padID(fmt.Sprintf("%s-%05d-", prefix, i), maxLeadID, i%2 == 1)
		id, _ := json.Marshal(ids[i])
		sb.WriteString(`{"id":`)
		sb.Write(id)
		sb.WriteString(`,"features":{`)
		first := true
		for j, v := range f.Rows[i%len(f.Rows)] {
			if v == nil {
				continue
			}
			if !first {
				sb.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&sb, `"%s":%s`, f.Names[j], strconv.FormatFloat(*v, 'g', -1, 64))
		}
		sb.WriteString(`}}`)
	}
	sb.WriteString(`]`)
	if pad := size - sb.Len() - 1; pad > 0 {
		sb.WriteString(strings.Repeat(" ", pad))
	}
	sb.WriteString(`}`)
	return sb.String(), ids
}

// Default limits the memory bound test sends at.
const (
	maxLeadID      = 256     // --max-lead-id-bytes
	maxInferenceID = 128     // --max-inference-id-length
	maxBody        = 6 << 20 // --max-body
	maxBatch       = 1000    // --max-batch
	memoryBound    = 200 << 20
)

// rssSampler polls a process's VmRSS every few milliseconds and keeps the
// peak.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	peak atomic.Int64
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := vmRSS(pid); err == nil && rss > s.peak.Load() {
				s.peak.Store(rss)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) close() int64 {
	close(s.stop)
	<-s.done
	return s.peak.Load()
}

// hostileRound is what one round of the memory bound test's hostile
// sequence had acknowledged.
type hostileRound struct {
	leads    []string // lead ids of the rows answered 200
	rows     int      // rows answered 200 (CSV and V2 rows have no lead id)
	outcomes int      // outcomes answered 200
}

// runHostileSequence sends one round of the mixed hostile sequence at the
// default limits: max-size /score bodies of max batches with the longest
// allowed lead and inference ids, max CSV batches on /invocations and V2
// batches with the longest ids, bodies one byte over the limit, ids over
// their limits, and 10,000 feedback outcomes spread over the allowed
// window.
func runHostileSequence(t *testing.T, url string, f fixture, round int) hostileRound {
	t.Helper()
	var got hostileRound
	const j = "application/json"
	infID := func(kind string, i int) string {
		return padID(fmt.Sprintf("r%d-%s-%d-", round, kind, i), maxInferenceID, false)
	}
	for i := range 8 {
		body, ids := maxLeadsBody(f, fmt.Sprintf("r%d-q%d", round, i), maxBatch, maxBody)
		if len(body) != maxBody {
			t.Fatalf("body of %d bytes, want %d", len(body), maxBody)
		}
		r := send(t, nil, "POST", url+"/score", j, body, "X-Amzn-SageMaker-Inference-Id", infID("score", i))
		if r.status != 200 {
			t.Fatalf("max-size /score body: %d %s", r.status, firstLine(r.body))
		}
		got.leads = append(got.leads, ids...)
		got.rows += len(ids)
	}
	var csv strings.Builder
	for i := range maxBatch {
		row := f.Rows[i%len(f.Rows)]
		for k, v := range row {
			if k > 0 {
				csv.WriteByte(',')
			}
			if v != nil {
				csv.WriteString(strconv.FormatFloat(*v, 'g', -1, 64))
			}
		}
		csv.WriteByte('\n')
	}
	for i := range 2 {
		if r := send(t, nil, "POST", url+"/invocations", "text/csv", csv.String(), "X-Amzn-SageMaker-Inference-Id", infID("csv", i)); r.status != 200 {
			t.Fatalf("max CSV batch: %d %s", r.status, firstLine(r.body))
		}
		got.rows += maxBatch
	}
	data, _ := json.Marshal(func() []any {
		var flat []any
		for i := range maxBatch {
			for _, v := range f.Rows[i%len(f.Rows)] {
				if v == nil {
					flat = append(flat, nil)
				} else {
					flat = append(flat, *v)
				}
			}
		}
		return flat
	}())
	v2 := fmt.Sprintf(`{"id":%q,"inputs":[{"name":"input-0","shape":[%d,%d],"datatype":"FP32","data":%s}]}`,
		infID("v2", 0), maxBatch, len(f.Names), data)
	if r := send(t, nil, "POST", url+"/v2/models/lead-demo/infer", j, v2); r.status != 200 {
		t.Fatalf("max V2 batch: %d %s", r.status, firstLine(r.body))
	}
	got.rows += maxBatch

	// Refused: over the body limit, ids over their limits (none of them
	// acknowledged, none may reach the lake).
	over, _ := maxLeadsBody(f, fmt.Sprintf("r%d-over", round), maxBatch, maxBody+1)
	if r := send(t, nil, "POST", url+"/score", j, over); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("body one byte over --max-body: %d %s", r.status, firstLine(r.body))
	}
	for i := range 4 {
		huge := `{"leads":[{"id":"` + strings.Repeat("y", 5<<20) + `","features":{}}]}`
		wantIDError(t, "5 MiB lead id", send(t, nil, "POST", url+"/score", j, huge), "id")
		wantIDError(t, "60 KB inference id", send(t, nil, "POST", url+"/invocations", "text/csv", csv.String(),
			"X-Amzn-SageMaker-Inference-Id", strings.Repeat("z", 60<<10+i)), "X-Amzn-SageMaker-Inference-Id")
	}

	// 10,000 outcomes (the most one request may carry) with the longest
	// inference ids, spread over the whole allowed window.
	now := time.Now()
	from, to := now.Add(-5*366*24*time.Hour+24*time.Hour), now.Add(59*time.Minute)
	var fb strings.Builder
	fb.WriteByte('[')
	const outcomes = 10000
	for i := range outcomes {
		if i > 0 {
			fb.WriteByte(',')
		}
		at := from.Add(time.Duration(float64(to.Sub(from)) * float64(i) / (outcomes - 1)))
		fmt.Fprintf(&fb, `{"inference_id":%q,"converted":%d,"time":%q}`, infID("fb", i), i%2, at.UTC().Format(time.RFC3339))
	}
	fb.WriteByte(']')
	r := send(t, nil, "POST", url+"/v1/feedback", j, fb.String())
	if r.status != 200 {
		t.Fatalf("10,000 outcomes: %d %s", r.status, firstLine(r.body))
	}
	got.outcomes += outcomes
	return got
}

// testHostileMemoryBound is issue 10's memory bound through the binary at
// the default limits (a short roll age aside, to see the lake roll): two
// rounds of the mixed hostile sequence, each followed by the lake rolling
// every row into closed files. The server's VmRSS stays under 200 MiB
// throughout (sampled every 5 ms), and after the second round and its
// roll it is no higher than after the first (plus slack for the
// allocator): nothing a request sent stays behind. Then the lake is read
// back: with DuckDB (lakecheck/count.mjs; LEADSCORE_DUCKDB=1 makes it
// required) every file reads, and in Go, the rows equal the rows
// acknowledged, each acknowledged lead id exactly once.
func testHostileMemoryBound(t *testing.T, bin string) {
	f := loadFixture(t)
	lake := t.TempDir()
	s := startServer(t, bin, []string{"LEADSCORE_LAKE_DIR=" + lake}, "--lake-roll-age", "500ms")
	pid := s.cmd.Process.Pid
	start, err := vmRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	sampler := sampleRSS(pid)
	var rounds []hostileRound
	var settled []int64
	written := 0.0
	for round := range 2 {
		t0 := time.Now()
		rd := runHostileSequence(t, s.url, f, round)
		rounds = append(rounds, rd)
		sent := time.Since(t0)
		// The lake rolls: every acknowledged row in a closed file.
		want := written + float64(rd.rows)
		testutil.Eventually(t, 20*time.Second, "the lake to roll every row into closed files", func() bool {
			return metricValue(t, s.url, "leadscore_capture_records_written_total") >= want
		})
		written = want
		time.Sleep(time.Second) // the runtime returns freed memory in the background
		rss, err := vmRSS(pid)
		if err != nil {
			t.Fatal(err)
		}
		settled = append(settled, rss)
		t.Logf("round %d: %d rows and %d outcomes acknowledged in %v; VmRSS %d MiB after the roll (peak so far %d MiB)",
			round, rd.rows, rd.outcomes, sent.Round(time.Millisecond), rss>>20, sampler.peak.Load()>>20)
	}
	peak := sampler.close()
	t.Logf("VmRSS: %d MiB at start, %d MiB peak, %d MiB after round 0's roll, %d MiB after round 1's roll (bound %d MiB)",
		start>>20, peak>>20, settled[0]>>20, settled[1]>>20, memoryBound>>20)
	if peak > memoryBound {
		t.Errorf("VmRSS peaked at %d MiB, want under %d MiB", peak>>20, memoryBound>>20)
	}
	if settled[1] > settled[0]+16<<20 {
		t.Errorf("VmRSS keeps growing: %d MiB after the first round's roll, %d MiB after the second's", settled[0]>>20, settled[1]>>20)
	}
	if dropped := metricValue(t, s.url, `leadscore_capture_dropped_total{reason="queue_full"}`); dropped != 0 {
		t.Errorf("capture dropped %v records (queue_full)", dropped)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	checkLakeModes(t, lake)
	checkHostileLake(t, lake, rounds)
}

// checkHostileLake reads the lake after the hostile sequence: every file
// reads in DuckDB, and the prediction rows equal the rows acknowledged,
// each acknowledged lead id once.
func checkHostileLake(t *testing.T, lake string, rounds []hostileRound) {
	t.Helper()
	var rows, outcomes int
	want := map[string]int{}
	for _, r := range rounds {
		rows += r.rows
		outcomes += r.outcomes
		for _, id := range r.leads {
			want[id]++
		}
	}
	got := leadIDCounts(t, filepath.Join(lake, "predictions"))
	total := 0
	for id, n := range got {
		total += n
		if id != "" && want[id] != n {
			t.Errorf("lead id %.24s... is in the lake %d times, acknowledged %d times", id, n, want[id])
		}
	}
	for id := range want {
		if got[id] == 0 {
			t.Errorf("acknowledged lead id %.24s... is not in the lake", id)
		}
	}
	if total != rows {
		t.Errorf("the lake holds %d prediction rows, %d were acknowledged", total, rows)
	}
	if n := lakeRows(t, filepath.Join(lake, "groundtruth")); n != int64(outcomes) {
		t.Errorf("the lake holds %d outcomes, %d were acknowledged", n, outcomes)
	}
	t.Logf("parquet-go: %d prediction rows (%d acknowledged, %d with a lead id), %d outcomes", total, rows, len(want), outcomes)

	out, ok := runLakeCount(t, lake)
	if !ok {
		return
	}
	if len(out.Unreadable) > 0 {
		t.Errorf("DuckDB cannot read %d lake file(s): %+v", len(out.Unreadable), out.Unreadable)
	}
	if out.Predictions.Rows != rows || out.Predictions.LeadIDs != len(want) || out.GroundTruth.Rows != outcomes {
		t.Errorf("DuckDB reads %+v / %+v; want %d prediction rows, %d lead ids, %d outcomes",
			out.Predictions, out.GroundTruth, rows, len(want), outcomes)
	}
	t.Logf("DuckDB: %d files read one by one; %d prediction rows, %d distinct lead ids, %d outcomes",
		len(out.Files), out.Predictions.Rows, out.Predictions.LeadIDs, out.GroundTruth.Rows)
}

// leadIDCounts counts the rows of the Parquet files under dir by lead id
// ("" for rows without one).
func leadIDCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	walkParquet(t, dir, func(p string, pf *parquet.File) {
		for id, n := range leadIDsOf(t, p, pf) {
			counts[id] += n
		}
	})
	return counts
}

// leadIDsOf counts one Parquet file's rows by lead id ("" for rows
// without one).
func leadIDsOf(t *testing.T, name string, pf *parquet.File) map[string]int {
	t.Helper()
	counts := map[string]int{}
	col, ok := pf.Schema().Lookup("lead_id")
	if !ok {
		t.Fatalf("%s has no lead_id column", name)
	}
	vals := make([]parquet.Value, 4096)
	for _, rg := range pf.RowGroups() {
		pages := rg.ColumnChunks()[col.ColumnIndex].Pages()
		for {
			pg, err := pages.ReadPage()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("%s: %v", name, err)
				}
				break
			}
			rd := pg.Values()
			for {
				n, err := rd.ReadValues(vals)
				for _, v := range vals[:n] {
					if v.IsNull() {
						counts[""]++
					} else {
						counts[string(v.ByteArray())]++
					}
				}
				if err != nil {
					break
				}
			}
			parquet.Release(pg)
		}
		_ = pages.Close()
	}
	if total := sumCounts(counts); int64(total) != pf.NumRows() {
		t.Fatalf("%s: read %d lead ids of %d rows", name, total, pf.NumRows())
	}
	return counts
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// lakeCount is lakecheck/count.mjs's answer.
type lakeCount struct {
	Files []struct {
		Path string `json:"path"`
		Rows int    `json:"rows"`
	} `json:"files"`
	Unreadable []struct {
		Path  string `json:"path"`
		Error string `json:"error"`
	} `json:"unreadable"`
	Predictions struct {
		Rows         int `json:"rows"`
		LeadIDs      int `json:"lead_ids"`
		InferenceIDs int `json:"inference_ids"`
	} `json:"predictions"`
	GroundTruth struct {
		Rows int `json:"rows"`
	} `json:"groundtruth"`
}

// runLakeCount reads the lake with DuckDB (lakecheck/count.mjs). Without
// node or lakecheck's packages it logs why and returns false, unless
// LEADSCORE_DUCKDB=1 (scripts/test.sh) makes that a failure.
func runLakeCount(t *testing.T, lake string) (lakeCount, bool) {
	t.Helper()
	dir := filepath.Join("..", "..", "lakecheck")
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api", "package.json")); err != nil || serr != nil {
		if os.Getenv("LEADSCORE_DUCKDB") == "1" {
			t.Fatal("the DuckDB read-back needs node and lakecheck/node_modules (npm ci --prefix lakecheck)")
		}
		t.Log("DuckDB read-back not run: node or lakecheck/node_modules missing (npm ci --prefix lakecheck; LEADSCORE_DUCKDB=1 makes this a failure)")
		return lakeCount{}, false
	}
	script, _ := filepath.Abs(filepath.Join(dir, "count.mjs"))
	cmd := exec.Command(node, script, lake) //nolint:gosec // G204: node on the test's own lake
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	var out lakeCount
	if jerr := json.Unmarshal(raw, &out); jerr != nil {
		t.Fatalf("lakecheck/count.mjs: %v %v\n%s%s", err, jerr, raw, stderr.String())
	}
	return out, true
}

// checkLakeModes checks the modes SECURITY.md promises for the local lake:
// directories at most 0750, journal files (segments, the lock) at most
// 0600, Parquet files at most 0640 (the umask may take more away, never
// add). The lake's root is the test's own directory and is skipped.
func checkLakeModes(t *testing.T, lake string) {
	t.Helper()
	var dirs, journal, files int
	err := filepath.WalkDir(lake, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == lake {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode().Perm()
		rel, _ := filepath.Rel(lake, p)
		var most fs.FileMode
		switch {
		case d.IsDir():
			most = 0o750
			dirs++
		case strings.HasPrefix(rel, "_journal"+string(filepath.Separator)):
			most = 0o600
			journal++
		case strings.HasSuffix(p, ".parquet") || strings.HasSuffix(p, ".parquet.tmp"):
			most = 0o640
			files++
		default:
			return nil
		}
		if mode&^most != 0 {
			t.Errorf("%s has mode %#o, want at most %#o", rel, mode, most)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if dirs == 0 || journal+files == 0 {
		t.Errorf("checked %d directories, %d journal and %d Parquet files: nothing to check", dirs, journal, files)
	}
}

// testHostileLakeOff: SECURITY.md tells operators who need no lead ids in
// a lake to turn capture off. With --lake=false nothing reaches the lake
// directory, scored leads nor outcomes, and /v1/feedback says the outcomes
// were not stored.
func testHostileLakeOff(t *testing.T, bin string) {
	lake := filepath.Join(t.TempDir(), "lake")
	s := startServer(t, bin, []string{"LEADSCORE_LAKE_DIR=" + lake}, "--lake=false")
	if r := send(t, nil, "POST", s.url+"/score", "application/json", `{"leads":[{"id":"lake-off-1","features":{"demo_requested":1}}]}`); r.status != 200 {
		t.Fatalf("score: %d %s", r.status, r.body)
	}
	r := send(t, nil, "POST", s.url+"/v1/feedback", "application/json", `{"lead_id":"lake-off-1","converted":1}`)
	var res struct {
		Stored bool `json:"stored"`
	}
	if r.json(t, &res); r.status != 200 || res.Stored {
		t.Errorf("feedback with the lake off: %d %s, want 200 with stored false", r.status, r.body)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(lake); !os.IsNotExist(err) {
		t.Errorf("--lake=false: the lake directory exists (%v)", err)
	}
}

// testHostileIdleTimeout: --idle-timeout closes a keep-alive connection
// left idle, so idle clients cannot hold connections open (SECURITY.md,
// "Limits against abuse").
func testHostileIdleTimeout(t *testing.T, bin string) {
	s := startServer(t, bin, nil, "--idle-timeout", "300ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(conn)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := rd.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("the idle connection: %v, want the server to close it", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closed after %v idle, with --idle-timeout 300ms", d)
	}
}
