package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/internal/cputime"
)

// serveCostRows are demo leads as a Python client sends them (float32
// printed as float64, one missing value).
var serveCostRows = [2]string{
	`[4.007699966430664, 14.717599868774414, 1.0, 2.0, 11.982399940490723, 0.0, 2.0, 0.38040000200271606, 0.4925000071525574, 0.0, 2.0, 7.0, 1.0, 8.061699867248535, 6.504700183868408, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.09730000048875809, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 70.0, 124.0, 7.0, 0.0, 0.0, 6.0, 17.0, 45.15330123901367, 1.2125999927520752]`,
	`[7.173999786376953, 18.857799530029297, 11.0, 2.0, 12.212900161743164, 0.0, null, 1.3279999494552612, 0.8371000289916992, 0.0, 1.0, 1.0, 0.0, null, 7.6915998458862305, 0.0, 0.0, 1.0, 0.0, 2.0, 56.060298919677734, 1.0, 0.0, 1.0, 0.0, 0.2854999899864197, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0, 20.0, 4.0, 0.0, 0.0, 0.0, 11.0, 29.91080093383789, 0.8848000168800354]`,
}

func serveCostBody(n int) []byte {
	rows := make([]string, n)
	for i := range rows {
		rows[i] = serveCostRows[i%len(serveCostRows)]
	}
	return []byte("[" + strings.Join(rows, ",") + "]")
}

// BenchmarkServeCost is what capture and monitoring cost per request in
// the process, lean (--lake=false --monitor=false) beside full (the
// defaults: lake, drift monitor with live attribution, access log),
// monitor (--lake=false: the drift monitor's share alone), lake
// (--monitor=false: the journal's and the Parquet files') and floor (lean
// plus the least work any capture must do, captureFloor), on the
// embedded demo model, through the whole serve handler as `leadscore
// serve` builds it (no network). Besides ns/op (the request goroutine's
// wall time) it reports cpu-us/op: the process's CPU time (getrusage, all
// goroutines: the journal, the lake's Parquet files, the monitor) from the
// first request to the lake closed with every record written, over the
// requests; and allocs/op and B/op of the whole process. bench/capture_cost.sh
// measures the same over the network, open loop.
//
//	go test ./cmd/leadscore -run '^$' -bench ServeCost -benchtime 20000x -count 3
func BenchmarkServeCost(b *testing.B) {
	for _, leads := range []int{1, 100} {
		body := serveCostBody(leads)
		for _, mode := range []string{"lean", "full", "monitor", "lake", "floor"} {
			b.Run(mode+"/"+strconv.Itoa(leads), func(b *testing.B) {
				args := []string{"--listen", "127.0.0.1:0", "--watch-interval", "0", "--lake-dir", filepath.Join(b.TempDir(), "lake")}
				var after func()
				switch mode {
				case "lean":
					args = append(args, "--lake=false", "--monitor=false")
				case "monitor": // the drift monitor's share alone
					args = append(args, "--lake=false")
				case "lake": // the lake's share alone (journal and Parquet)
					args = append(args, "--monitor=false")
				case "floor": // lean plus the least work capture must do
					args = append(args, "--lake=false", "--monitor=false")
					after = newCaptureFloor(b, leads).request
				}
				benchServe(b, args, body, after)
			})
		}
	}
}

func benchServe(b *testing.B, args []string, body []byte, after func()) {
	c, err := parseServeConfig(args, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	s := newService(c, newLogSink(io.Discard))
	if err := s.build(context.Background(), s.buildSteps()); err != nil {
		b.Fatal(err)
	}
	rd := bytes.NewReader(body)
	r := httptest.NewRequest(http.MethodPost, "/score", rd)
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = int64(len(body))
	body0 := io.NopCloser(rd)
	w := &costWriter{h: http.Header{}}
	serveOne := func() {
		rd.Reset(body)
		r.Body = body0
		clear(w.h)
		w.status = 0
		s.handler.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
		if after != nil {
			after()
		}
	}
	for range 200 { // warm the pools, the model's first calls
		serveOne()
	}
	if bd, ok := s.first.(*bundle.Bundle); ok {
		// Build the TreeSHAP tables the attribution sampler explains with
		// now: once per model in a server's life, not per request.
		nf := len(bd.Info().Features)
		if err := bd.Forest().Contributions(make([]float32, nf), make([]float32, nf+1)); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for range b.N {
		serveOne()
	}
	b.StopTimer()
	// Close writes out what the lake and monitor still hold: their cost
	// belongs to these requests.
	_ = s.closeAll(time.Now().Add(30 * time.Second))
	cpu := cputime.Process() - cpu0
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
}

// costWriter is a reusable ResponseWriter that keeps nothing.
type costWriter struct {
	h      http.Header
	status int
}

func (d *costWriter) Header() http.Header { return d.h }
func (d *costWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}
func (d *costWriter) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
}
