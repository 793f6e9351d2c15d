package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		rate     float64
		duration time.Duration
		max      int64
		slots    int64
		window   time.Duration
		deadline time.Duration
	}{
		{rate: 1000, duration: 10 * time.Second, slots: 10000, window: 10 * time.Second, deadline: 11 * time.Second},
		{rate: 1000, duration: 20 * time.Second, slots: 20000, window: 20 * time.Second, deadline: 22 * time.Second},
		{rate: 3, duration: 500 * time.Millisecond, slots: 2, window: 666666666, deadline: 1666666666},
		{rate: 1000, duration: 10 * time.Second, max: 50, slots: 50, window: 50 * time.Millisecond, deadline: 1050 * time.Millisecond},
		{rate: 1000, duration: time.Second, max: 5000, slots: 1000, window: time.Second, deadline: 2 * time.Second},
		{rate: 100, max: 7, slots: 7, window: 70 * time.Millisecond, deadline: 1070 * time.Millisecond},
		{rate: 10, duration: time.Hour, slots: 36000, window: time.Hour, deadline: time.Hour + 5*time.Second},
	}
	for _, tt := range tests {
		p := newPlan(tt.rate, tt.duration, tt.max)
		if p.slots != tt.slots || p.window() != tt.window || p.sendDeadline() != tt.deadline {
			t.Errorf("newPlan(%v, %v, %d): %d slots, window %v, deadline %v; want %d, %v, %v",
				tt.rate, tt.duration, tt.max, p.slots, p.window(), p.sendDeadline(), tt.slots, tt.window, tt.deadline)
		}
	}
	// Due times are evenly spaced from zero, without drift.
	p := newPlan(3000, time.Second, 0)
	for _, tc := range []struct {
		i    int64
		want time.Duration
	}{{0, 0}, {1, 333333}, {3, time.Millisecond}, {2999, 999666666}} {
		if got := p.offset(tc.i); got != tc.want {
			t.Errorf("offset(%d) at 3000/s = %v, want %v", tc.i, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	body := [][]byte{[]byte("[[1]]")}
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"no url", Config{Rate: 1, MaxRequests: 1, Bodies: body}, "url"},
		{"ftp", Config{URL: "ftp://127.0.0.1/x", Rate: 1, MaxRequests: 1, Bodies: body}, "want an http:// or https:// URL"},
		{"zero rate", Config{URL: "http://127.0.0.1/", MaxRequests: 1, Bodies: body}, "rate"},
		{"huge rate", Config{URL: "http://127.0.0.1/", Rate: 2e6, MaxRequests: 1, Bodies: body}, "rate"},
		{"unbounded", Config{URL: "http://127.0.0.1/", Rate: 1, Bodies: body}, "positive duration"},
		{"no bodies", Config{URL: "http://127.0.0.1/", Rate: 1, MaxRequests: 1}, "no request bodies"},
		{"negative", Config{URL: "http://127.0.0.1/", Rate: 1, MaxRequests: 1, Bodies: body, Connections: -1}, "negative"},
	}
	for _, tt := range tests {
		_, err := Run(context.Background(), tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.err)
		}
	}
}

func TestErrorKind(t *testing.T) {
	opErr := func(err error) error {
		return &url.Error{Op: "Post", URL: "http://127.0.0.1/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}}
	}
	tests := []struct {
		err  error
		want string
	}{
		{opErr(syscall.ECONNREFUSED), "connection refused"},
		{opErr(syscall.ECONNRESET), "connection reset"},
		{opErr(syscall.EPIPE), "connection reset"},
		{&url.Error{Op: "Post", Err: io.EOF}, "EOF"},
		{&url.Error{Op: "Post", Err: io.ErrUnexpectedEOF}, "EOF"},
		{&url.Error{Op: "Post", Err: context.DeadlineExceeded}, "timeout"},
		{&url.Error{Op: "Post", Err: context.Canceled}, "canceled"},
		{errors.New("tls: bad certificate"), "transport"},
	}
	for _, tt := range tests {
		if got := errorKind(tt.err); got != tt.want {
			t.Errorf("errorKind(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// scoreServer is a stand-in for POST /score on 127.0.0.1: it checks the
// request and answers 503 to every fifth one.
func scoreServer(t *testing.T, delay time.Duration) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		var rows [][]*float64
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/score":
			http.Error(w, "wrong route", http.StatusNotFound)
			return
		case r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer k1":
			http.Error(w, "wrong headers", http.StatusUnauthorized)
			return
		case json.NewDecoder(r.Body).Decode(&rows) != nil || len(rows) != 2 || len(rows[0]) != 50:
			http.Error(w, "wrong body", http.StatusBadRequest)
			return
		}
		time.Sleep(delay)
		if k%5 == 0 {
			http.Error(w, `{"error":{"code":"overloaded"}}`, http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprint(w, `{"results":[{"score":3},{"score":1}]}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func demoBodies(t *testing.T, batch int) [][]byte {
	t.Helper()
	rows, err := DemoRows()
	if err != nil {
		t.Fatal(err)
	}
	bodies, err := Bodies(rows, batch)
	if err != nil {
		t.Fatal(err)
	}
	return bodies
}

func TestRunCountsStatuses(t *testing.T) {
	srv, served := scoreServer(t, 0)
	rep, err := Run(context.Background(), Config{
		URL:         srv.URL + "/score",
		Rate:        2000,
		MaxRequests: 50,
		Connections: 4,
		Bodies:      demoBodies(t, 2),
		Batch:       2,
		Header:      http.Header{"Authorization": {"Bearer k1"}},
		LateAfter:   time.Second, // no request is late on a slow test machine
	})
	if err != nil {
		t.Fatal(err)
	}
	if served.Load() != 50 {
		t.Errorf("server saw %d requests, want 50", served.Load())
	}
	want := [4]int64{50, 50, 40, 10}
	got := [4]int64{rep.Scheduled, rep.Sent, rep.OK, rep.Failed}
	if got != want || rep.Missed != 0 || rep.Late != 0 || rep.Canceled {
		t.Errorf("scheduled, sent, ok, failed = %v, want %v and none missed, late or canceled (%+v)", got, want, rep)
	}
	if len(rep.Errors) != 1 || rep.Errors["HTTP 503"] != 10 {
		t.Errorf("errors = %v, want HTTP 503: 10", rep.Errors)
	}
	// 50 requests at 2000/s take at least 24.5ms.
	if rep.Elapsed < 24*time.Millisecond || rep.Latency.Max <= 0 || rep.Latency.P50 > rep.Latency.P99 || rep.Latency.P99 > rep.Latency.Max {
		t.Errorf("elapsed %v, latency %+v: want elapsed >= 24ms and ordered, positive percentiles", rep.Elapsed, rep.Latency)
	}
	if rep.LeadsRate() != 2*rep.OKRate() || rep.AchievedRate() <= rep.OKRate() {
		t.Errorf("rates: achieved %v, ok %v, leads %v", rep.AchievedRate(), rep.OKRate(), rep.LeadsRate())
	}
}

func TestRunTransportErrors(t *testing.T) {
	// A port that was just free: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	slow, _ := scoreServer(t, 300*time.Millisecond)
	tests := []struct {
		name, url string
		timeout   time.Duration
		kind      string
	}{
		{"refused", "http://" + addr + "/score", time.Second, "connection refused"},
		{"timeout", slow.URL + "/score", 50 * time.Millisecond, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Config{
				URL: tt.url, Rate: 100, MaxRequests: 3, Connections: 3, Header: http.Header{"Authorization": {"Bearer k1"}},
				Bodies: demoBodies(t, 2), Timeout: tt.timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Sent != 3 || rep.Failed != 3 || rep.Errors[tt.kind] != 3 || rep.FirstError == "" {
				t.Errorf("sent %d, failed %d, errors %v (%q); want 3 %s", rep.Sent, rep.Failed, rep.Errors, rep.FirstError, tt.kind)
			}
			if rep.Latency != (Percentiles{}) {
				t.Errorf("latency %+v from failed requests, want none", rep.Latency)
			}
		})
	}
}

func TestRunLateAndMissed(t *testing.T) {
	// One connection, 100ms per request, 40 requests due over 400ms and
	// sends allowed until 1.4s: a dozen or so leave late, the rest are
	// missed.
	srv, _ := scoreServer(t, 100*time.Millisecond)
	rep, err := Run(context.Background(), Config{
		URL: srv.URL + "/score", Rate: 100, MaxRequests: 40, Connections: 1,
		Bodies: demoBodies(t, 2), Header: http.Header{"Authorization": {"Bearer k1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent < 2 || rep.Sent > 16 || rep.Missed != 40-rep.Sent || rep.Late < rep.Sent-1 {
		t.Errorf("sent %d, late %d, missed %d; want 2..16 sent, all but the first late, the rest missed", rep.Sent, rep.Late, rep.Missed)
	}
	// Latency counts from the due time: the second request waited ~90ms
	// for the connection before its own 100ms.
	if rep.OK >= 2 && rep.Latency.Max < 180*time.Millisecond {
		t.Errorf("max latency %v, want at least 180ms measured from the due time", rep.Latency.Max)
	}
}

func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		if served.Add(1) == 3 {
			cancel()
		}
	}))
	defer srv.Close()
	rep, err := Run(ctx, Config{URL: srv.URL, Rate: 200, Duration: time.Hour, Bodies: demoBodies(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Canceled || rep.Sent < 3 || rep.Sent > 100 || rep.Sent+rep.Missed != 720000 || served.Load() > rep.Sent {
		t.Errorf("canceled %v, sent %d, missed %d, served %d: want a canceled run of 3 or so requests", rep.Canceled, rep.Sent, rep.Missed, served.Load())
	}
}
