package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leadscore/leadscore/internal/testutil"
)

// alertSink counts what the webhook and the SNS stand-in receive.
type alertSink struct {
	mu      sync.Mutex
	hook    []string
	sns     []string
	hookSrv *httptest.Server
	snsSrv  *httptest.Server
}

func newAlertSink(t *testing.T) *alertSink {
	t.Helper()
	a := &alertSink{}
	a.hookSrv = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		_, _ = bufio.NewReader(r.Body).WriteTo(&b)
		a.mu.Lock()
		a.hook = append(a.hook, b.String())
		a.mu.Unlock()
	}))
	// A stand-in for SNS speaking the query protocol's Publish action.
	a.snsSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil || r.Form.Get("Action") != "Publish" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.sns = append(a.sns, r.Form.Get("Subject")+"\n"+r.Form.Get("Message"))
		n := len(a.sns)
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-%d</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`, n)
	}))
	t.Cleanup(func() { a.hookSrv.Close(); a.snsSrv.Close() })
	return a
}

func (a *alertSink) counts() (hook, sns int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.hook), len(a.sns)
}

// leadRows reads rows [lo, hi) of a lead-demo CSV as JSON arrays of the
// 50 features (null for missing).
func leadRows(t *testing.T, file string, lo, hi int) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "lead-demo", file))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")[1:]
	var out []string
	for _, l := range lines[lo:hi] {
		f := strings.Split(l, ",")[:50]
		for i, v := range f {
			if v == "" {
				f[i] = "null"
			}
		}
		out = append(out, "["+strings.Join(f, ",")+"]")
	}
	return out
}

// scoreRows posts rows 100 at a time.
func scoreRows(t *testing.T, url string, rows []string) {
	t.Helper()
	for i := 0; i < len(rows); i += 100 {
		r := send(t, nil, "POST", url+"/score", "application/json", "["+strings.Join(rows[i:min(i+100, len(rows))], ",")+"]")
		if r.status != http.StatusOK {
			t.Fatalf("score: %d %s", r.status, r.body)
		}
	}
}

var (
	suppressedRE  = regexp.MustCompile(`leadscore_monitor_alerts_total\{result="suppressed"\} (\d+)`)
	evaluationsRE = regexp.MustCompile(`leadscore_monitor_evaluations_total (\d+)`)
)

// metricValue waits until the service's /metrics has pattern's value at
// least want.
func waitMetric(t *testing.T, url string, re *regexp.Regexp, want int) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, fmt.Sprintf("%s >= %d in /metrics", re, want), func() bool {
		r := send(t, nil, "GET", url+"/metrics", "", "")
		if m := re.FindSubmatch(r.body); m != nil {
			if n, _ := strconv.Atoi(string(m[1])); n >= want {
				return true
			}
		}
		return false
	})
}

// postedChecks maps each check (the text of a message line before its
// first colon: feature, check type, facet group and metric) to the
// number of messages that listed it.
func postedChecks(msgs []string) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		for _, l := range strings.Split(m, "\n")[1:] {
			if c, ok := strings.CutPrefix(l, "- "); ok {
				out[strings.SplitN(c, ":", 2)[0]]++
			}
		}
	}
	return out
}

// hookTexts are the webhook's messages and the SNS stand-in's, as text.
func (a *alertSink) texts(t *testing.T) (hook, sns []string) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, raw := range a.hook {
		var m struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("webhook body %s: %v", raw, err)
		}
		hook = append(hook, m.Text)
	}
	for _, m := range a.sns {
		_, text, _ := strings.Cut(m, "\n") // subject, then the message
		sns = append(sns, text)
	}
	return hook, sns
}

// settle waits until neither channel has received anything for quiet.
func (a *alertSink) settle(t *testing.T, quiet time.Duration) {
	t.Helper()
	h, n := a.counts()
	last := time.Now()
	testutil.Eventually(t, 30*time.Second, "the alerts to settle", func() bool {
		if h2, n2 := a.counts(); h2 != h || n2 != n {
			h, n, last = h2, n2, time.Now()
		}
		return time.Since(last) >= quiet
	})
}

// TestAlertsOnceAcrossRestart runs the real binary with a Slack-style
// webhook and an SNS topic (a stand-in on 127.0.0.1, through the real
// SDK): a violated check is posted once to each channel, not again while
// it lasts, not again when it clears and returns within the cool-down, and
// not again after a restart, which reads the alert state back.
//
// The property is per check, not per message. The monitor evaluates every
// 100ms while the leads arrive 100 at a time, so the first evaluations may
// see a window of 100 or 200 rows: a check the fuller window adds (a drift
// distance over a threshold that narrows as rows grow) is a new violation
// and is posted then, in a second message. And while the normal leads
// replace the drifted ones, the mixed window gives country_tier group 1
// the 100 rows a bias metric needs (the 300 drifted leads hold only 64):
// its bias checks are violated for the first time and posted, in the first
// run, not after the restart. Each is posted once in all.
func TestAlertsOnceAcrossRestart(t *testing.T) {
	bin := testBinary(t)
	sink := newAlertSink(t)
	state := filepath.Join(t.TempDir(), "alert-state.json")
	env := []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(t.TempDir(), "none")}
	args := []string{"--lake=false", "--monitor-interval", "100ms", "--monitor-window-rows", "300",
		"--monitor-attribution-share", "0", "--monitor-webhook-url", sink.hookSrv.URL,
		"--monitor-sns-topic-arn", "arn:aws:sns:eu-west-1:123456789012:leadscore-alerts",
		"--monitor-sns-endpoint", sink.snsSrv.URL, "--monitor-alert-state", state}
	drifted := leadRows(t, "leads_10k_drift.csv", 0, 300)
	normal := leadRows(t, "leads_10k.csv", 0, 300)
	const key = "country_tier baseline_drift_check"
	once := func(stage string) map[string]int {
		t.Helper()
		hook, sns := sink.texts(t)
		ph, ps := postedChecks(hook), postedChecks(sns)
		for c, n := range ph {
			if n != 1 {
				t.Errorf("%s: %s posted %d times to the webhook", stage, c, n)
			}
			if ps[c] != n {
				t.Errorf("%s: %s posted %d times to the webhook, %d to SNS", stage, c, n, ps[c])
			}
		}
		if len(ph) != len(ps) {
			t.Errorf("%s: %d checks posted to the webhook, %d to SNS", stage, len(ph), len(ps))
		}
		return ph
	}

	s := startServer(t, bin, env, args...)
	scoreRows(t, s.url, drifted)
	sink.settle(t, time.Second) // ten evaluations without a post
	first := once("while violated")
	if first[key] != 1 {
		t.Fatalf("%s not posted: %v\n%s", key, first, s.output())
	}
	hook, _ := sink.texts(t)
	if !strings.HasPrefix(hook[0], "leadscore lead-demo 1.0.0: ") {
		t.Errorf("webhook message %s", hook[0])
	}
	// The window clears, then the violation returns within the cool-down.
	scoreRows(t, s.url, normal)
	time.Sleep(500 * time.Millisecond)
	scoreRows(t, s.url, drifted)
	waitMetric(t, s.url, suppressedRE, 1)
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	once("after the violation returned")
	raw, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(raw), `"webhook"`) || !strings.Contains(string(raw), `"sns"`) {
		t.Fatalf("alert state %s: %v", raw, err)
	}
	before, _ := sink.counts()
	// A restart remembers: the same violations are not posted again.
	s = startServer(t, bin, env, args...)
	scoreRows(t, s.url, drifted)
	var mon struct {
		Violations struct {
			Violations []struct {
				Feature string `json:"feature_name"`
				Check   string `json:"constraint_check_type"`
			} `json:"violations"`
		} `json:"constraint_violations"`
	}
	send(t, nil, "GET", s.url+"/v1/monitoring", "", "").json(t, &mon)
	violated := false
	for _, v := range mon.Violations.Violations {
		violated = violated || v.Feature+" "+v.Check == key
	}
	if !violated {
		t.Fatalf("after a restart: the drifted leads do not violate %s: %+v", key, mon.Violations.Violations)
	}
	// Ten evaluations (and alert rounds) with the violations on.
	waitMetric(t, s.url, evaluationsRE, 10)
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if after, _ := sink.counts(); after != before {
		hook, _ := sink.texts(t)
		t.Errorf("after a restart: %d new posts: %q", after-before, hook[before:])
	}
	once("after a restart")
}

// TestMonitorAlertsSNS: the batch `leadscore monitor` posts the lake's
// violations to the webhook and to SNS (through the real SDK, to the
// stand-in), once per run; with --monitor-alert-state, a second run over
// the same violations posts nothing.
func TestMonitorAlertsSNS(t *testing.T) {
	lake := testLake(t)
	sink := newAlertSink(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	state := filepath.Join(t.TempDir(), "state.json")
	run := func(extra ...string) {
		t.Helper()
		args := append([]string{"monitor", "--lake", lake, "--until", "2025-06-01T12:00:00Z", "--since", "1h", "--out", t.TempDir(),
			"--monitor-webhook-url", sink.hookSrv.URL, "--monitor-sns-topic-arn", "arn:aws:sns:eu-west-1:123456789012:leadscore-alerts",
			"--monitor-sns-endpoint", sink.snsSrv.URL}, extra...)
		if code, _, stderr := runCLI(t, "", args...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	run("--monitor-alert-state", state)
	hook, sns := sink.texts(t)
	if len(hook) != 1 || len(sns) != 1 || hook[0] != sns[0] {
		t.Fatalf("first run: webhook %q, sns %q", hook, sns)
	}
	if !strings.HasPrefix(hook[0], "leadscore monitor "+lake+": 9 new monitoring violations") ||
		!strings.Contains(hook[0], "country_tier baseline_drift_check") {
		t.Errorf("message %s", hook[0])
	}
	run("--monitor-alert-state", state)
	if h, n := sink.counts(); h != 1 || n != 1 {
		t.Errorf("a second run with the alert state: webhook %d, sns %d posts, want still 1", h, n)
	}
	run()
	if h, n := sink.counts(); h != 2 || n != 2 {
		t.Errorf("a run without alert state: webhook %d, sns %d posts, want 2", h, n)
	}
}
