package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore/internal/testutil"
	"github.com/leadscore/leadscore/lake"
)

// reorderFixture is testdata/reorder/expected.json (gen.py): two bundles
// of one model whose eight features are the same columns in two orders.
type reorderFixture struct {
	Features []string     `json:"features"`
	Rows     [][]*float64 `json:"rows"`
	A        []float64    `json:"a"`
	B        []float64    `json:"b"`
}

// testHostileReloadRace is finding 5: a reload switched the lake to the
// new model's columns before the new model was published, so rows still
// scored by the old model were written under the new model's column names
// (or dropped as schema_mismatch). Under load, the server is reloaded back
// and forth between two bundles with the same features in other orders;
// every lead's features encode its number and the feature's name, so the
// lake read back shows any value under a wrong column. Every acknowledged
// row must be in the lake once, with the model version that answered it
// and each value under its own name; none dropped.
func testHostileReloadRace(t *testing.T, bin string) {
	src := filepath.Join("testdata", "reorder")
	var fx reorderFixture
	b, err := os.ReadFile(filepath.Join(src, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, v := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(dir, v), 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"manifest.json", "model.json"} {
			copyFile(t, filepath.Join(src, v, f), filepath.Join(dir, v, f))
		}
	}
	cur := filepath.Join(dir, "current")
	point := func(v string) {
		t.Helper()
		tmp := filepath.Join(dir, "next")
		_ = os.Remove(tmp)
		if err := os.Symlink(v, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cur); err != nil {
			t.Fatal(err)
		}
	}
	point("a")
	lakeDir := filepath.Join(dir, "lake")
	s := startServer(t, bin, []string{"LEADSCORE_LAKE_DIR=" + lakeDir}, "--model", cur, "--watch-interval", "0")
	version := func() string {
		var r struct {
			Model struct{ Version string } `json:"model"`
		}
		send(t, nil, "GET", s.url+"/readyz", "", "").json(t, &r)
		return r.Model.Version
	}

	// Each model scores the fixture rows as XGBoost did, by name.
	checkScores := func(v string, want []float64) {
		t.Helper()
		var sb strings.Builder
		sb.WriteString(`{"leads":[`)
		for i, row := range fx.Rows {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(`{"features":{`)
			for j, name := range fx.Features {
				if j > 0 {
					sb.WriteByte(',')
				}
				val := "null"
				if row[j] != nil {
					val = strconv.FormatFloat(*row[j], 'g', -1, 64)
				}
				fmt.Fprintf(&sb, "%q:%s", name, val)
			}
			sb.WriteString(`}}`)
		}
		sb.WriteString(`]}`)
		var sr scoreResponse
		r := send(t, nil, "POST", s.url+"/score", "application/json", sb.String())
		r.json(t, &sr)
		if r.status != 200 || sr.Model.Version != v || len(sr.Results) != len(want) {
			t.Fatalf("model %s: %d %s", v, r.status, firstLine(r.body))
		}
		for i, l := range sr.Results {
			if math.Abs(l.Probability-want[i]) > 1e-6 {
				t.Errorf("model %s, row %d: probability %v, XGBoost %v", v, i, l.Probability, want[i])
			}
		}
	}
	checkScores("a", fx.A)

	// Load: batches of named leads; lead n's feature i holds n*16+i.
	const clients, batch = 4, 40
	var (
		next    atomic.Int64
		stop    atomic.Bool
		mu      sync.Mutex
		answer  = map[string]string{} // lead id -> model version that answered
		wg      sync.WaitGroup
		failure atomic.Value
	)
	for range clients {
		wg.Go(func() {
			for !stop.Load() {
				var sb strings.Builder
				ids := make([]string, batch)
				sb.WriteString(`{"leads":[`)
				for k := range batch {
					n := next.Add(1)
					ids[k] = "lead-" + strconv.FormatInt(n, 10)
					if k > 0 {
						sb.WriteByte(',')
					}
					fmt.Fprintf(&sb, `{"id":%q,"features":{`, ids[k])
					for i, name := range fx.Features {
						if i > 0 {
							sb.WriteByte(',')
						}
						fmt.Fprintf(&sb, "%q:%d", name, n*16+int64(i))
					}
					sb.WriteString(`}}`)
				}
				sb.WriteString(`]}`)
				r := send(t, nil, "POST", s.url+"/score", "application/json", sb.String())
				var sr scoreResponse
				if r.status != 200 || json.Unmarshal(r.body, &sr) != nil {
					failure.Store(fmt.Sprintf("score: %d %s", r.status, firstLine(r.body)))
					return
				}
				mu.Lock()
				for _, id := range ids {
					answer[id] = sr.Model.Version
				}
				mu.Unlock()
			}
		})
	}
	// Reload back and forth under that load.
	const reloads = 12
	for i := range reloads {
		want := "b"
		if i%2 == 1 {
			want = "a"
		}
		point(want)
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testutil.EventuallyState(t, 20*time.Second, fmt.Sprintf("reload %d to serve %q", i, want), func() (bool, string) {
			v := version()
			return v == want, "serving " + v
		})
		time.Sleep(30 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if f := failure.Load(); f != nil {
		t.Fatal(f)
	}
	checkScores("a", fx.A)
	point("b")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyState(t, 20*time.Second, `the last reload to serve "b"`, func() (bool, string) {
		v := version()
		return v == "b", "serving " + v
	})
	checkScores("b", fx.B)

	metrics := string(send(t, nil, "GET", s.url+"/metrics", "", "").body)
	if m := regexp.MustCompile(`leadscore_capture_dropped_total\{reason="schema_mismatch"\} (\S+)`).FindStringSubmatch(metrics); m != nil && m[1] != "0" {
		t.Errorf("%s records dropped as schema_mismatch during the reloads", m[1])
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}

	// Read the lake back.
	index := map[string]int{}
	for i, name := range fx.Features {
		index[name] = i
	}
	seen := map[string]bool{}
	var mislabeled, wrongModel, files int
	var example string
	walkParquet(t, filepath.Join(lakeDir, lake.Predictions.Dir()), func(path string, pf *parquet.File) {
		files++
		cols := pf.Schema().Columns()
		rows := make([]parquet.Row, 64)
		rd := parquet.NewReader(pf)
		defer func() { _ = rd.Close() }()
		for {
			n, err := rd.ReadRows(rows)
			for _, row := range rows[:n] {
				var lead, model string
				vals := map[string]float64{}
				for _, v := range row {
					name := cols[v.Column()][0]
					switch {
					case name == lake.ColLeadID && !v.IsNull():
						lead = v.String()
					case name == lake.ColModelVersion:
						model = v.String()
					case v.Kind() == parquet.Float:
						vals[name] = float64(v.Float())
					}
				}
				want, ok := answer[lead]
				if !ok {
					continue // the fixture rows of checkScores
				}
				if seen[lead] {
					t.Errorf("%s is in the lake twice", lead)
				}
				seen[lead] = true
				if model != want {
					wrongModel++
				}
				n, _ := strconv.ParseInt(strings.TrimPrefix(lead, "lead-"), 10, 64)
				for name, got := range vals {
					if i, ok := index[name]; ok && got != float64(n*16+int64(i)) {
						mislabeled++
						if example == "" {
							example = fmt.Sprintf("%s (scored by %s, file %s): column %s holds %v, want %d",
								lead, want, filepath.Base(path), name, got, n*16+int64(i))
						}
						break
					}
				}
			}
			if err != nil {
				break
			}
		}
	})
	if mislabeled > 0 {
		t.Errorf("%d of %d rows hold feature values under the wrong column names; first: %s", mislabeled, len(answer), example)
	}
	if wrongModel > 0 {
		t.Errorf("%d rows name a model version other than the one that answered them", wrongModel)
	}
	if len(seen) != len(answer) {
		t.Errorf("the lake holds %d of the %d leads acknowledged", len(seen), len(answer))
	}
	t.Logf("%d leads scored across %d reloads, %d lake files", len(answer), reloads, files)
}
