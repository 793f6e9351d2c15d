package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/capture"
	"github.com/leadscore/leadscore/forest"
	"github.com/leadscore/leadscore/httpapi"
	"github.com/leadscore/leadscore/monitor"
	"github.com/leadscore/leadscore/variant"
)

// service is `leadscore serve` in three phases. build opens the parts in
// order (buildSteps), each part that opens something registering how to
// close it; run serves until the context is done or the listener fails;
// shutdown drains the requests in flight, then closes every registered
// part in reverse order. A build step that fails closes what the steps
// before it opened, so a failed start leaves nothing open.
type service struct {
	c    *serveConfig
	log  *slog.Logger
	logs *logSink

	closers []namedCloser // in the order opened

	hup      chan os.Signal
	certs    []tls.Certificate
	src      *modelSource
	vars     *variantServing
	first    leadscore.Scorer // the first load, handed to the server
	reg      *prometheus.Registry
	lake     *capture.Writer // nil without a lake
	outcomes monitor.FeedbackSink
	mon      *monitor.Monitor // the champion's drift monitor; nil without
	monCtx   context.Context  // lives until the monitor part is closed
	// sinks receive the scored records (leadscore.MultiSink of them).
	sinks                []leadscore.Sink
	monitoring, feedback http.Handler
	variants             []httpapi.Variant
	variantSig           string // the variants' files before loading
	srv                  *httpapi.Server
	ln                   net.Listener
	handler              http.Handler
	hs                   *http.Server

	// Background goroutines of the run phase.
	bg       context.Context
	cancelBG context.CancelFunc
	wg       sync.WaitGroup
}

// namedCloser closes one part; deadline bounds the time it may take.
type namedCloser struct {
	name  string
	close func(deadline time.Time) error
}

// buildStep opens one part of the service.
type buildStep struct {
	name string
	run  func(ctx context.Context) error
}

func newService(c *serveConfig, logs *logSink) *service {
	return &service{c: c, logs: logs, log: newLogger(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: c.logLevel}))}
}

// onClose registers how to close a part just opened.
func (s *service) onClose(name string, fn func(deadline time.Time) error) {
	s.closers = append(s.closers, namedCloser{name: name, close: fn})
}

// closeAll closes the registered parts in reverse order, each once;
// failures are logged and the first is returned.
func (s *service) closeAll(deadline time.Time) error {
	var first error
	for i := len(s.closers) - 1; i >= 0; i-- {
		cl := s.closers[i]
		if err := cl.close(deadline); err != nil {
			s.log.Error("closing "+cl.name, "error", err.Error())
			if first == nil {
				first = fmt.Errorf("close %s: %w", cl.name, err)
			}
		}
	}
	s.closers = nil
	return first
}

// buildSteps are the parts of the service in the order they open.
func (s *service) buildSteps() []buildStep {
	return []buildStep{
		{"signals", s.buildSignals},
		{"tls", s.buildTLS},
		{"model", s.buildModel},
		{"metrics", s.buildMetrics},
		{"lake", s.buildLake},
		{"monitor", s.buildMonitor},
		{"server", s.buildServer},
		{"listener", s.buildListener},
		{"debug", s.buildDebug},
		{"tracing", s.buildTracing},
	}
}

// build runs steps in order; when one fails, the parts opened before it
// are closed (with up to 10 s to write out the lake) and its error is
// returned.
func (s *service) build(ctx context.Context, steps []buildStep) error {
	for _, st := range steps {
		if err := st.run(ctx); err != nil {
			_ = s.closeAll(time.Now().Add(10 * time.Second))
			return err
		}
	}
	return nil
}

// buildSignals takes SIGHUP from the start: its default action would end
// the process.
func (s *service) buildSignals(context.Context) error {
	s.hup = make(chan os.Signal, 1)
	signal.Notify(s.hup, syscall.SIGHUP)
	s.onClose("signals", func(time.Time) error { signal.Stop(s.hup); return nil })
	return nil
}

func (s *service) buildTLS(context.Context) error {
	if s.c.tlsCert == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(s.c.tlsCert, s.c.tlsKey)
	if err != nil {
		return fmt.Errorf("%w: TLS: %w", errUsage, err)
	}
	s.certs = []tls.Certificate{cert}
	return nil
}

// buildModel opens the model source (with --variant, each variant's) and
// loads the model once: its bundle's baseline sets up monitoring, and the
// server takes this first load instead of loading again.
func (s *service) buildModel(ctx context.Context) error {
	c := s.c
	if len(c.variants.specs) > 0 {
		vars, err := newVariantServing(ctx, &c.variants, c.watchInterval, s.log)
		if err != nil {
			return err
		}
		s.vars = vars
		specs := c.variants.specs.String()
		s.src = &modelSource{load: func() (leadscore.Scorer, error) { return vars.first, nil }, describe: func() string { return specs }}
		// The variants' files' signature before loading them, so the
		// watch sees any change made from here on.
		s.variantSig, _ = variantFileSignature(c.variants.specs)
		vars.rememberFiles(c.variants.specs)
	} else {
		src, err := openModelSource(ctx, c.model, c.watchInterval, c.registryOptions, s.log)
		if err != nil {
			return err
		}
		s.src = src
	}
	first, err := s.src.load()
	if err != nil {
		return fmt.Errorf("%w: %w", errInput, err)
	}
	s.first = first
	if b, _ := first.(*bundle.Bundle); b != nil && b.UsesDefaultTiers() {
		s.log.Warn("the model has no tier cut-offs of its own: tiers use the defaults 0.2/0.4/0.6/0.8, "+
			"which rarely fit a model's scores; write a bundle with cut-offs from your data with "+
			"'leadscore bundle init --model FILE --data FILE --out DIR'", "model", b.Source(),
			"tiers", b.Manifest().Tiers)
	}
	return nil
}

func (s *service) buildMetrics(context.Context) error {
	s.reg = prometheus.NewRegistry()
	for _, col := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := s.reg.Register(col); err != nil {
			return fmt.Errorf("register runtime metrics: %w", err)
		}
	}
	return nil
}

// buildLake opens the data lake (unless --lake=false); it is closed after
// the server has drained, with at least 5 s to write out what it holds.
func (s *service) buildLake(ctx context.Context) error {
	c := s.c
	lake, err := c.lake.build(ctx, featureNames(s.first.Info()), s.reg, s.log)
	if errors.Is(err, capture.ErrDirInUse) {
		return fmt.Errorf("the lake directory %s is in use by another leadscore serve (one per directory): "+
			"stop that one, or give this one its own --lake-dir (or --lake=false): %w", c.lake.dir, err)
	}
	if err != nil {
		return err
	}
	if lake == nil {
		return nil
	}
	s.lake = lake
	s.sinks = append(s.sinks, lake)
	s.outcomes = lake // outcomes posted to /v1/feedback go to the lake's groundtruth/
	s.onClose("lake", func(deadline time.Time) error {
		lctx, cancel := context.WithDeadline(context.Background(), maxTime(deadline, time.Now().Add(5*time.Second)))
		defer cancel()
		if err := lake.Close(lctx); err != nil {
			s.log.Error("data lake: not everything was written out; the rest stays on disk for the next start", "error", err.Error())
			return nil // logged; what is left is replayed at the next start
		}
		s.log.Info("data lake closed", "dir", c.lake.dir)
		return nil
	})
	return nil
}

// buildMonitor starts drift monitoring (per variant with --variant) and
// the lake's health alerts; they run until the part is closed.
func (s *service) buildMonitor(ctx context.Context) error {
	c := s.c
	monCtx, stop := context.WithCancel(context.Background())
	var running sync.WaitGroup
	s.monCtx = monCtx
	s.onClose("monitor", func(time.Time) error {
		stop()
		running.Wait()
		if s.vars != nil {
			s.vars.waitMonitors()
		}
		return nil
	})
	if s.vars != nil {
		// Outcomes also reach the live comparison of variants.
		tee := feedbackTee{s.vars.live}
		if s.lake != nil {
			tee = append(tee, s.lake)
		}
		s.outcomes = tee
	}
	firstBundle, _ := s.first.(*bundle.Bundle)
	if s.lake != nil && c.lake.s3URL == "" {
		c.monitor.lakeDir = c.lake.dir
	}
	if err := c.monitor.buildNotifiers(ctx); err != nil {
		return err
	}
	c.monitor.ids = c.ids()
	var reg prometheus.Registerer = s.reg
	var champReg *trackedRegisterer
	if s.vars != nil {
		// Every variant's monitor registers the same metrics: each is
		// labelled with its variant, the champion's too, and unregistered
		// when its variant is removed.
		champReg = variantRegisterer(s.reg, c.variants.specs[variant.Champion(c.variants.specs)].Name)
		reg = champReg
	}
	mon, err := c.monitor.build(firstBundle, s.outcomes, reg, s.log)
	if err != nil {
		return err
	}
	if s.lake != nil && c.monitor.alertsOn() {
		// Capture failures alert through the same channels; their state is
		// leadscore_capture_healthy in /metrics.
		alert, err := monitor.NewAlerter(c.monitor.alertConfig("leadscore data lake", "-lake"), prometheus.NewRegistry())
		if err != nil {
			return fmt.Errorf("%w: monitoring alerts: %w", errUsage, err)
		}
		running.Go(func() { watchLake(monCtx, s.lake, alert, 10*time.Second, s.log) })
	}
	if s.vars == nil {
		if mon != nil {
			s.mon = mon
			s.monitoring, s.feedback = mon.ReportHandler(), mon.FeedbackHandler()
			running.Go(func() { _ = mon.Run(monCtx) })
			s.sinks = append(s.sinks, mon)
		}
		return nil
	}
	// Drift runs per variant: each monitor sees its variant's records;
	// the variants' monitors (the champion's too) run, and stop, with
	// their variant.
	s.mon = mon
	if err := s.vars.buildMonitors(monCtx, c.variants.specs, &c.monitor, mon, champReg, s.outcomes, s.reg); err != nil {
		return err
	}
	s.sinks = append(s.sinks, s.vars, s.vars.live)
	running.Go(func() { s.vars.live.Run(monCtx.Done()) })
	s.monitoring = s.vars.monitoringHandler()
	s.feedback = s.vars.feedbackRoute(feedbackHandler(s.outcomes, s.lake != nil, c.ids(), c.monitor.outcomes))
	if s.variants, err = s.vars.variants(ctx, c.variants.specs); err != nil {
		return err
	}
	return nil
}

// buildServer builds the HTTP handler around the first load.
func (s *service) buildServer(ctx context.Context) error {
	c := s.c
	var firstTaken atomic.Bool
	// loaded is the bundle of the last load, for onReload (reloads are
	// serialized, and onReload runs right after the load it follows).
	var loaded atomic.Pointer[bundle.Bundle]
	serverLoader := func() (leadscore.Scorer, error) {
		if firstTaken.CompareAndSwap(false, true) {
			return s.first, nil
		}
		sc, err := s.src.load()
		b, _ := sc.(*bundle.Bundle)
		loaded.Store(b)
		return sc, err
	}
	// A reloaded model that passed the server's checks: the drift monitor
	// compares with its baseline. The lake needs no call: each record
	// names the features of the model that scored it, and capture files
	// it under them (new files when they change), so rows the old model
	// scores while the reload is published keep their own columns.
	onReload := func(sc leadscore.Scorer) {
		if s.mon != nil && s.vars == nil { // with variants, syncMonitors follows every variant's model
			c.monitor.rebase(s.mon, loaded.Load(), sc.Info(), s.log)
		}
	}
	console, err := consoleHandler(c.console)
	if err != nil {
		return err
	}
	var comparison *variant.Live
	var onVariants func([]variant.Spec)
	if s.vars != nil {
		comparison = s.vars.live
		onVariants = func(specs []variant.Spec) {
			s.vars.live.SetSpecs(specs)
			if s.srv != nil { // nil while New publishes the first set
				s.vars.syncMonitors(s.srv, false)
			}
		}
	}
	maxInFlight := c.maxInFlight
	if maxInFlight == 0 {
		maxInFlight = -1 // httpapi: negative is no cap, zero its default
	}
	srv, err := httpapi.New(ctx, httpapi.Config{
		Console:          console,
		Source:           s.src.describe,
		Variants:         s.variants,
		ShadowQueue:      c.variants.shadowQueue,
		ShadowWorkers:    c.variants.shadowWorkers,
		ShadowMaxLive:    c.variants.shadowMaxLive,
		ShadowMaxCPULoad: shadowLimit(c.variants.shadowCPULoad),
		ShadowMaxCPUWait: shadowLimit(c.variants.shadowCPUWait),
		Comparison:       comparison,
		OnVariants:       onVariants,
		Sink:             leadscore.MultiSink(s.sinks...),
		Monitoring:       s.monitoring,
		Feedback:         s.feedback,
		Loader:           c.backend.wrap(ctx, serverLoader, s.log),
		OnReload:         onReload,
		Logger:           s.log,
		AccessLog:        c.accessLog,
		AccessLogTo:      s.accessLogTo(),
		LogLeadIDs:       c.logLeadIDs,
		Registerer:       s.reg,
		Gatherer:         s.reg,
		MaxBatch:         c.maxBatch,
		MaxExplainRows:   c.maxExplainRows,
		IDs:              c.ids(),
		MaxBody:          int64(c.maxBody),
		MaxInFlight:      maxInFlight,
		APIKeys:          c.apiKeys,
		RequireAPIKey:    c.requireAPIKey,
		// MetricsRequireKey: /metrics behind a key (SECURITY.md).
		MetricsRequireKey: c.metricsRequireKey,
		RateLimit:         c.rateLimit,
		RateBurst:         c.rateBurst,
		Version:           version,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errInput, err) // the model would not load
	}
	s.srv, s.handler = srv, srv
	if s.vars != nil {
		// The monitors take the models the server loaded as theirs (the
		// same files, loaded moments ago).
		s.vars.syncMonitors(srv, true)
	}
	// Shadow scores still queued reach the lake, which closes after.
	s.onClose("server", func(time.Time) error { srv.Close(); return nil })
	monitors := 0
	switch {
	case s.vars != nil:
		monitors = s.vars.monitorCount()
	case s.mon != nil:
		monitors = 1
	}
	work := workingSet(c.lake.enabled, c.lake.queueDepth, capture.DefaultRowGroupRows, monitors, c.monitor.queueRecs, len(s.first.Info().Features))
	c.memoryLimit.apply(s.log, work)
	return nil
}

// accessLogTo is where the server writes access log lines itself: the
// log sink, which the service's JSON logger writes to (line-atomic,
// flushed every 100 ms and at shutdown).
func (s *service) accessLogTo() io.Writer {
	if s.logs == nil {
		return nil
	}
	return s.logs
}

func (s *service) buildListener(context.Context) error {
	ln, err := net.Listen("tcp", s.c.listen)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen %s: the port is in use by another program (another leadscore serve?): "+
			"stop it or pick another --listen address: %w", s.c.listen, err)
	}
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.c.listen, err)
	}
	ln = &onceCloseListener{Listener: ln}
	s.ln = ln
	s.onClose("listener", func(time.Time) error {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	return nil
}

func (s *service) buildDebug(context.Context) error {
	if s.c.debugListen == "" {
		return nil
	}
	stopDebug, err := startDebug(s.c.debugListen, s.c.debugListenRemote, s.log)
	if err != nil {
		return err
	}
	s.onClose("debug listener", func(time.Time) error { stopDebug(); return nil })
	return nil
}

func (s *service) buildTracing(ctx context.Context) error {
	if s.c.otlpEndpoint == "" && !tracingFromEnv(os.Getenv) {
		return nil
	}
	tr, err := newTracing(ctx, s.c.otlpEndpoint, s.c.traceSample)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	tr.forwardedFor = s.c.traceForwardedFor
	s.onClose("tracing", func(time.Time) error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.shutdown(sctx); err != nil {
			s.log.Warn("flushing traces", "err", err)
		}
		return nil
	})
	s.handler = tr.wrap(s.srv)
	return nil
}

// run serves until ctx is done (then shuts down: see shutdown) or the
// listener fails. stopSignals restores default signal handling once
// draining starts, so a second signal ends the process at once.
func (s *service) run(ctx context.Context, stopSignals func()) error {
	c := s.c
	s.hs = &http.Server{
		Handler:           s.handler,
		ReadTimeout:       c.readTimeout,
		ReadHeaderTimeout: c.readHeaderTimeout,
		WriteTimeout:      c.writeTimeout,
		IdleTimeout:       c.idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.certs != nil {
		s.hs.TLSConfig = &tls.Config{Certificates: s.certs, MinVersion: tls.VersionTLS12}
	}
	info := s.srv.Model()
	s.log.Info("listening", "addr", s.ln.Addr().String(), "tls", s.certs != nil,
		"model", info.Name, "version", info.Version, "source", s.src.describe(), "features", len(info.Features),
		"sagemaker", c.sagemaker, "api_keys", len(c.apiKeys), "require_api_key", c.requireAPIKey,
		"max_batch", c.maxBatch, "max_body", int64(c.maxBody), "max_in_flight", c.maxInFlight,
		"rate_limit", c.rateLimit, "console", c.console)
	s.logs.Flush()

	serveErr := make(chan error, 1)
	go func() {
		if s.certs != nil {
			serveErr <- s.hs.ServeTLS(s.ln, "", "") // certificates are in TLSConfig
			return
		}
		serveErr <- s.hs.Serve(s.ln)
	}()
	s.startBackground()
	select {
	case err := <-serveErr:
		s.stopBackground()
		_ = s.closeAll(time.Now().Add(c.shutdownTimeout))
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stopSignals()
	return s.shutdown()
}

// startBackground starts the run phase's goroutines: SIGHUP reloads, the
// model source's watch, log flushes and the console's samples.
func (s *service) startBackground() {
	c, srv := s.c, s.srv
	s.bg, s.cancelBG = context.WithCancel(context.Background())
	bg := s.bg
	s.wg.Go(func() {
		for {
			select {
			case <-bg.Done():
				return
			case <-s.hup:
				if s.vars != nil && c.variants.file != "" {
					reconfigureVariants(bg, srv, s.vars, c.variants.file, s.log)
				}
				_ = srv.Reload(bg, "sighup") // Reload logs the outcome
			}
		}
	})
	s.wg.Go(func() { s.src.watch(bg, srv.Reload) })
	if s.vars != nil && c.watchInterval > 0 {
		files := bundle.NewPollWatcher(s.variantSig, c.watchInterval, func() (string, error) { return variantFileSignature(srv.Variants()) }, s.log)
		s.wg.Go(func() { s.vars.watch(bg, srv) })
		s.wg.Go(func() { _ = files.Watch(bg, func(reason string) { s.vars.reloadChanged(bg, srv, reason) }) })
	}
	s.wg.Go(func() { s.logs.FlushEvery(bg, 100*time.Millisecond) })
	s.wg.Go(func() { srv.SampleStats(bg) }) // rates and latency history for /v1/stats
}

func (s *service) stopBackground() {
	if s.cancelBG != nil {
		s.cancelBG()
		s.wg.Wait()
	}
}

// shutdown drains the requests in flight (at most --shutdown-timeout),
// stops the background goroutines and closes every part in reverse order.
func (s *service) shutdown() error {
	c, srv := s.c, s.srv
	srv.Drain()
	// New connections are refused from here on, before the log says so
	// (Shutdown closes the listener too, then waits for the requests).
	_ = s.ln.Close()
	s.log.Info("shutting down: draining requests in flight", "in_flight", srv.InFlight(), "timeout", c.shutdownTimeout.String())
	s.logs.Flush()
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	deadline, _ := sctx.Deadline()
	err := s.hs.Shutdown(sctx)
	s.stopBackground()
	if err != nil {
		left := srv.InFlight()
		_ = s.hs.Close()
		s.log.Error("shutdown timed out", "in_flight", left, "error", err.Error())
		_ = s.closeAll(time.Now())
		return fmt.Errorf("shutdown: %d requests still in flight after %s: %w", left, c.shutdownTimeout, err)
	}
	_ = s.closeAll(deadline)
	s.log.Info("stopped")
	return nil
}

// serve builds the service, runs it until ctx is done, then drains it.
func serve(ctx context.Context, c *serveConfig, stdout io.Writer, stopSignals func()) error {
	forest.SetExplainTableBytes(int64(c.explainTableBytes))
	logs := newLogSink(stdout)
	defer logs.Close()
	s := newService(c, logs)
	if err := s.build(ctx, s.buildSteps()); err != nil {
		return err
	}
	return s.run(ctx, stopSignals)
}

// onceCloseListener closes its listener once: shutdown closes it before
// http.Server.Shutdown does, which must not then report an error.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
