package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/internal/cputime"
)

// benchScorer is a model that costs nothing, so the benchmarks measure
// the transport: parsing, validation, metrics, encoding.
type benchScorer struct{ info leadscore.ModelInfo }

func (b *benchScorer) Info() leadscore.ModelInfo { return b.info }

func (b *benchScorer) Score(_ context.Context, rows []float32, _ int, out []leadscore.Result) error {
	nf := len(b.info.Features)
	for i := range out[:len(rows)/nf] {
		out[i] = leadscore.Result{Score: 3, Probability: 0.4242}
		if v := rows[i*nf]; v == v {
			out[i].Probability += float64(v) / 1e6
		}
	}
	return nil
}

func newBenchServer(b *testing.B, nf int, mutate ...func(*Config)) *Server {
	feats := make([]leadscore.Feature, nf)
	for i := range feats {
		feats[i].Name = fmt.Sprintf("feature_%02d", i)
	}
	sc := &benchScorer{info: leadscore.ModelInfo{Name: "bench", Version: "1", Features: feats, Tiers: leadscore.Tiers{.2, .4, .6, .8}}}
	cfg := Config{
		Loader:     func() (leadscore.Scorer, error) { return sc, nil },
		Registerer: prometheus.NewRegistry(),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// demoRows are three rows of the demo model's reference leads, as a
// Python client sends them (float32 values printed as float64).
var demoRows = [3]string{
	`[4.007699966430664, 14.717599868774414, 1.0, 2.0, 11.982399940490723, 0.0, 2.0, 0.38040000200271606, 0.4925000071525574, 0.0, 2.0, 7.0, 1.0, 8.061699867248535, 6.504700183868408, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.09730000048875809, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 70.0, 124.0, 7.0, 0.0, 0.0, 6.0, 17.0, 45.15330123901367, 1.2125999927520752]`,
	`[7.424200057983398, 19.521699905395508, 3.0, 3.0, 12.84220027923584, 0.0, 3.0, 2.8708999156951904, 0.42329999804496765, 1.0, 3.0, 0.0, 0.0, 15.262900352478027, 5.648200035095215, 1.0, 1.0, 3.0, 3.0, 5.0, 54.891700744628906, 1.0, 0.0, 1.0, 1.0, 0.10620000213384628, 5.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 10.0, 2.0, 1.0, 0.0, 0.0, 6.0, 6.0, 2.0, 1.0, 0.0, 1.0, 6.0, 71.49130249023438, 1.705199956893921]`,
	`[7.173999786376953, 18.857799530029297, 11.0, 2.0, 12.212900161743164, 0.0, null, 1.3279999494552612, 0.8371000289916992, 0.0, 1.0, 1.0, 0.0, null, 7.6915998458862305, 0.0, 0.0, 1.0, 0.0, 2.0, 56.060298919677734, 1.0, 0.0, 1.0, 0.0, 0.2854999899864197, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0, 20.0, 4.0, 0.0, 0.0, 0.0, 11.0, 29.91080093383789, 0.8848000168800354]`,
}

// benchRows builds a body of n demo rows.
func benchRows(n int) []byte {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(demoRows[i%len(demoRows)])
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

// discardWriter is a reusable ResponseWriter that keeps nothing.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func benchmarkScore(b *testing.B, body []byte, target string, mutate ...func(*Config)) {
	s := newBenchServer(b, 50, mutate...)
	rd := bytes.NewReader(body)
	r := httptest.NewRequest("POST", target, rd)
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = int64(len(body))
	body0 := io.NopCloser(rd)
	w := &discardWriter{h: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rd.Reset(body)
		r.Body = body0
		clear(w.h)
		w.status = 0
		s.ServeHTTP(w, r)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkScore1 is one lead through the /score handler (no network).
func BenchmarkScore1(b *testing.B) { benchmarkScore(b, benchRows(1), "/score") }

// BenchmarkScore1AccessLog is BenchmarkScore1 with the JSON access log on
// (to io.Discard): the cost of log/slog per request.
func BenchmarkScore1AccessLog(b *testing.B) {
	benchmarkScore(b, benchRows(1), "/score", func(c *Config) {
		c.AccessLog = true
		c.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	})
}

// BenchmarkScore100 is a 100-lead batch through the /score handler.
func BenchmarkScore100(b *testing.B) { benchmarkScore(b, benchRows(100), "/score") }

// BenchmarkScore1Leads is one named-feature lead through /score.
func BenchmarkScore1Leads(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"leads":[{"id":"lead-1","features":{`)
	for j := 0; j < 50; j++ {
		if j > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"feature_%02d":%d.25`, j, j)
	}
	sb.WriteString(`}}]}`)
	benchmarkScore(b, []byte(sb.String()), "/score")
}

// BenchmarkParseRows100 is the JSON row parser alone on 100 rows of 50
// numbers as a Python client sends them; besides ns/op (per body) it
// reports ns/number and cpu-ns/number (the process's CPU time, which a
// busy host disturbs less than wall-clock time).
//
//	go test ./httpapi -run '^$' -bench ParseRows100 -count 3
func BenchmarkParseRows100(b *testing.B) {
	body := benchRows(100)
	names := make([]string, 50)
	sc := schema{names: names, index: map[string]int{}}
	var bt batch
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	c0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		if err := parseScoreBody(body, &sc, 1000, &bt); err != nil {
			b.Fatal(err)
		}
	}
	numbers := float64(b.N) * float64(len(bt.rows))
	b.ReportMetric(float64((cputime.Process()-c0).Nanoseconds())/numbers, "cpu-ns/number")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/numbers, "ns/number")
}

// BenchmarkScoreHTTP1 is one lead over a real loopback connection
// (net/http server and client included).
func BenchmarkScoreHTTP1(b *testing.B) { benchmarkScoreHTTP(b, benchRows(1)) }

// BenchmarkScoreHTTP100 is a 100-lead batch (40 KB) over a real loopback
// connection: the body's way from the socket into the parser. Count its
// read system calls with
//
//	go test -c -o /tmp/h.test ./httpapi
//	strace -f -c -e trace=read /tmp/h.test -test.run '^$' -test.bench ScoreHTTP100 -test.benchtime 2000x
func BenchmarkScoreHTTP100(b *testing.B) { benchmarkScoreHTTP(b, benchRows(100)) }

func benchmarkScoreHTTP(b *testing.B, body []byte) {
	s := newBenchServer(b, 50)
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := srv.Client()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Post(srv.URL+"/score", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkScore100Capture is BenchmarkScore100 with a sink that takes
// each request's records by batch and keeps nothing: beside
// BenchmarkScore100 it is what the capture hand-off costs the request
// path (the records' fields and ids, the batch, the rows handed over).
func BenchmarkScore100Capture(b *testing.B) {
	benchmarkScore(b, benchRows(100), "/score", func(c *Config) { c.Sink = nopBatchSink{} })
}

// nopBatchSink takes batches and keeps nothing.
type nopBatchSink struct{}

func (nopBatchSink) Capture([]leadscore.Record)    {}
func (nopBatchSink) CaptureBatch(*leadscore.Batch) {}
