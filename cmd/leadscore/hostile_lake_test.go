package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
