package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/leadscore/leadscore/internal/testutil"
)

// variantLead is one held-out lead of testdata/lead-demo/leads_10k.csv.
type variantLead struct {
	json      string // {"id":..., "features":{...}}
	converted bool
}

func loadVariantLeads(t *testing.T) []variantLead {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "lead-demo", "leads_10k.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := recs[0]
	out := make([]variantLead, 0, len(recs)-1)
	for i, r := range recs[1:] {
		var b strings.Builder
		fmt.Fprintf(&b, `{"id":"lead-%d","features":{`, i)
		n := 0
		conv := false
		for j, v := range r {
			if head[j] == "converted" {
				conv = v == "1"
				continue
			}
			if v == "" {
				continue
			}
			if n > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%s", head[j], v)
			n++
		}
		b.WriteString("}}")
		out = append(out, variantLead{json: b.String(), converted: conv})
	}
	return out
}

// variantsReport is the part of GET /v1/variants the test reads.
type variantsReport struct {
	Enabled  bool   `json:"enabled"`
	Champion string `json:"champion"`
	Variants []struct {
		Name   string   `json:"name"`
		Leads  int64    `json:"leads"`
		Share  *float64 `json:"share"`
		Shadow int64    `json:"shadow_scored"`
		Shed   int64    `json:"shadow_shed"`
		Model  struct {
			Version string `json:"version"`
		} `json:"model"`
	} `json:"variants"`
	Comparisons []struct {
		Challenger string   `json:"challenger"`
		Leads      int      `json:"paired_leads"`
		Agreement  *float64 `json:"tier_agreement"`
		Verdict    string   `json:"verdict"`
		Summary    string   `json:"summary"`
	} `json:"comparisons"`
}

// testServeVariants serves two real XGBoost models (the demo model and a
// weaker challenger made by testdata/variants/make_challenger.py) as
// variants and checks the 90/10 split over 10,000 ids, stickiness, the
// override header, shadow scores paired with the live ones in the lake
// (DuckDB join), the verdicts on known outcomes, and a reload (SIGHUP on
// the config file) moving traffic without failing a request.
func testServeVariants(t *testing.T, bin string) {
	demo, _ := filepath.Abs(filepath.Join("..", "..", "bundle", "demo"))
	weak, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "variants", "challenger"))
	dir := t.TempDir()
	lake := filepath.Join(dir, "lake")
	config := filepath.Join(dir, "serve.json")
	writeConfig := func(champion, challenger float64) {
		body := fmt.Sprintf(`{"variants":[
			{"name":"champion","source":%q,"weight":%g},
			{"name":"challenger","source":%q,"weight":%g},
			{"name":"better","source":%q,"role":"shadow"},
			"twin=%s:shadow"]}`, weak, champion, demo, challenger, demo, weak)
		if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The weak model is the champion: the demo model as a shadow is the
	// better challenger; the weak model's twin is the same model.
	writeConfig(90, 10)
	s := startServer(t, bin, []string{"LEADSCORE_LAKE_DIR=" + lake}, "--config", config, "--access-log=false",
		"--shadow-queue", "100000", "--shadow-max-live", "-1", "--shadow-max-cpu-load", "0", "--shadow-max-cpu-wait", "0", "--watch-interval", "0")
	leads := loadVariantLeads(t)
	client := &http.Client{Timeout: 10 * time.Second}

	answered := map[int]string{}
	counts := map[string]int{}
	for i, l := range leads {
		r := send(t, client, "POST", s.url+"/score", "application/json", `{"leads":[`+l.json+`]}`)
		v := r.header.Get("X-Amzn-Invoked-Production-Variant")
		if r.status != 200 || !strings.Contains(string(r.body), `"variant":"`+v+`"`) {
			t.Fatalf("lead %d: %d %q %s", i, r.status, v, r.body)
		}
		answered[i] = v
		counts[v]++
	}
	share := float64(counts["challenger"]) / float64(len(leads))
	t.Logf("split over %d ids: %v (challenger %.4f)", len(leads), counts, share)
	if math.Abs(share-0.10) > 0.015 || counts["better"] != 0 || counts["twin"] != 0 {
		t.Fatalf("split %v: challenger share %.4f, want 0.10 +- 0.015 and no shadow answering", counts, share)
	}
	// Sticky: the same ids land on the same variants.
	for i := 0; i < len(leads); i += 50 {
		r := send(t, client, "POST", s.url+"/score", "application/json", `{"leads":[`+leads[i].json+`]}`)
		if v := r.header.Get("X-Amzn-Invoked-Production-Variant"); v != answered[i] {
			t.Fatalf("lead %d moved from %s to %s", i, answered[i], v)
		}
	}
	// A batch: each lead lands on the variant it gets alone (the batch is
	// split across variants, answered in order, each result naming its
	// variant; the header names one only when all leads went to one).
	var batch []string
	for _, l := range leads[:300] {
		batch = append(batch, l.json)
	}
	r := send(t, client, "POST", s.url+"/score", "application/json", `{"leads":[`+strings.Join(batch, ",")+`]}`)
	var br struct {
		Results []struct {
			ID      string `json:"id"`
			Variant string `json:"variant"`
		} `json:"results"`
	}
	r.json(t, &br)
	if r.status != 200 || len(br.Results) != 300 || r.header.Get("X-Amzn-Invoked-Production-Variant") != "" {
		t.Fatalf("batch of 300: %d, %d results, header %q", r.status, len(br.Results), r.header.Get("X-Amzn-Invoked-Production-Variant"))
	}
	inBatch := map[string]int{}
	for i, res := range br.Results {
		if res.ID != fmt.Sprintf("lead-%d", i) || res.Variant != answered[i] {
			t.Fatalf("batch result %d: id %s on %s, want lead-%d on %s (its variant alone)", i, res.ID, res.Variant, i, answered[i])
		}
		inBatch[res.Variant]++
	}
	t.Logf("a batch of 300 leads split %v", inBatch)
	// The override header, and an unknown variant.
	r = send(t, client, "POST", s.url+"/score", "application/json", `{"leads":[`+leads[0].json+`]}`, "X-Amzn-SageMaker-Target-Variant", "better")
	if r.status != 200 || r.header.Get("X-Amzn-Invoked-Production-Variant") != "better" || !strings.Contains(string(r.body), `"version":"1.0.0"`) {
		t.Fatalf("override: %d %v %s", r.status, r.header, r.body)
	}
	r = send(t, client, "POST", s.url+"/score", "application/json", `{"leads":[`+leads[0].json+`]}`, "X-Amzn-SageMaker-Target-Variant", "nobody")
	if r.status != 400 || !strings.Contains(string(r.body), `nobody`) || !strings.Contains(string(r.body), "unknown_variant") {
		t.Fatalf("unknown variant: %d %s", r.status, r.body)
	}
	// Outcomes match the leads the live comparison holds: wait until the
	// records of every live answer (10,000 + 200 sticky + 300 in a batch)
	// have reached it, as they do asynchronously, before sending them.
	var rep variantsReport
	testutil.EventuallyState(t, 30*time.Second, "the live comparison to see every live answer", func() (bool, string) {
		send(t, client, "GET", s.url+"/v1/variants", "", "").json(t, &rep)
		return len(rep.Variants) == 4 && rep.Variants[0].Leads+rep.Variants[1].Leads >= int64(len(leads)+len(leads)/50+300),
			fmt.Sprintf("%+v", rep.Variants)
	})
	// Outcomes for every lead, by lead id.
	var fb strings.Builder
	fb.WriteByte('[')
	for i, l := range leads {
		if i > 0 {
			fb.WriteByte(',')
		}
		c := 0
		if l.converted {
			c = 1
		}
		fmt.Fprintf(&fb, `{"lead_id":"lead-%d","converted":%d}`, i, c)
	}
	fb.WriteByte(']')
	if r := send(t, client, "POST", s.url+"/v1/feedback", "application/json", fb.String()); r.status != 200 {
		t.Fatalf("feedback: %d %s", r.status, r.body)
	}
	testutil.EventuallyState(t, 30*time.Second, "the shadows to catch up", func() (bool, string) {
		send(t, client, "GET", s.url+"/v1/variants", "", "").json(t, &rep)
		return len(rep.Comparisons) == 3 && rep.Comparisons[1].Leads >= len(leads) && rep.Comparisons[2].Leads >= len(leads),
			fmt.Sprintf("%+v", rep)
	})
	verdicts := map[string]string{}
	for _, c := range rep.Comparisons {
		verdicts[c.Challenger] = c.Verdict
		t.Logf("%s: %s", c.Challenger, c.Summary)
	}
	if verdicts["better"] != "challenger better" || verdicts["twin"] != "not yet significant" || verdicts["challenger"] != "challenger better" {
		t.Fatalf("verdicts %v", verdicts)
	}
	if c := rep.Comparisons[2]; c.Agreement == nil || *c.Agreement != 1 {
		t.Errorf("the twin agrees on %v of tiers, want 1", c.Agreement)
	}
	// Drift monitoring runs per variant: the demo model's bundle has a
	// baseline, the weak one's has none.
	if r := send(t, client, "GET", s.url+"/v1/monitoring?variant=better", "", ""); r.status != 200 || !strings.Contains(string(r.body), `"version":"1.0.0"`) {
		t.Errorf("monitoring of variant better: %d %.300s", r.status, r.body)
	}
	if r := send(t, client, "GET", s.url+"/v1/monitoring?variant=twin", "", ""); r.status != 404 || !strings.Contains(string(r.body), "twin") {
		t.Errorf("monitoring of variant twin (no baseline): %d %s", r.status, r.body)
	}
	if send(t, client, "GET", s.url+"/v1/feedback", "", "").status != 405 {
		t.Error("GET /v1/feedback is not a 405")
	}

	// Reload: the config file now gives the challenger 90%; SIGHUP while
	// requests flow; none fails, and traffic moves.
	writeConfig(10, 90)
	var failed, sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i += 2 {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(s.url+"/score", "application/json", strings.NewReader(`{"leads":[`+leads[i%len(leads)].json+`]}`)) //nolint:gosec // G704: the test's own server on 127.0.0.1
				sent.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				}
				if resp != nil {
					_ = resp.Body.Close()
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(`"msg":"variants changed"`)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || sent.Load() == 0 {
		t.Fatalf("%d of %d requests failed across the reload", failed.Load(), sent.Load())
	}
	moved := 0
	for i := range 1000 {
		r := send(t, client, "POST", s.url+"/score", "application/json", `{"leads":[`+leads[i].json+`]}`)
		if r.header.Get("X-Amzn-Invoked-Production-Variant") == "challenger" {
			moved++
		}
	}
	if moved < 860 || moved > 940 {
		t.Fatalf("after the reload the challenger answered %d of 1000, want about 900", moved)
	}

	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	// The same comparison over the lake, with `leadscore compare`.
	for _, tc := range []struct{ challenger, verdict string }{{"better", "challenger better"}, {"twin", "not yet significant"}} {
		out := filepath.Join(dir, "compare-"+tc.challenger)
		code, stdout, stderr := runCLI(t, "", "compare", "--lake", lake, "--since", "1h", "--champion", "champion",
			"--challenger", tc.challenger, "--out", out)
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if code != 0 || !strings.HasPrefix(lines[len(lines)-1], tc.verdict+":") {
			t.Fatalf("compare %s: exit %d, verdict line %q\n%s%s", tc.challenger, code, lines[len(lines)-1], stdout, stderr)
		}
		page, err := os.ReadFile(filepath.Join(out, "report.html"))
		if err != nil || !strings.Contains(string(page), tc.verdict) || strings.Contains(string(page), "<script") || strings.Contains(string(page), "http://") {
			t.Fatalf("report.html: %v", err)
		}
		var js struct {
			Comparisons []struct {
				Verdict string `json:"verdict"`
				Leads   int    `json:"paired_leads"`
			} `json:"comparisons"`
		}
		raw, _ := os.ReadFile(filepath.Join(out, "compare.json"))
		if err := json.Unmarshal(raw, &js); err != nil || len(js.Comparisons) != 1 || js.Comparisons[0].Verdict != tc.verdict || js.Comparisons[0].Leads < len(leads) {
			t.Fatalf("compare.json: %v %s", err, raw)
		}
	}
	if code, _, stderr := runCLI(t, "", "compare", "--lake", lake, "--champion", "champion", "--challenger", "nobody", "--out", filepath.Join(dir, "x")); code == 0 || !strings.Contains(stderr, "nobody") {
		t.Errorf("compare with an unknown challenger: exit %d %s", code, stderr)
	}
	// The lake holds paired scores: every shadow row joins its live row.
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(filepath.Join("..", "..", "lakecheck", "node_modules", "@duckdb", "node-api", "package.json")); err != nil || serr != nil {
		if os.Getenv("LEADSCORE_DUCKDB") == "1" {
			t.Fatal("DuckDB pair check needs node and lakecheck/node_modules (npm ci --prefix lakecheck)")
		}
		t.Skip("DuckDB pair check not run: node or lakecheck/node_modules missing (npm ci --prefix lakecheck)")
	}
	script, _ := filepath.Abs(filepath.Join("..", "..", "lakecheck", "pairs.mjs"))
	cmd := exec.Command(node, script, lake, strconv.Itoa(2*len(leads)))
	cmd.Dir = filepath.Join("..", "..", "lakecheck")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("DuckDB pair check: %v", err)
	}
}

// testServeVariantsRegistry: variants following registry stages; promoting
// the staging version to prod moves it to the champion without a restart.
func testServeVariantsRegistry(t *testing.T, bin string) {
	root := t.TempDir()
	demo := filepath.Join("..", "..", "bundle", "demo")
	weak := filepath.Join("..", "..", "testdata", "variants", "challenger")
	for _, args := range [][]string{
		{"model", "push", weak, "--registry", root, "--version", "1"},
		{"model", "push", demo, "--registry", root, "--version", "2"},
		{"model", "promote", "lead-demo", "1", "--stage", "prod", "--registry", root, "--by", "ci"},
		{"model", "promote", "lead-demo", "2", "--stage", "staging", "--registry", root, "--by", "ci"},
	} {
		if code, _, errOut := runCLI(t, "", args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	s := startServer(t, bin, []string{"LEADSCORE_REGISTRY_CACHE=" + t.TempDir()}, "--watch-interval", "100ms",
		"--variant", "champion=registry:"+root+"#lead-demo@prod", "--variant", "challenger=registry:"+root+"#lead-demo@staging:shadow")
	versions := func() map[string]string {
		var rep variantsReport
		send(t, nil, "GET", s.url+"/v1/variants", "", "").json(t, &rep)
		out := map[string]string{}
		for _, v := range rep.Variants {
			out[v.Name] = v.Model.Version
		}
		return out
	}
	if v := versions(); v["champion"] != "1" || v["challenger"] != "2" {
		t.Fatalf("versions %v, want champion 1, challenger 2", v)
	}
	if code, _, errOut := runCLI(t, "", "model", "promote", "lead-demo", "2", "--stage", "prod", "--registry", root, "--by", "ci"); code != 0 {
		t.Fatalf("promote: %s", errOut)
	}
	testutil.EventuallyState(t, 20*time.Second, "the champion to serve 2 after promoting it to prod", func() (bool, string) {
		v := versions()
		return v["champion"] == "2", fmt.Sprint(v)
	})
	r := send(t, nil, "POST", s.url+"/score", "application/json", `{"leads":[{"id":"x","features":{"company_size_log":3}}]}`)
	if r.status != 200 || !strings.Contains(string(r.body), `"version":"2","variant":"champion"`) {
		t.Fatalf("after promotion: %d %s", r.status, r.body)
	}
}

// testServeVariantsDriftReload: a file-watch reload of a non-champion
// variant points its drift monitor at the new model (and starts a new
// window), while the champion, whose files did not change, keeps its
// model and its monitor's window.
func testServeVariantsDriftReload(t *testing.T, bin string) {
	champDir, _ := demoBundleCopy(t, true)
	chalDir, setChal := demoBundleCopy(t, true)
	s := startServer(t, bin, nil, "--watch-interval", "50ms", "--access-log=false",
		"--variant", "champion="+champDir, "--variant", "challenger="+chalDir+":shadow",
		"--shadow-max-live", "-1", "--shadow-max-cpu-load", "0", "--shadow-max-cpu-wait", "0")
	defer s.stop(syscall.SIGTERM)
	type report struct {
		Model  struct{ Version string } `json:"model"`
		Window struct{ Rows int64 }     `json:"window"`
	}
	monitoring := func(name string) report {
		var r report
		resp := send(t, nil, "GET", s.url+"/v1/monitoring?variant="+name, "", "")
		if resp.status != 200 {
			t.Fatalf("GET /v1/monitoring?variant=%s: %d %s", name, resp.status, resp.body)
		}
		resp.json(t, &r)
		return r
	}
	for _, l := range loadVariantLeads(t)[:5] {
		if r := send(t, nil, "POST", s.url+"/score", "application/json", `{"leads":[`+l.json+`]}`); r.status != 200 {
			t.Fatalf("score: %d %s", r.status, r.body)
		}
	}
	testutil.EventuallyState(t, 10*time.Second, "5 rows in each monitor before the reload", func() (bool, string) {
		c, ch := monitoring("champion"), monitoring("challenger")
		return c.Window.Rows == 5 && ch.Window.Rows == 5, fmt.Sprintf("champion %+v, challenger %+v", c, ch)
	})
	if v := monitoring("challenger").Model.Version; v != "1.0.0" {
		t.Fatalf("challenger monitor on %s before the reload", v)
	}
	setChal("2.0.0")
	s.waitLog(`"msg":"drift monitor follows the variant's reloaded model","variant":"challenger"`)
	if r := monitoring("challenger"); r.Model.Version != "2.0.0" || r.Window.Rows != 0 {
		t.Fatalf("challenger monitor after its reload: %+v, want version 2.0.0 and a new window", r)
	}
	if r := monitoring("champion"); r.Model.Version != "1.0.0" || r.Window.Rows != 5 {
		t.Fatalf("champion monitor after the challenger's reload: %+v, want 1.0.0 and its 5 rows kept", r)
	}
	var rep variantsReport
	send(t, nil, "GET", s.url+"/v1/variants", "", "").json(t, &rep)
	if rep.Variants[1].Model.Version != "2.0.0" {
		t.Fatalf("the challenger serves %s after the reload", rep.Variants[1].Model.Version)
	}
}

// testServeVariantsDriftAddRemove: a variant added at runtime (SIGHUP on
// the config file) gets a drift monitor of its own (its bundle's
// baseline, its metrics labelled variant="NAME", GET
// /v1/monitoring?variant=NAME), fed its records; removed, its monitor
// stops (no goroutine of it left) and its metrics go. Outcomes posted
// before their leads are scored wait and are counted when the scores
// arrive.
func testServeVariantsDriftAddRemove(t *testing.T, bin string) {
	champDir, _ := demoBundleCopy(t, true)
	secondDir, setSecond := demoBundleCopy(t, true)
	setSecond("2.0.0")
	config := filepath.Join(t.TempDir(), "serve.json")
	writeConfig := func(second bool) {
		body := fmt.Sprintf(`{"variants":[{"name":"champion","source":%q,"weight":1}`, champDir)
		if second {
			body += fmt.Sprintf(`,{"name":"second","source":%q,"weight":1}`, secondDir)
		}
		if err := os.WriteFile(config, []byte(body+"]}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(false)
	s := startServer(t, bin, nil, "--config", config, "--watch-interval", "0", "--access-log=false", "--monitor-interval", "100ms",
		"--debug-listen", "127.0.0.1:0", "--shadow-max-live", "-1", "--shadow-max-cpu-load", "0", "--shadow-max-cpu-wait", "0")
	debug := logAddr(s.output(), "profiler listening")
	if debug == "" {
		t.Fatalf("no profiler line:\n%s", s.output())
	}
	client := &http.Client{Timeout: 10 * time.Second}
	// monitorGoroutines counts the goroutines running drift monitor code.
	monitorGoroutines := func() int {
		r := send(t, client, "GET", "http://"+debug+"/debug/pprof/goroutine?debug=2", "", "")
		n := 0
		for _, g := range strings.Split(string(r.body), "\n\n") {
			if strings.Contains(g, "leadscore/monitor.") {
				n++
			}
		}
		return n
	}
	hup := func(n int) {
		t.Helper()
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		// Each SIGHUP applies the config, then reloads every variant.
		testutil.Eventually(t, 20*time.Second, fmt.Sprintf("SIGHUP %d applied", n), func() bool {
			out := s.output()
			return strings.Count(out, `"msg":"variants changed"`) >= n && strings.Count(out, `"msg":"variants reloaded"`) >= n
		})
	}
	type report struct {
		Model  struct{ Version string } `json:"model"`
		Window struct{ Rows int64 }     `json:"window"`
	}
	monitoring := func(name string) (int, report) {
		var rep report
		r := send(t, client, "GET", s.url+"/v1/monitoring?variant="+name, "", "")
		if r.status == 200 {
			r.json(t, &rep)
		}
		return r.status, rep
	}
	metrics := func() string { return string(send(t, client, "GET", s.url+"/metrics", "", "").body) }
	var rep struct {
		Pending struct {
			Pending, Joined, Evicted int64
		} `json:"pending_outcomes"`
	}
	pending := func() {
		var raw struct {
			P struct {
				Pending int64 `json:"pending"`
				Joined  int64 `json:"joined_late"`
				Evicted int64 `json:"evicted"`
			} `json:"pending_outcomes"`
		}
		send(t, client, "GET", s.url+"/v1/variants", "", "").json(t, &raw)
		rep.Pending.Pending, rep.Pending.Joined, rep.Pending.Evicted = raw.P.Pending, raw.P.Joined, raw.P.Evicted
	}

	leads := loadVariantLeads(t)
	before := monitorGoroutines()
	if code, _ := monitoring("second"); code != 404 {
		t.Fatalf("monitoring of a variant not served: %d", code)
	}
	if before == 0 {
		t.Fatal("no goroutine of the champion's monitor found: the count is broken")
	}
	// Outcomes for 20 leads not scored yet: they wait.
	var fb []string
	for i := range 20 {
		fb = append(fb, fmt.Sprintf(`{"lead_id":"lead-%d","converted":%d}`, i, i%2))
	}
	if r := send(t, client, "POST", s.url+"/v1/feedback", "application/json", "["+strings.Join(fb, ",")+"]"); r.status != 200 {
		t.Fatalf("feedback: %d %s", r.status, r.body)
	}
	if pending(); rep.Pending.Pending != 20 || rep.Pending.Joined != 0 {
		t.Fatalf("pending outcomes %+v, want 20 waiting", rep.Pending)
	}

	// Add a variant at runtime.
	writeConfig(true)
	hup(1)
	s.waitLog(`"msg":"drift monitor started","variant":"second","model":"lead-demo","version":"2.0.0"`)
	for i, l := range leads[:30] {
		r := send(t, client, "POST", s.url+"/score", "application/json", `{"leads":[`+l.json+`]}`, "X-Amzn-SageMaker-Target-Variant", "second")
		if r.status != 200 || r.header.Get("X-Amzn-Invoked-Production-Variant") != "second" {
			t.Fatalf("lead %d: %d %s", i, r.status, r.body)
		}
	}
	testutil.EventuallyState(t, 10*time.Second, "the added variant's drift in /v1/monitoring and /metrics", func() (bool, string) {
		code, r := monitoring("second")
		m := metrics()
		return code == 200 && r.Model.Version == "2.0.0" && r.Window.Rows == 30 &&
				strings.Contains(m, `leadscore_monitor_records_total{variant="second"} 30`) &&
				strings.Contains(m, `leadscore_monitor_window_rows{variant="second"} 30`),
			fmt.Sprintf("%d %+v; metrics: %v", code, r, grepLines(m, `variant="second"`, "leadscore_monitor_window_rows", "leadscore_monitor_records_total"))
	})
	if m := metrics(); !strings.Contains(m, `leadscore_monitor_feature_distance{feature="company_size_log",variant="second"}`) {
		t.Errorf("no per-feature drift of the added variant: %v", grepLines(m, `variant="second"`))
	}
	if code, r := monitoring("champion"); code != 200 || r.Model.Version != "1.0.0" {
		t.Errorf("champion's monitor: %d %+v", code, r)
	}
	with := monitorGoroutines()
	if with <= before {
		t.Errorf("%d goroutines of drift monitors with the added variant, %d before", with, before)
	}
	// The early outcomes joined their leads when they were scored.
	testutil.EventuallyState(t, 10*time.Second, "the early outcomes to join", func() (bool, string) {
		pending()
		return rep.Pending.Pending == 0 && rep.Pending.Joined == 20, fmt.Sprintf("%+v", rep.Pending)
	})

	// Remove it.
	writeConfig(false)
	hup(2)
	s.waitLog(`"msg":"drift monitor stopped: the variant is no longer served","variant":"second"`)
	if code, _ := monitoring("second"); code != 404 {
		t.Errorf("monitoring of the removed variant: %d", code)
	}
	if m := metrics(); strings.Contains(m, `variant="second"`) && len(grepLines(m, `variant="second"`, "leadscore_monitor_")) > 0 {
		t.Errorf("the removed variant's drift metrics remain: %v", grepLines(m, `variant="second"`, "leadscore_monitor_"))
	}
	testutil.EventuallyState(t, 10*time.Second, "the removed variant's monitor goroutines to end", func() (bool, string) {
		n := monitorGoroutines()
		return n == before, fmt.Sprintf("%d goroutines of drift monitors, %d before the variant was added", n, before)
	})
	if code, _ := monitoring("champion"); code != 200 {
		t.Errorf("champion's monitor after the removal: %d", code)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// grepLines returns the lines of text containing want and any of prefixes
// (or every line with want when none are given).
func grepLines(text, want string, prefixes ...string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.Contains(l, want) {
			continue
		}
		ok := len(prefixes) == 0
		for _, p := range prefixes {
			ok = ok || strings.HasPrefix(l, p)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}
