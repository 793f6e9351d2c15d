package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore/internal/testutil"
)

// crashRun is one point of the capture crash matrix: a `leadscore serve`
// on a lake directory (and maybe an S3 stand-in), killed with SIGKILL and
// restarted on the same directory, with every lead id it acknowledged.
type crashRun struct {
	t    *testing.T
	bin  string
	name string
	lake string
	env  []string
	args []string
	s    *server

	mu      sync.Mutex
	next    int         // lead ids are name-000000, name-000001, ...
	acked   []string    // lead ids answered 200, in the order answered
	ackedAt []time.Time // when each was answered
	// unanswered are the lead ids of requests that got no answer (in
	// flight at a kill): they may be in the lake or not, once at most.
	unanswered []string
	// base is len(acked) when the running server started: its journal
	// counter counts from there.
	base int
	// windows are the kills' last sync windows: the acknowledged rows
	// the journal had not yet confirmed when the kill came.
	windows []crashWindow
	// gate and s3 are the S3 stand-in and its store when the run uploads.
	gate *gatedS3
	s3   *s3mem.Backend
	// outcomes are the lead ids of the outcomes answered 200, in order;
	// outcomesJournaled is the outcome journal's counter at the kill.
	outcomes          []string
	outcomesJournaled int
}

// crashWindow is the last sync window of one kill: the acknowledged rows
// acked[from:to] were not known to be journaled (leadscore's
// journaled-records counter, read just before the kill) and may be lost;
// every row before from must survive.
//
// to is set by the next start, not by the kill: a sender may read an
// answer the killed server wrote just before it died, and record it only
// after the kill returned (its goroutine waits for a core on a busy
// machine). Every row acknowledged before the next start was answered by
// the killed server, after the counter was read.
type crashWindow struct {
	point    string
	from, to int       // to is -1 until the next start
	at       time.Time // the kill
}

const crashBucket = "lake"

func (c *crashRun) start(extra ...string) {
	c.t.Helper()
	// No sender runs between servers: every row acknowledged so far was
	// answered by a server before this one.
	c.mu.Lock()
	for w := range c.windows {
		if c.windows[w].to < 0 {
			c.windows[w].to = len(c.acked)
		}
	}
	c.base = len(c.acked)
	c.mu.Unlock()
	c.s = startServer(c.t, c.bin, c.env, append(append([]string{}, c.args...), extra...)...)
}

// leadsBody is a /score body of n leads with the run's next lead ids;
// idBytes pads them to that length (0: as short as they come).
func (c *crashRun) leadsBody(n, idBytes int) (string, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, n)
	var sb strings.Builder
	sb.WriteString(`{"leads":[`)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%06d", c.name, c.next)
		if idBytes > len(ids[i]) {
			ids[i] = padID(ids[i]+"-", idBytes, c.next%2 == 0)
		}
		c.next++
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":%q,"features":{"demo_requested":%d,"company_size_log":%d.5}}`, ids[i], i%2, i%5)
	}
	sb.WriteString(`]}`)
	return sb.String(), ids
}

// score posts n leads (lead ids of idBytes bytes, 0: short) and records
// the answer; an error means no answer (the server is gone).
func (c *crashRun) score(client *http.Client, n, idBytes int, headers ...string) error {
	body, ids := c.leadsBody(n, idBytes)
	req, err := http.NewRequest("POST", c.s.url+"/score", strings.NewReader(body)) //nolint:gosec // G704: the server this test started on 127.0.0.1
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req) //nolint:gosec // G704: as above
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		c.unanswered = append(c.unanswered, ids...)
		return err
	case resp.StatusCode != 200:
		c.t.Errorf("%s: /score answered %d", c.name, resp.StatusCode)
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	c.acked = append(c.acked, ids...)
	now := time.Now()
	for range ids {
		c.ackedAt = append(c.ackedAt, now)
	}
	return nil
}

// scoreN sends total leads in batches of batch, all of which must be
// answered.
func (c *crashRun) scoreN(total, batch int) {
	c.t.Helper()
	for sent := 0; sent < total; sent += batch {
		if err := c.score(http.DefaultClient, min(batch, total-sent), 0); err != nil {
			c.t.Fatalf("%s: %v", c.name, err)
		}
	}
}

// journaled is the running server's count of records appended to its
// journal.
func (c *crashRun) journaled() int {
	return int(metricValue(c.t, c.s.url, "leadscore_capture_records_journaled_total"))
}

// waitJournaled waits until the running server journaled every row it
// acknowledged.
func (c *crashRun) waitJournaled() {
	c.t.Helper()
	c.mu.Lock()
	want := len(c.acked) - c.base
	c.mu.Unlock()
	testutil.Eventually(c.t, 20*time.Second, "every acknowledged row to be journaled", func() bool { return c.journaled() >= want })
}

// kill reads the journal counter, then SIGKILLs the server: the rows
// acknowledged after the counter's count, up to the next start, are the
// kill's sync window. A run that streams waits for its sender to stop
// before it starts the server again.
func (c *crashRun) kill(point string) {
	c.t.Helper()
	j := c.journaled()
	at := time.Now()
	if err := c.s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	if code := c.s.wait(); code != -1 && code != 137 {
		c.t.Logf("%s: exit code %d after SIGKILL", c.name, code)
	}
	c.mu.Lock()
	c.windows = append(c.windows, crashWindow{point: point, from: min(c.base+j, len(c.acked)), to: -1, at: at})
	c.mu.Unlock()
}

// stop restarts the server on the same lake and stops it cleanly
// (SIGTERM closes every file and, with S3, uploads them).
func (c *crashRun) restartAndStop() {
	c.t.Helper()
	c.start()
	if code := c.s.stop(syscall.SIGTERM); code != 0 {
		c.t.Fatalf("%s: exit %d after SIGTERM", c.name, code)
	}
}

// lakeLeadCounts counts the prediction rows by lead id: in the local
// lake and, with S3, in the bucket.
func (c *crashRun) lakeLeadCounts() map[string]int {
	c.t.Helper()
	counts := map[string]int{}
	if _, err := os.Stat(filepath.Join(c.lake, "predictions")); err == nil {
		counts = leadIDCounts(c.t, filepath.Join(c.lake, "predictions"))
	}
	if c.s3 == nil {
		return counts
	}
	list, err := c.s3.ListBucket(crashBucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, o := range list.Contents {
		if !strings.Contains(o.Key, "/predictions/") || !strings.HasSuffix(o.Key, ".parquet") {
			continue
		}
		obj, err := c.s3.GetObject(crashBucket, o.Key, nil)
		if err != nil {
			c.t.Fatal(err)
		}
		data, err := io.ReadAll(obj.Contents)
		_ = obj.Contents.Close()
		if err != nil {
			c.t.Fatal(err)
		}
		pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			c.t.Fatalf("s3 object %s: %v", o.Key, err)
		}
		for id, n := range leadIDsOf(c.t, o.Key, pf) {
			counts[id] += n
		}
	}
	return counts
}

// check reads the lake after the last clean stop: every acknowledged row
// is there exactly once, apart from rows in a kill's sync window, which
// may be missing (never doubled); unanswered rows are there at most once;
// nothing else is there. It logs what each window held.
func (c *crashRun) check() {
	c.t.Helper()
	for _, w := range c.windows {
		if w.to < 0 {
			c.t.Fatalf("%s: kill %q's window was never closed by a start", c.name, w.point)
		}
	}
	counts := c.lakeLeadCounts()
	inWindow := map[int]*crashWindow{}
	for w := range c.windows {
		for i := c.windows[w].from; i < c.windows[w].to; i++ {
			inWindow[i] = &c.windows[w]
		}
	}
	known := map[string]bool{}
	lostIn := map[*crashWindow][]string{}
	for i, id := range c.acked {
		known[id] = true
		switch n := counts[id]; {
		case n == 1:
		case n > 1:
			c.t.Errorf("%s: acknowledged lead %s is in the lake %d times", c.name, id, n)
		case inWindow[i] != nil:
			lostIn[inWindow[i]] = append(lostIn[inWindow[i]], id)
		default:
			c.t.Errorf("%s: acknowledged lead %s (row %d of %d) is not in the lake, and was journaled before the kill", c.name, id, i, len(c.acked))
		}
	}
	var landed int
	for _, id := range c.unanswered {
		known[id] = true
		if n := counts[id]; n > 1 {
			c.t.Errorf("%s: unanswered lead %s is in the lake %d times", c.name, id, n)
		} else if n == 1 {
			landed++
		}
	}
	total := 0
	for id, n := range counts {
		total += n
		if !known[id] {
			c.t.Errorf("%s: the lake holds lead %q, never sent", c.name, id)
		}
	}
	var lost int
	for w := range c.windows {
		win := &c.windows[w]
		lost += len(lostIn[win])
		held := "nothing"
		if win.to > win.from {
			held = fmt.Sprintf("%d row(s), %s to %s, answered %v to %v before the kill", win.to-win.from, c.acked[win.from], c.acked[win.to-1],
				before(win.at, c.ackedAt[win.from]), before(win.at, c.ackedAt[win.to-1]))
		}
		c.t.Logf("%s: kill %q: the last sync window held %s; %d of them lost %v", c.name, win.point, held, len(lostIn[win]), lostIn[win])
	}
	c.t.Logf("%s: %d rows acknowledged, %d in the lake (%d unanswered sent at a kill, %d of them landed), %d lost in sync windows",
		c.name, len(c.acked), total, len(c.unanswered), landed, lost)
}

// before is how long before the kill at an answer came, 0 for an answer
// read while the kill was being sent.
func before(at, answered time.Time) time.Duration {
	return max(0, at.Sub(answered)).Round(time.Millisecond)
}

// gatedS3 is an S3 stand-in (gofakes3 on 127.0.0.1) whose PUTs can be
// held, to kill the server during an upload.
type gatedS3 struct {
	backend *s3mem.Backend
	srv     *httptest.Server
	mu      sync.Mutex
	hold    chan struct{} // PUTs wait on it while not nil
	held    chan struct{} // gets a value when a PUT is being held
}

func newGatedS3(t *testing.T) *gatedS3 {
	t.Helper()
	g := &gatedS3{backend: s3mem.New(), held: make(chan struct{}, 64)}
	if err := g.backend.CreateBucket(crashBucket); err != nil {
		t.Fatal(err)
	}
	fake := gofakes3.New(g.backend).Server()
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		hold := g.hold
		g.mu.Unlock()
		if hold != nil && r.Method == http.MethodPut {
			g.held <- struct{}{}
			select {
			case <-hold:
			case <-r.Context().Done(): // the uploader died
				return
			}
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { g.release(); g.srv.Close() })
	return g
}

// holdPuts makes PUTs wait until release.
func (g *gatedS3) holdPuts() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold == nil {
		g.hold = make(chan struct{})
	}
}

func (g *gatedS3) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold != nil {
		close(g.hold)
		g.hold = nil
	}
}

// streamer sends batches from a goroutine until the server stops
// answering.
type streamer struct {
	done chan struct{}
}

func (c *crashRun) stream(batch, idBytes int) *streamer {
	st := &streamer{done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(st.done)
		for range 1000 { // bounded: the kill comes long before
			if c.score(client, batch, idBytes) != nil {
				return
			}
		}
	}()
	return st
}

func (st *streamer) wait(t *testing.T) {
	select {
	case <-st.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the sender did not stop after the kill")
	}
}

// ackedCount is how many rows have been acknowledged.
func (c *crashRun) ackedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acked)
}

// testHostileCaptureCrashMatrix is issue 10's crash matrix through the
// binary: SIGKILL at many points of capture, a restart on the same lake
// directory, and a clean stop; every acknowledged row is then in the lake
// exactly once, apart from rows in the last sync window of a kill (rows
// acknowledged after the journal's counter last confirmed them), and the
// test logs which rows each window held and which of them were lost.
// Rows of a request in flight at the kill (never answered) may be there,
// once at most.
func testHostileCaptureCrashMatrix(t *testing.T, bin string) {
	const syncFlag = "--lake-sync-interval"
	points := []struct {
		name string
		args []string
		s3   bool
		run  func(t *testing.T, c *crashRun)
		// after, when set, checks more once the run stopped cleanly.
		after func(t *testing.T, c *crashRun)
	}{
		{"before_roll", []string{syncFlag, "50ms"}, false, func(_ *testing.T, c *crashRun) {
			// Every row journaled, no file closed yet: replay rebuilds
			// them all.
			c.scoreN(300, 25)
			c.waitJournaled()
			c.kill("journaled, no file closed")
		}, nil},
		{"after_roll", []string{syncFlag, "50ms", "--lake-roll-age", "300ms"}, false, func(t *testing.T, c *crashRun) {
			// Some rows in closed files, the rest only in the journal:
			// replay must skip exactly the closed files' rows.
			c.scoreN(200, 20)
			testutil.Eventually(t, 20*time.Second, "a file to close", func() bool {
				return metricValue(t, c.s.url, "leadscore_capture_parquet_files_total") >= 1
			})
			c.scoreN(200, 20)
			c.waitJournaled()
			c.kill("after a roll, rows since only journaled")
		}, nil},
		{"during_roll", []string{syncFlag, "20ms", "--lake-roll-age", "100ms"}, false, func(t *testing.T, c *crashRun) {
			// Files close every 100 ms while leads stream in: the kill
			// lands wherever it lands, with rows in flight.
			st := c.stream(10, 0)
			testutil.Eventually(t, 20*time.Second, "400 rows answered and a file closed", func() bool {
				return c.ackedCount() >= 400 && metricValue(t, c.s.url, "leadscore_capture_parquet_files_total") >= 1
			})
			c.kill("mid-stream, files rolling every 100ms")
			st.wait(t)
		}, nil},
		{"after_oversize", []string{syncFlag, "50ms", "--max-lead-id-bytes", "4096", "--max-inference-id-length", "1024"}, false,
			func(t *testing.T, c *crashRun) {
				// The largest records the binary can capture (lead ids of
				// 4,096 bytes, the most the flag allows, and a 1,024
				// character inference id), next to an oversize one it must
				// refuse, then normal leads; killed straight after.
				c.scoreN(100, 20)
				if err := c.score(http.DefaultClient, 50, 4096, "X-Amzn-SageMaker-Inference-Id", strings.Repeat("i", 1024)); err != nil {
					t.Fatal(err)
				}
				huge := `{"leads":[{"id":"` + strings.Repeat("y", 5<<20) + `","features":{}}]}`
				wantIDError(t, "5 MiB lead id", send(t, nil, "POST", c.s.url+"/score", "application/json", huge), "id")
				c.scoreN(150, 30)
				c.kill("straight after the largest records and a refused oversize one")
			}, nil},
		{"during_upload", []string{syncFlag, "50ms", "--lake-roll-age", "200ms"}, true, func(t *testing.T, c *crashRun) {
			// Files roll and upload to the S3 stand-in; one upload is
			// held, and the kill comes while it is in flight.
			c.scoreN(150, 25)
			testutil.Eventually(t, 20*time.Second, "an upload", func() bool {
				return metricValue(t, c.s.url, "leadscore_capture_uploads_total") >= 1
			})
			g := c.gate
			g.holdPuts()
			c.scoreN(150, 25)
			select {
			case <-g.held:
			case <-time.After(20 * time.Second):
				t.Fatal("no upload reached the S3 stand-in")
			}
			c.scoreN(50, 25)
			c.kill("an upload in flight")
			g.release()
		}, func(t *testing.T, c *crashRun) {
			// The clean stop uploaded everything, the file whose upload
			// was cut included: nothing is left locally.
			if n := lakeRows(t, filepath.Join(c.lake, "predictions")); n != 0 {
				t.Errorf("%d rows left in local files after the clean stop, want every file uploaded", n)
			}
			list, err := c.s3.ListBucket(crashBucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("during_upload: %d objects in the S3 stand-in", len(list.Contents))
		}},
		{"kill_twice", []string{syncFlag, "20ms"}, false, func(t *testing.T, c *crashRun) {
			// Killed mid-stream, then killed again straight after the
			// restart's replay, before its own rows were closed.
			st := c.stream(10, 0)
			testutil.Eventually(t, 20*time.Second, "300 rows answered", func() bool { return c.ackedCount() >= 300 })
			c.kill("mid-stream")
			st.wait(t)
			c.start()
			c.scoreN(100, 20)
			c.kill("straight after the restart and 100 more rows")
		}, nil},
		{"idle_after_rows", []string{syncFlag, "50ms"}, false, func(_ *testing.T, c *crashRun) {
			// Killed well after the last answer, with no wait on the
			// journal counter: more than a sync interval has passed, so
			// nothing may be lost.
			c.scoreN(300, 50)
			time.Sleep(500 * time.Millisecond)
			c.kill("500 ms after the last answer")
		}, func(t *testing.T, c *crashRun) {
			for _, w := range c.windows {
				if w.to > w.from {
					t.Errorf("500 ms after the last answer, %d rows were still not journaled", w.to-w.from)
				}
			}
		}},
		{"outcomes", []string{syncFlag, "50ms"}, false, func(t *testing.T, c *crashRun) {
			// Ground truth: outcomes journaled in their own segments,
			// killed straight after the last of 2,000 was answered.
			for r := range 4 {
				var sb strings.Builder
				sb.WriteByte('[')
				ids := make([]string, 500)
				for i := range ids {
					ids[i] = fmt.Sprintf("outcomes-%06d", r*500+i)
					if i > 0 {
						sb.WriteByte(',')
					}
					fmt.Fprintf(&sb, `{"lead_id":%q,"converted":%d}`, ids[i], i%2)
				}
				sb.WriteByte(']')
				if r := send(t, nil, "POST", c.s.url+"/v1/feedback", "application/json", sb.String()); r.status != 200 {
					t.Fatalf("feedback: %d %s", r.status, firstLine(r.body))
				}
				c.outcomes = append(c.outcomes, ids...)
			}
			c.outcomesJournaled = int(metricValue(t, c.s.url, "leadscore_capture_feedback_journaled_total"))
			c.kill("straight after 2,000 outcomes")
		}, func(t *testing.T, c *crashRun) {
			counts := leadIDCounts(t, filepath.Join(c.lake, "groundtruth"))
			var lost []string
			for i, id := range c.outcomes {
				switch n := counts[id]; {
				case n > 1:
					t.Errorf("outcome %s is in the lake %d times", id, n)
				case n == 0 && i < c.outcomesJournaled:
					t.Errorf("outcome %s (%d of %d) is not in the lake, and was journaled before the kill", id, i, len(c.outcomes))
				case n == 0:
					lost = append(lost, id)
				}
			}
			if sumCounts(counts) > len(c.outcomes) {
				t.Errorf("groundtruth holds %d outcomes, %d were sent", sumCounts(counts), len(c.outcomes))
			}
			t.Logf("outcomes: %d acknowledged, %d journaled at the kill, %d in the lake; the sync window held %d, %d of them lost %v",
				len(c.outcomes), c.outcomesJournaled, sumCounts(counts), len(c.outcomes)-c.outcomesJournaled, len(lost), lost)
		}},
	}
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			c := &crashRun{t: t, bin: bin, name: p.name, lake: t.TempDir(), args: p.args}
			c.env = []string{"LEADSCORE_LAKE_DIR=" + c.lake}
			if p.s3 {
				c.gate = newGatedS3(t)
				c.s3 = c.gate.backend
				c.env = append(c.env, "LEADSCORE_LAKE_S3_ACCESS_KEY_ID=AKIDTEST", "LEADSCORE_LAKE_S3_SECRET_ACCESS_KEY=not-a-secret",
					"AWS_EC2_METADATA_DISABLED=true")
				c.args = append(c.args, "--lake-s3-url", "s3://"+crashBucket+"/crash", "--s3-endpoint", c.gate.srv.URL,
					"--s3-path-style", "--s3-region", "us-east-1")
			}
			c.start()
			p.run(t, c)
			checkLakeModes(t, c.lake) // journal segments and open files, as the kill left them
			c.restartAndStop()
			c.check()
			if p.after != nil {
				p.after(t, c)
			}
		})
	}
}
