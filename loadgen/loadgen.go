// Package loadgen drives an HTTP scoring endpoint at a constant arrival
// rate and measures what it sees.
//
// The generator is open-loop: request i is due at start + i/rate whatever
// happened to the requests before it. A bounded pool of workers, one
// connection each, takes the due requests in order. A worker that is free
// early sleeps until the due time; one that is still busy when a request
// falls due sends it as soon as it is free, and that request's latency is
// measured from its due time, not from when it left. A server that stalls
// therefore shows the stall in every request that queued behind it, instead
// of hiding it by slowing the generator down (coordinated omission). The
// sleep itself can overshoot by up to a millisecond (the Go runtime's timer
// granularity on Linux); that delay is the generator's, not the server's, so
// a request sent by a worker that slept is measured from when it woke.
// Report.Lag shows how far behind the schedule requests left for either
// reason. A request that fell due more than Config.LateAfter before any
// worker was free to send it is counted as late, and one still unsent when
// the run ends as missed.
//
// Runs are bounded by a duration and a request count, stop by themselves and
// send only to the URL they are given.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults for the zero fields of Config.
const (
	DefaultConnections = 64
	DefaultTimeout     = 10 * time.Second
	DefaultLateAfter   = time.Millisecond
	// MaxRate bounds Config.Rate, requests per second.
	MaxRate = 1e6
)

// Config describes one run.
type Config struct {
	// URL receives every request as a POST. Required; http or https.
	URL string
	// Rate is the arrival rate in requests per second, in (0, MaxRate].
	Rate float64
	// Duration is how long requests are scheduled for. When zero, the run
	// lasts MaxRequests/Rate.
	Duration time.Duration
	// MaxRequests caps the number of requests; zero means no cap beyond
	// Duration. At least one of Duration and MaxRequests must be set.
	MaxRequests int64
	// Connections is the number of workers, and so the most requests in
	// flight and connections open. Zero means DefaultConnections.
	Connections int
	// Bodies are the request bodies, sent in turn. Required. They are
	// read, never modified.
	Bodies [][]byte
	// Batch is the number of leads in each body, used for leads per
	// second in the report. Zero means 1.
	Batch int
	// Header holds extra request headers, such as an API key.
	// Content-Type defaults to application/json.
	Header http.Header
	// Timeout bounds each request, response body included. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// LateAfter is how long a request may wait for a free worker after
	// its due time before it counts as late. Zero means DefaultLateAfter.
	LateAfter time.Duration
	// Client, when set, sends the requests through net/http. When nil,
	// http:// URLs get the package's own lean HTTP/1.1 client (one
	// keep-alive connection per worker) and https:// URLs a client from
	// NewClient.
	Client *http.Client
}

// Report is what a run measured.
type Report struct {
	URL         string
	Rate        float64 // target, requests per second
	Batch       int
	Connections int
	// Scheduled is the number of requests the schedule called for.
	Scheduled int64
	// Sent requests left the generator; OK ones got a 2xx response and
	// Failed ones anything else (Sent == OK + Failed).
	Sent, OK, Failed int64
	// Late requests waited more than LateAfter past their due time for a
	// free worker: the pool could not keep up with the schedule.
	Late int64
	// Missed requests were scheduled but never sent: the run ended (or was
	// canceled) first because every worker was busy.
	Missed int64
	// Errors counts failures by kind: "HTTP 503" for a status, or a
	// transport error ("timeout", "connection refused", "connection
	// reset", "EOF", "canceled", or "transport" for any other).
	Errors map[string]int64
	// FirstError is the text of the first transport error, if any.
	FirstError string
	// Elapsed runs from the first due time to the last response.
	Elapsed time.Duration
	// Latency is from due time (or the worker's wake-up, see the package
	// doc) to the end of the response body, over 2xx responses only.
	Latency Percentiles
	// LatencyHistogram is the distribution Latency summarises, for
	// Histogram.WritePercentiles (the .hgrm file).
	LatencyHistogram *Histogram
	// Lag is from due time to the moment the request was sent, over all
	// sent requests: how far behind schedule requests left, because every
	// worker was busy or the timer overslept.
	Lag Percentiles
	// Canceled reports that the context ended the run early.
	Canceled bool
}

// AchievedRate returns completed requests per second over the run.
func (r Report) AchievedRate() float64 { return perSecond(r.Sent, r.Elapsed) }

// OKRate returns successful requests per second over the run.
func (r Report) OKRate() float64 { return perSecond(r.OK, r.Elapsed) }

// LeadsRate returns leads scored successfully per second over the run.
func (r Report) LeadsRate() float64 { return perSecond(r.OK*int64(max(r.Batch, 1)), r.Elapsed) }

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// plan is the schedule of a run: request i is due offset(i) after the start,
// for i < slots.
type plan struct {
	rate  float64
	slots int64
}

// newPlan returns the schedule for rate requests per second over duration,
// capped at maxRequests when that is positive.
func newPlan(rate float64, duration time.Duration, maxRequests int64) plan {
	p := plan{rate: rate}
	if duration > 0 {
		// Requests due strictly before duration; the epsilon keeps
		// 10s at 1000/s at 10,000 despite rounding.
		p.slots = int64(math.Ceil(duration.Seconds()*rate - 1e-9))
	}
	if maxRequests > 0 && (duration <= 0 || maxRequests < p.slots) {
		p.slots = maxRequests
	}
	return p
}

// offset returns when request i is due, relative to the start.
func (p plan) offset(i int64) time.Duration {
	return time.Duration(float64(i) * float64(time.Second) / p.rate)
}

// window returns when the request after the last one would be due: the
// schedule's length.
func (p plan) window() time.Duration { return p.offset(p.slots) }

// sendDeadline returns how long after the start requests may still leave:
// the window plus a tenth of it (at least 1s, at most 5s) for stragglers.
// Requests still unsent then are missed.
func (p plan) sendDeadline() time.Duration {
	w := p.window()
	return w + min(max(w/10, time.Second), 5*time.Second)
}

// NewClient returns an HTTP/1.1 client for up to conns concurrent requests
// to one host, with keep-alive connections, no proxy, no compression and no
// redirects, each request bounded by timeout.
func NewClient(conns int, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: 0,
		DisableCompression:    true,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        64 << 10,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// validate checks cfg and fills in defaults.
func (cfg *Config) validate() error {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: want an http:// or https:// URL with a host", cfg.URL)
	}
	if !(cfg.Rate > 0 && cfg.Rate <= MaxRate) {
		return fmt.Errorf("rate %v requests/s: want more than 0 and at most %v", cfg.Rate, MaxRate)
	}
	if cfg.Duration < 0 || cfg.MaxRequests < 0 || (cfg.Duration == 0 && cfg.MaxRequests == 0) {
		return errors.New("want a positive duration, a positive request count or both")
	}
	if len(cfg.Bodies) == 0 {
		return errors.New("no request bodies")
	}
	if cfg.Connections < 0 || cfg.Timeout < 0 || cfg.LateAfter < 0 || cfg.Batch < 0 {
		return errors.New("connections, timeout, late-after and batch must not be negative")
	}
	if cfg.Connections == 0 {
		cfg.Connections = DefaultConnections
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.LateAfter == 0 {
		cfg.LateAfter = DefaultLateAfter
	}
	if cfg.Batch == 0 {
		cfg.Batch = 1
	}
	return nil
}

// Run sends the requests cfg describes and reports what it measured. It
// returns when every request has been sent (or missed) and answered (or
// timed out), or soon after ctx ends, in which case the report covers what
// was done and Canceled is set. Errors are only for an invalid cfg.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.validate(); err != nil {
		return Report{}, err
	}
	header := cfg.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/json")
	}
	r := &runner{
		cfg:    cfg,
		header: header,
		plan:   newPlan(cfg.Rate, cfg.Duration, cfg.MaxRequests),
		hist:   new(Histogram),
		lag:    new(Histogram),
	}
	u, _ := url.Parse(cfg.URL) // checked by validate
	switch {
	case cfg.Client != nil:
		r.client = cfg.Client
	case u.Scheme == "http":
		reqs, err := encodeRequests(u, header, cfg.Bodies)
		if err != nil {
			return Report{}, err
		}
		r.reqs, r.addr = reqs, dialAddr(u)
	default:
		r.client = NewClient(cfg.Connections, cfg.Timeout)
		defer r.client.CloseIdleConnections()
	}
	r.deadline = r.plan.sendDeadline()
	return r.run(ctx), nil
}

// runner holds the state shared by the workers of one run.
type runner struct {
	cfg Config
	// Either reqs and addr are set, for the built-in HTTP/1.1 client, or
	// client is.
	reqs     [][]byte // complete requests, one per body; read-only
	addr     string   // host:port to dial
	client   *http.Client
	header   http.Header // read-only; each worker clones it
	plan     plan
	deadline time.Duration // after start, see plan.sendDeadline
	start    time.Time
	next     atomic.Int64 // next request index to claim
	hist     *Histogram   // latency of 2xx responses
	lag      *Histogram   // send lag of all sent requests
	lastDone atomic.Int64 // nanoseconds after start of the last response
}

// tally is one worker's counts, merged when the run ends.
type tally struct {
	sent, ok, late int64
	errors         map[string]int64
	firstError     string
}

func (r *runner) run(ctx context.Context) Report {
	n := min(int64(r.cfg.Connections), r.plan.slots)
	tallies := make([]tally, n)
	var wg sync.WaitGroup
	r.start = time.Now()
	for w := range tallies {
		wg.Go(func() { r.work(ctx, &tallies[w]) })
	}
	wg.Wait()

	rep := Report{
		URL:              r.cfg.URL,
		Rate:             r.cfg.Rate,
		Batch:            r.cfg.Batch,
		Connections:      r.cfg.Connections,
		Scheduled:        r.plan.slots,
		Errors:           map[string]int64{},
		Elapsed:          time.Duration(r.lastDone.Load()),
		Latency:          r.hist.Summary(),
		LatencyHistogram: r.hist,
		Lag:              r.lag.Summary(),
		Canceled:         ctx.Err() != nil,
	}
	for _, t := range tallies {
		rep.Sent += t.sent
		rep.OK += t.ok
		rep.Late += t.late
		for k, v := range t.errors {
			rep.Errors[k] += v
		}
		if rep.FirstError == "" {
			rep.FirstError = t.firstError
		}
	}
	rep.Failed = rep.Sent - rep.OK
	rep.Missed = rep.Scheduled - rep.Sent
	return rep
}

// work claims due times in order and sends one request for each until the
// schedule, the send deadline or ctx runs out.
func (r *runner) work(ctx context.Context, t *tally) {
	header := r.header.Clone()
	var conn *http1Conn
	if r.reqs != nil {
		conn = &http1Conn{addr: r.addr, timeout: r.cfg.Timeout}
		defer conn.close()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		i := r.next.Add(1) - 1
		if i >= r.plan.slots {
			return
		}
		due := r.plan.offset(i)
		wait := due - time.Since(r.start)
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		now := time.Since(r.start)
		if now > r.deadline {
			return // this and every later request is missed
		}
		lag := now - due
		r.lag.Record(lag)
		// from is where this request's latency counts from: its due time
		// when it had to wait for a free worker, but the moment the worker
		// woke when the worker was idle and slept until the due time: the
		// timer's oversleep (up to a millisecond on Linux) is the
		// generator's error, not the server's.
		from := due
		if wait > 0 {
			from = now
		} else if lag > r.cfg.LateAfter {
			t.late++
		}
		t.sent++
		var status int
		var err error
		if body := i % int64(len(r.cfg.Bodies)); conn != nil {
			status, err = conn.send(ctx, r.reqs[body])
		} else {
			status, err = r.send(ctx, header, r.cfg.Bodies[body])
		}
		done := time.Since(r.start)
		storeMax(&r.lastDone, int64(done))
		switch {
		case err != nil:
			t.fail(errorKind(err), err)
		case status < 200 || status > 299:
			t.fail("HTTP "+strconv.Itoa(status), nil)
		default:
			t.ok++
			r.hist.Record(done - from)
		}
	}
}

func (t *tally) fail(kind string, err error) {
	if t.errors == nil {
		t.errors = map[string]int64{}
	}
	t.errors[kind]++
	if err != nil && t.firstError == "" {
		t.firstError = err.Error()
	}
}

// send POSTs body and reads the whole response, returning its status.
func (r *runner) send(ctx context.Context, header http.Header, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = header
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp.StatusCode, err
}

// errorKind names a transport error for Report.Errors.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	default:
		return "transport"
	}
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}
