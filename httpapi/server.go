// Package httpapi is leadscore's HTTP transport: POST /score, the SageMaker
// container contract (/ping, /invocations), the Open Inference Protocol
// (KServe V2 REST), health, readiness, Prometheus metrics and an admin
// reload route, with API keys, rate limits, load shedding and access logs.
//
// It serves any leadscore.Scorer: a Server holds the current model behind
// an atomic pointer and swaps it on Reload, so requests never wait for a
// model load. Request bodies are read by hand-written parsers into pooled
// buffers and responses are written by hand, so the request path does not
// allocate beyond what net/http itself does.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/variant"
)

// Defaults for the zero values of Config's limits.
const (
	DefaultMaxBatch    = 1000
	DefaultMaxBody     = 6 << 20 // SageMaker's invocation payload limit
	DefaultMaxInFlight = 1024
	// DefaultMaxExplainRows bounds ?explain batches: TreeSHAP costs
	// milliseconds a lead, so one large explained batch would hold a core
	// for seconds.
	DefaultMaxExplainRows = 100
)

// Config configures a Server. Loader is required; zero values elsewhere
// take the defaults documented on each field.
type Config struct {
	// Loader loads the model: once by New, and again on every Reload.
	Loader leadscore.Loader
	// Logger receives access logs and events; nil discards them.
	Logger *slog.Logger
	// AccessLog logs one line per request (request id, route, status,
	// latency, rows; never feature values, and lead ids only with
	// LogLeadIDs).
	AccessLog bool
	// AccessLogTo, when set, receives the access log lines directly, one
	// Write per line, in the shape log/slog's JSONHandler gives them
	// ({"time","level","msg":"request", then the attributes}), instead of
	// going through Logger's handler: about a microsecond less per
	// request. Logger still decides whether the level is enabled. Set it
	// only when Logger is a JSON handler writing to the same place with
	// no attributes or groups of its own. Lines that hold anything but
	// plain printable ASCII, and lines with lead ids, still go through
	// Logger.
	AccessLogTo io.Writer
	// LogLeadIDs adds the ids of the leads scored to the access log, for
	// tracing one lead through systems; off by default, since ids may
	// identify people.
	LogLeadIDs bool
	// Registerer receives the service's metrics and Gatherer serves them on
	// /metrics. Nil Registerer: a new private registry. Nil Gatherer: the
	// Registerer, when it is also a Gatherer.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// MaxBatch is the most rows one request may carry (default 1000).
	MaxBatch int
	// MaxExplainRows is the most rows one request may ask reasons for
	// with ?explain (default 100).
	MaxExplainRows int
	// MaxBody is the largest request body in bytes (default 6 MiB).
	MaxBody int64
	// MaxInFlight caps scoring requests served at once; excess requests get
	// a fast 503 with Retry-After (default 1024; negative: no cap).
	MaxInFlight int
	// APIKeys are the accepted keys. RequireAPIKey refuses scoring
	// requests without a valid one; without it, a request may omit its key
	// but a wrong key is still refused. /admin/reload always needs a key
	// with the admin role.
	APIKeys       []APIKey
	RequireAPIKey bool
	// MetricsRequireKey puts GET /metrics behind a valid key (any key's
	// role), as scoring is: its drift and model-quality figures are those
	// of /v1/monitoring. Off, /metrics is open to whoever reaches the port
	// (Prometheus scrapers usually hold no key), and the port must then be
	// private (SECURITY.md).
	MetricsRequireKey bool
	// RateLimit is each key's sustained requests per second, and RateBurst
	// its bucket size (default: RateLimit rounded up). Requests without a
	// key share a bucket per client address. Zero RateLimit: no limit.
	RateLimit float64
	RateBurst int
	// Version is the server's version, reported by GET /v2.
	Version string
	// Sink, when set, receives a record of every scored row (the data lake
	// and the drift monitor). It may wait only a bounded time.
	Sink leadscore.Sink
	// OnReload, when set, is called by Reload with a new model that passed
	// the checks, just before it starts serving (not for the first model,
	// nor for a rejected one): the data lake and the drift monitor follow
	// the model there.
	OnReload func(leadscore.Scorer)
	// SageMaker is the SageMaker container environment /invocations
	// follows (SAGEMAKER_BATCH, SAGEMAKER_INFERENCE_OUTPUT,
	// SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT).
	SageMaker SageMaker
	// Monitoring and Feedback, when set, serve GET /v1/monitoring and
	// POST /v1/feedback, behind the same keys and limits as scoring.
	Monitoring http.Handler
	Feedback   http.Handler
	// IDs bounds the lead ids, X-Amzn-SageMaker-Inference-Id headers and
	// V2 request ids callers send: one over its limit or outside its
	// character set is a 400 invalid_id naming the field (zero: the
	// defaults, 256-byte lead ids and 128-character inference ids).
	IDs leadscore.IDLimits
	// Console, when set, serves the live console's page and assets at
	// GET /, /docs and /ui/ (the web package); they carry no data, so
	// they need no key. Nil: those paths are 404.
	Console http.Handler
	// Source, when set, describes where the model comes from (a file, a
	// registry stage and version) for GET /v1/stats.
	Source func() string
	// StatsInterval is how often SampleStats snapshots the metrics for
	// /v1/stats's rates and latency (default 5 s).
	StatsInterval time.Duration

	// Variants, when set, serves several models at once
	// (champion/challenger, docs/variants.md) instead of Loader's one:
	// weighted variants share live traffic, shadows score on the side.
	Variants []Variant
	// ShadowQueue is how many shadow jobs (a request's leads for the
	// variants that did not answer them) may wait to be scored
	// (default 1024); beyond it they are shed and counted. ShadowWorkers
	// score them (default 1). Shadows score only when Sink is set (their
	// scores go nowhere else).
	ShadowQueue   int
	ShadowWorkers int
	// ShadowMaxLive sheds (and counts) a shadow job when more live
	// scoring requests than this are in flight as a worker takes it up:
	// the cores are busy with live work, and shadow scoring would slow it
	// down (default GOMAXPROCS; negative: never shed for load).
	ShadowMaxLive int
	// ShadowMaxCPULoad sheds (and counts) shadow jobs while the process's
	// CPU load over the last 20 ms is above it: the time its threads ran
	// plus the time they waited for a core, over GOMAXPROCS cores' wall
	// time (Linux's per-thread scheduler statistics). Past about 1 live
	// requests queue for the cores (default DefaultShadowMaxCPULoad;
	// negative: never).
	ShadowMaxCPULoad float64
	// ShadowMaxCPUWait sheds (and counts) shadow jobs while the
	// process's threads waited longer than this for a core, on average
	// each time they ran, over the last 20 ms: the machine's cores are
	// contended (default DefaultShadowMaxCPUWait; negative: never).
	ShadowMaxCPUWait time.Duration
	// Comparison, when set, is the live comparison GET /v1/variants and
	// /metrics report (fed through Sink and the feedback route).
	Comparison *variant.Live
	// OnVariants, when set, is called with the variants each time a set is
	// published (at start, on a reload or a change of weights or roles).
	OnVariants func([]variant.Spec)
}

// Server is the HTTP handler for every route. It is safe for concurrent
// use; build one with New.
type Server struct {
	loader      leadscore.Loader
	onReload    func(leadscore.Scorer)
	log         *slog.Logger
	accessLog   bool
	accessTo    io.Writer // Config.AccessLogTo
	logLeadIDs  bool
	maxBatch    int
	maxExplain  int
	maxBody     int64
	maxInFlight int64
	keys        []APIKey
	hasAdmin    bool
	requireKey  bool
	metricsKey  bool // /metrics needs a valid key
	limits      *limiters
	version     string
	sink        leadscore.Sink
	sinkCopies  bool // sink is a leadscore.SliceCopier: records go in ex.recs
	// sinkCopiesFeats: the sink is a leadscore.FeatureCopier too, so the
	// records' Features may be the request's own rows.
	sinkCopiesFeats bool
	// sinkPools: the sink takes pooled batches (leadscore.PoolSafe), so a
	// request's records go in one from batches, kept by reference by the
	// sinks that queue them.
	sinkPools bool
	// sinkBatches: every sink is a leadscore.BatchSink (OnlyBatches), so
	// a pooled batch's ids may be built in its own storage.
	sinkBatches bool
	batches     leadscore.BatchPool
	monitoring  http.Handler
	feedback    http.Handler
	ids         leadscore.IDLimits
	console     http.Handler
	source      func() string
	stats       statsRecorder
	sagemaker   SageMaker

	model    atomic.Pointer[served]
	reloadMu sync.Mutex
	draining atomic.Bool
	inFlight atomic.Int64

	metrics     *metrics
	metricsHTTP http.Handler

	idPrefix string
	idSeq    atomic.Uint64
	pool     sync.Pool

	variants      atomic.Pointer[variantSet] // nil: one model
	comparison    *variant.Live
	onVariants    func([]variant.Spec)
	stateMu       sync.Mutex
	states        map[string]*variantState
	shadowQ       chan shadowJob
	shadowWG      sync.WaitGroup
	closeOnce     sync.Once
	shadowErrLog  atomic.Int64
	shadowMaxLive int64
	shadowPending atomic.Int64 // jobs queued or being scored
	cpuLoad       *cpuLoad     // nil: never shed for CPU load
	reportCache   atomic.Pointer[cachedReport]
}

// New builds a Server and loads its first model; it fails if the model
// does not load or fails the checks Reload applies.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Loader == nil && len(cfg.Variants) == 0 {
		return nil, errors.New("httpapi: Config.Loader is required")
	}
	s := &Server{
		loader:          cfg.Loader,
		onReload:        cfg.OnReload,
		log:             cfg.Logger,
		accessLog:       cfg.AccessLog,
		accessTo:        cfg.AccessLogTo,
		logLeadIDs:      cfg.LogLeadIDs,
		maxBatch:        cfg.MaxBatch,
		maxExplain:      cfg.MaxExplainRows,
		maxBody:         cfg.MaxBody,
		maxInFlight:     int64(cfg.MaxInFlight),
		keys:            append([]APIKey(nil), cfg.APIKeys...),
		requireKey:      cfg.RequireAPIKey,
		version:         cfg.Version,
		sink:            cfg.Sink,
		sinkCopies:      leadscore.CopiesRecords(cfg.Sink),
		sinkCopiesFeats: leadscore.CopiesFeatures(cfg.Sink),
		sinkPools:       leadscore.PoolSafe(cfg.Sink),
		sinkBatches:     leadscore.OnlyBatches(cfg.Sink),
		monitoring:      cfg.Monitoring,
		feedback:        cfg.Feedback,
		ids:             cfg.IDs.WithDefaults(),
		console:         cfg.Console,
		source:          cfg.Source,
		sagemaker:       cfg.SageMaker,
		comparison:      cfg.Comparison,
		onVariants:      cfg.OnVariants,
		states:          map[string]*variantState{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBatch <= 0 {
		s.maxBatch = DefaultMaxBatch
	}
	if s.maxExplain <= 0 {
		s.maxExplain = DefaultMaxExplainRows
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBody
	}
	switch {
	case s.maxInFlight == 0:
		s.maxInFlight = DefaultMaxInFlight
	case s.maxInFlight < 0:
		s.maxInFlight = 0
	}
	if s.version == "" {
		s.version = "dev"
	}
	names := map[string]bool{}
	for _, k := range s.keys {
		if names[k.Name] {
			return nil, fmt.Errorf("httpapi: api key name %q used twice", k.Name)
		}
		names[k.Name] = true
		s.hasAdmin = s.hasAdmin || k.Admin
	}
	if a := s.sagemaker.DefaultAccept; a != "" {
		if _, aerr := s.invocationAccept(a); aerr != nil {
			return nil, fmt.Errorf("httpapi: SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT %q: want one of %s", a, strings.Join(invocationAccepts, ", "))
		}
	}
	if (s.requireKey || cfg.MetricsRequireKey) && len(s.keys) == 0 {
		return nil, errors.New("httpapi: API keys are required but none is configured")
	}
	s.metricsKey = cfg.MetricsRequireKey
	if cfg.RateLimit < 0 || cfg.RateBurst < 0 {
		return nil, errors.New("httpapi: rate limit and burst must not be negative")
	}
	s.limits = newLimiters(cfg.RateLimit, cfg.RateBurst, s.keys)

	reg, gat := cfg.Registerer, cfg.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, gat = r, r
	}
	if gat == nil {
		g, ok := reg.(prometheus.Gatherer)
		if !ok {
			return nil, errors.New("httpapi: Config.Gatherer is required when the Registerer is not a Gatherer")
		}
		gat = g
	}
	m, err := newMetrics(reg, &s.inFlight)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if s.comparison != nil {
		if err := reg.Register(newComparisonCollector(s)); err != nil {
			return nil, fmt.Errorf("register variant metrics: %w", err)
		}
	}
	s.metricsHTTP = promhttp.HandlerFor(gat, promhttp.HandlerOpts{})
	s.stats = statsRecorder{gather: gat.Gather, interval: cfg.StatsInterval, started: time.Now()}
	if s.stats.interval <= 0 {
		s.stats.interval = DefaultStatsInterval
	}

	var seed [4]byte
	_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails
	s.idPrefix = hex.EncodeToString(seed[:])
	s.pool.New = func() any { return new(exchange) }

	if len(cfg.Variants) > 0 {
		vs, err := s.newVariantSet(ctx, cfg.Variants, nil, true)
		if err != nil {
			return nil, fmt.Errorf("variants: %w", err)
		}
		s.publish(vs)
		if s.sink != nil {
			q, w := cfg.ShadowQueue, cfg.ShadowWorkers
			if q <= 0 {
				q = DefaultShadowQueue
			}
			if w <= 0 {
				w = DefaultShadowWorkers
			}
			switch {
			case cfg.ShadowMaxLive == 0:
				s.shadowMaxLive = int64(runtime.GOMAXPROCS(0))
			case cfg.ShadowMaxLive < 0:
				s.shadowMaxLive = math.MaxInt64
			default:
				s.shadowMaxLive = int64(cfg.ShadowMaxLive)
			}
			load, wait := cfg.ShadowMaxCPULoad, cfg.ShadowMaxCPUWait
			if load == 0 {
				load = DefaultShadowMaxCPULoad
			}
			if wait == 0 {
				wait = DefaultShadowMaxCPUWait
			}
			if load > 0 || wait > 0 {
				s.cpuLoad = newCPULoad(load, wait)
			}
			s.startShadows(q, w)
		}
		return s, nil
	}
	first, err := s.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	s.model.Store(first)
	s.metrics.setModel(first.info)
	return s, nil
}

// Drain marks the server as shutting down: /readyz, /ping and
// /v2/health/ready answer 503 so load balancers stop sending traffic,
// while requests already arriving are still served.
func (s *Server) Drain() { s.draining.Store(true) }

// InFlight reports the scoring requests being served now.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// route identifies an endpoint for metrics and logs.
type route uint8

const (
	routeScore route = iota
	routeInvocations
	routePing
	routeHealthz
	routeReadyz
	routeProm
	routeReload
	routeV2Server
	routeV2Health
	routeV2Model
	routeV2Infer
	routeMonitoring
	routeFeedback
	routeStats
	routeConsole
	routeExecParams
	routeOpenAPI
	routeVariants
	routeAdminVariants
	routeOther
	numRoutes
)

// routeNames are the route labels of metrics and logs, keyed by route so
// that adding a route cannot shift the others' names.
var routeNames = [numRoutes]string{
	routeScore:         "/score",
	routeInvocations:   "/invocations",
	routePing:          "/ping",
	routeHealthz:       "/healthz",
	routeReadyz:        "/readyz",
	routeProm:          "/metrics",
	routeReload:        "/admin/reload",
	routeV2Server:      "/v2",
	routeV2Health:      "/v2/health",
	routeV2Model:       "/v2/models/{name}",
	routeV2Infer:       "/v2/models/{name}/infer",
	routeMonitoring:    "/v1/monitoring",
	routeFeedback:      "/v1/feedback",
	routeStats:         "/v1/stats",
	routeConsole:       "console",
	routeExecParams:    "/execution-parameters",
	routeOpenAPI:       "/openapi.json",
	routeVariants:      "/v1/variants",
	routeAdminVariants: "/admin/variants",
	routeOther:         "other",
}

func routeOf(path string) route {
	switch path {
	case "/score":
		return routeScore
	case "/invocations":
		return routeInvocations
	case "/ping":
		return routePing
	case "/healthz":
		return routeHealthz
	case "/readyz":
		return routeReadyz
	case "/metrics":
		return routeProm
	case "/admin/reload":
		return routeReload
	case "/v2", "/v2/":
		return routeV2Server
	case "/v2/health/live", "/v2/health/ready":
		return routeV2Health
	case "/v1/monitoring":
		return routeMonitoring
	case "/v1/feedback":
		return routeFeedback
	case "/execution-parameters":
		return routeExecParams
	case "/openapi.json":
		return routeOpenAPI
	case "/v1/variants":
		return routeVariants
	case "/admin/variants":
		return routeAdminVariants
	case "/v1/stats":
		return routeStats
	case "/", "/docs":
		return routeConsole
	}
	if strings.HasPrefix(path, "/ui/") {
		return routeConsole
	}
	if len(path) > len("/v2/models/") && path[:len("/v2/models/")] == "/v2/models/" {
		if len(path) > len("/infer") && path[len(path)-len("/infer"):] == "/infer" {
			return routeV2Infer
		}
		return routeV2Model
	}
	return sageMakerRuntimeRoute(path)
}

// exchange is the per-request state, pooled: the writer wrapper and every
// buffer the request path needs.
type exchange struct {
	w     statusWriter
	start time.Time
	route route
	reqID string
	// infID is the request's valid X-Amzn-SageMaker-Inference-Id, "" when
	// it sent none (see inferenceID).
	infID    string
	key      *APIKey
	admitted bool
	errCode  string
	rows     int

	// vs and vidx are the variant set and the variant that answered
	// (vidx -1 with one model).
	vs   *variantSet
	vidx int
	// split is set when a batch's leads went to more than one variant;
	// vrows then holds each row's (routeLeads), and vidx the first's.
	split bool
	vrows []int32
	// splitRows, splitIdx and splitRes are scoreSplit's buffers.
	splitRows []float32
	splitIdx  []int
	splitRes  []leadscore.Result
	// force is the variant a V2 request addressed by name, -1 for none.
	force int

	body    []byte
	batch   batch
	results []leadscore.Result
	out     []byte
	// recs holds the captured records of the request when the sink copies
	// them (Server.sinkCopies).
	recs []leadscore.Record
	// idSpace is where the captured records' ids are built.
	idSpace idArena
}

// Buffers larger than these are dropped after a request rather than kept
// in the pool, so one huge batch does not pin memory.
const (
	maxPooledBytes  = 1 << 20
	maxPooledFloats = 256 << 10
	// maxPooledRecords keeps the captured records of a 1,000-lead batch.
	maxPooledRecords = 1 << 10
)

func (ex *exchange) release() {
	ex.w.ResponseWriter = nil
	ex.key = nil
	ex.vs, ex.vidx, ex.force, ex.split = nil, -1, -1, false
	clear(ex.splitRes) // results hold reasons
	if cap(ex.splitRows) > maxPooledFloats {
		ex.splitRows, ex.splitIdx, ex.splitRes = nil, nil, nil
	}
	if cap(ex.body) > maxPooledBytes {
		ex.body = nil
	}
	if cap(ex.out) > maxPooledBytes {
		ex.out = nil
	}
	if cap(ex.batch.rows) > maxPooledFloats {
		ex.batch = batch{}
		ex.results = nil
	}
	clear(ex.batch.ids[:cap(ex.batch.ids)]) // drop references into old bodies
	if n := min(ex.rows, cap(ex.recs)); n > 0 {
		clear(ex.recs[:n]) // the records' features and ids belong to the sinks now
	}
	if cap(ex.recs) > maxPooledRecords {
		ex.recs = nil
	}
	res := ex.results[:cap(ex.results)]
	for i := range res {
		res[i].Reasons = nil
	}
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Header values shared by every response; net/http only reads them.
var (
	ctJSON  = []string{"application/json"}
	ctCSV   = []string{"text/csv"}
	noStore = []string{"no-store"}
)

// ServeHTTP routes one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := s.pool.Get().(*exchange)
	ex.start = time.Now()
	ex.w = statusWriter{ResponseWriter: w}
	ex.route = routeOf(r.URL.Path)
	ex.admitted, ex.errCode, ex.rows = false, "", 0
	ex.vs, ex.vidx, ex.force = nil, -1, -1
	ex.reqID = s.requestID(r)
	h := w.Header()
	h["X-Request-Id"] = []string{ex.reqID}
	ex.infID = ""
	if id := r.Header["X-Amzn-Sagemaker-Inference-Id"]; len(id) == 1 && s.ids.CheckTokenID(id[0]) == nil {
		h["X-Amzn-Sagemaker-Inference-Id"] = id // echoed only when valid
	}
	defer s.finish(ex, r)

	switch ex.route {
	case routeScore:
		if s.admit(ex, r) {
			s.serveScore(ex, r)
		}
	case routeInvocations:
		if s.admit(ex, r) {
			s.serveInvocations(ex, r)
		}
	case routeV2Infer:
		if s.admit(ex, r) {
			s.serveV2Infer(ex, r)
		}
	case routeExecParams:
		s.serveExecutionParameters(ex, r)
	case routeOpenAPI:
		if s.allowMethod(ex, r, http.MethodGet) {
			s.write(ex, http.StatusOK, ctJSON, openAPIDocument)
		}
	case routePing, routeReadyz:
		s.serveReady(ex, r)
	case routeHealthz:
		s.serveHealthz(ex, r)
	case routeProm:
		if s.allowMethod(ex, r, http.MethodGet) && s.admitMetrics(ex, r) {
			s.metricsHTTP.ServeHTTP(&ex.w, r)
		}
	case routeReload:
		s.serveReload(ex, r)
	case routeV2Server, routeV2Health, routeV2Model:
		s.serveV2Meta(ex, r)
	case routeMonitoring, routeFeedback:
		s.serveMonitor(ex, r)
	case routeStats:
		s.serveStats(ex, r)
	case routeConsole:
		s.serveConsole(ex, r)
	case routeVariants:
		if s.admit(ex, r) {
			s.serveVariants(ex, r)
		}
	case routeAdminVariants:
		s.serveAdminVariants(ex, r)
	default:
		s.fail(ex, newError(http.StatusNotFound, codeNotFound, "no route %s %s", r.Method, r.URL.Path))
	}
}

// serveMonitor hands GET /v1/monitoring and POST /v1/feedback to the
// monitor's handlers, behind the keys and limits of scoring.
func (s *Server) serveMonitor(ex *exchange, r *http.Request) {
	h := s.monitoring
	if ex.route == routeFeedback {
		h = s.feedback
	}
	if h == nil {
		s.fail(ex, newError(http.StatusNotFound, codeNotFound, "monitoring is off: the model has no baseline"))
		return
	}
	if !s.admit(ex, r) {
		return
	}
	if ex.route == routeFeedback {
		if aerr := s.checkBody(r); aerr != nil {
			s.fail(ex, aerr)
			return
		}
		// --max-body bounds outcomes too (a chunked body is cut while
		// read); the monitor has its own, larger cap.
		r.Body = http.MaxBytesReader(&ex.w, r.Body, s.maxBody)
	}
	h.ServeHTTP(&ex.w, r)
}

// serveConsole hands the console's page and assets to the console
// handler; 404 when the console is off.
func (s *Server) serveConsole(ex *exchange, r *http.Request) {
	if s.console == nil {
		s.fail(ex, newError(http.StatusNotFound, codeNotFound, "no route %s %s (the console is off)", r.Method, r.URL.Path))
		return
	}
	if !s.allowMethod(ex, r, http.MethodGet) {
		return
	}
	s.console.ServeHTTP(&ex.w, r)
}

// finish records metrics and the access log, recovers a panicking handler
// (answering 500 if nothing was written yet), and returns ex to the pool.
func (s *Server) finish(ex *exchange, r *http.Request) {
	p := recover()
	if p != nil && p != http.ErrAbortHandler {
		s.log.LogAttrs(r.Context(), slog.LevelError, "handler panicked",
			slog.String("request_id", ex.reqID), slog.String("panic", fmt.Sprint(p)))
		if ex.w.status == 0 {
			s.fail(ex, newError(http.StatusInternalServerError, codeInternal, "internal error"))
		}
	}
	if ex.admitted {
		s.inFlight.Add(-1)
	}
	status := ex.w.status
	if status == 0 {
		status = http.StatusOK
	}
	elapsed := time.Since(ex.start)
	s.metrics.observe(ex.route, status, elapsed.Seconds())
	if s.accessLog {
		s.logAccess(r, ex, status, elapsed)
	}
	ex.release()
	s.pool.Put(ex)
	if p == http.ErrAbortHandler {
		panic(p)
	}
}

// logAccess writes the access log line of a finished request. It builds
// the record itself rather than through Logger.LogAttrs, which would spend
// time capturing the caller's program counter on every request.
func (s *Server) logAccess(r *http.Request, ex *exchange, status int, elapsed time.Duration) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	h := s.log.Handler()
	if !h.Enabled(r.Context(), level) {
		return
	}
	if s.accessTo != nil && s.writeAccessLine(r, ex, level, status, elapsed) {
		return
	}
	rec := slog.NewRecord(ex.start.Add(elapsed), level, "request", 0)
	// Few attributes: slog's JSON encoding costs about 0.2 µs for each.
	rec.AddAttrs(
		slog.String("request_id", ex.reqID),
		slog.String("route", routeNames[ex.route]),
		slog.Int("status", status),
		slog.Int64("latency_us", elapsed.Microseconds()),
		slog.Int("rows", ex.rows),
	)
	rec.AddAttrs(slog.String("remote", r.RemoteAddr))
	if ex.key != nil {
		rec.AddAttrs(slog.String("key", ex.key.Name))
	}
	if ex.errCode != "" {
		rec.AddAttrs(slog.String("error", ex.errCode))
	}
	if s.logLeadIDs && ex.batch.hasIDs && ex.rows > 0 {
		rec.AddAttrs(slog.Any("lead_ids", leadIDs(ex.batch.ids[:ex.batch.n])))
	}
	_ = h.Handle(r.Context(), rec) // a failing log sink must not fail the request
}

// writeAccessLine writes the access log line to AccessLogTo itself, as
// slog's JSONHandler would write the record logAccess builds, and reports
// whether it did: it leaves to slog the lines with lead ids or with
// strings that are not plain printable ASCII (which slog escapes its own
// way). The line is built in the exchange's output buffer: the response
// has been written.
func (s *Server) writeAccessLine(r *http.Request, ex *exchange, level slog.Level, status int, elapsed time.Duration) bool {
	keyName := ""
	if ex.key != nil {
		keyName = ex.key.Name
	}
	if s.logLeadIDs && ex.batch.hasIDs && ex.rows > 0 ||
		!plainLogString(ex.reqID) || !plainLogString(r.RemoteAddr) || !plainLogString(keyName) || !plainLogString(ex.errCode) {
		return false
	}
	b := append(ex.out[:0], `{"time":"`...)
	b = ex.start.Add(elapsed).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, level.String()...)
	b = append(b, `","msg":"request","request_id":"`...)
	b = append(b, ex.reqID...)
	b = append(b, `","route":"`...)
	b = append(b, routeNames[ex.route]...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"latency_us":`...)
	b = strconv.AppendInt(b, elapsed.Microseconds(), 10)
	b = append(b, `,"rows":`...)
	b = strconv.AppendInt(b, int64(ex.rows), 10)
	b = append(b, `,"remote":"`...)
	b = append(b, r.RemoteAddr...)
	b = append(b, '"')
	if ex.key != nil {
		b = append(b, `,"key":"`...)
		b = append(b, keyName...)
		b = append(b, '"')
	}
	if ex.errCode != "" {
		b = append(b, `,"error":"`...)
		b = append(b, ex.errCode...)
		b = append(b, '"')
	}
	b = append(b, "}\n"...)
	ex.out = b
	_, _ = s.accessTo.Write(b) // a failing log sink must not fail the request
	return true
}

// plainLogString reports whether s needs no escaping in JSON, by slog's
// rules or ours (printable ASCII but '"' and '\\'), and is short enough
// that no log bound cuts it.
func plainLogString(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// leadIDs renders raw JSON id tokens as a JSON array for the log.
func leadIDs(ids [][]byte) json.RawMessage {
	out := []byte{'['}
	for i, id := range ids {
		if i > 0 {
			out = append(out, ',')
		}
		if id == nil {
			id = []byte("null")
		}
		out = append(out, id...)
	}
	return append(out, ']')
}

// inferenceID reads the request's X-Amzn-SageMaker-Inference-Id into
// ex.infID: absent is fine, anything but one value within the id limits
// is a 400 invalid_id naming the header.
func (s *Server) inferenceID(ex *exchange, r *http.Request) *apiError {
	v := r.Header["X-Amzn-Sagemaker-Inference-Id"]
	switch {
	case len(v) == 0:
		return nil
	case len(v) > 1:
		return idError(inferenceIDHeader, -1, errors.New("is given more than once"))
	}
	if err := s.ids.CheckTokenID(v[0]); err != nil {
		return idError(inferenceIDHeader, -1, err)
	}
	ex.infID = v[0]
	return nil
}

// inferenceIDHeader is the header's name as errors and docs spell it.
const inferenceIDHeader = "X-Amzn-SageMaker-Inference-Id"

// requestID returns the client's X-Request-Id when it is short and plain
// (the inference id's limits: at most 128 characters of
// [A-Za-z0-9._:-]), and otherwise a fresh id: the header is a tracing
// hint, so a bad one is replaced rather than refused.
func (s *Server) requestID(r *http.Request) string {
	if v := r.Header["X-Request-Id"]; len(v) == 1 && validRequestID(v[0]) {
		return v[0]
	}
	var b [8 + 1 + 16]byte
	n := copy(b[:], s.idPrefix)
	b[n] = '-'
	seq := s.idSeq.Add(1)
	const digits = "0123456789abcdef"
	for i := len(b) - 1; i > n; i-- {
		b[i] = digits[seq&15]
		seq >>= 4
	}
	return string(b[:])
}

func validRequestID(v string) bool {
	if len(v) == 0 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !leadscore.TokenIDChar(v[i]) {
			return false
		}
	}
	return true
}

// admit applies, in order, the in-flight cap, authentication and the rate
// limit to a scoring request, answering it when refused.
func (s *Server) admit(ex *exchange, r *http.Request) bool {
	n := s.inFlight.Add(1)
	ex.admitted = true
	if s.maxInFlight > 0 && n > s.maxInFlight {
		ex.w.Header()["Retry-After"] = retryAfterOne
		s.fail(ex, newError(http.StatusServiceUnavailable, codeOverloaded, "too many requests in flight (limit %d): retry shortly", s.maxInFlight))
		return false
	}
	key, presented := s.authenticate(r)
	if key == nil && (presented || s.requireKey) {
		// A wrong or missing key is charged to the client address's
		// bucket before the 401, so that guessing keys is rate limited
		// like any request without a key.
		if s.rateLimited(ex, nil, r) {
			return false
		}
		if presented {
			s.unauthorized(ex, "invalid API key")
		} else {
			s.unauthorized(ex, "an API key is required: send Authorization: Bearer KEY or X-API-Key: KEY")
		}
		return false
	}
	ex.key = key
	return !s.rateLimited(ex, key, r)
}

// admitMetrics lets a /metrics scrape through: always, unless
// MetricsRequireKey asks for a valid key (a wrong or missing one is
// charged to the client address's bucket, then refused with 401).
func (s *Server) admitMetrics(ex *exchange, r *http.Request) bool {
	if !s.metricsKey {
		return true
	}
	key, presented := s.authenticate(r)
	if key != nil {
		return true
	}
	if s.rateLimited(ex, nil, r) {
		return false
	}
	if presented {
		s.unauthorized(ex, "invalid API key")
	} else {
		s.unauthorized(ex, "/metrics needs an API key (--metrics-require-key): send Authorization: Bearer KEY or X-API-Key: KEY")
	}
	return false
}

// rateLimited takes a token from key's bucket (the client address's when
// key is nil) and answers 429 when there is none.
func (s *Server) rateLimited(ex *exchange, key *APIKey, r *http.Request) bool {
	if s.limits == nil {
		return false
	}
	ok, wait := s.limits.allow(key, r.RemoteAddr, ex.start)
	if ok {
		return false
	}
	secs := int64((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	ex.w.Header()["Retry-After"] = []string{strconv.FormatInt(secs, 10)}
	s.fail(ex, newError(http.StatusTooManyRequests, codeRateLimited, "rate limit exceeded: retry in %d s", secs))
	return true
}

var retryAfterOne = []string{"1"}

func (s *Server) unauthorized(ex *exchange, msg string) {
	ex.w.Header()["Www-Authenticate"] = []string{`Bearer realm="leadscore"`}
	s.fail(ex, newError(http.StatusUnauthorized, codeUnauthorized, "%s", msg))
}

// allowMethod answers 405 unless the request uses one of methods (GET
// implies HEAD).
func (s *Server) allowMethod(ex *exchange, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || m == http.MethodGet && r.Method == http.MethodHead {
			return true
		}
	}
	allow := methods[0]
	for _, m := range methods[1:] {
		allow += ", " + m
	}
	ex.w.Header()["Allow"] = []string{allow}
	s.fail(ex, newError(http.StatusMethodNotAllowed, codeMethod, "%s is not allowed here: use %s", r.Method, allow))
	return false
}

// fail writes an error response in the route's error shape.
func (s *Server) fail(ex *exchange, e *apiError) {
	ex.errCode = e.Code
	if e.Status >= 400 && e.Status != http.StatusNotFound && e.Status != http.StatusMethodNotAllowed {
		s.metrics.rejects.WithLabelValues(e.Code).Inc()
	}
	switch ex.route {
	case routeV2Server, routeV2Health, routeV2Model, routeV2Infer:
		ex.out = appendV2Error(ex.out[:0], e)
	default:
		ex.out = appendError(ex.out[:0], e)
	}
	if e.Status == http.StatusRequestEntityTooLarge {
		ex.w.Header()["Connection"] = []string{"close"} // the rest of the body is not read
	}
	s.write(ex, e.Status, ctJSON, ex.out)
}

// write sends a complete response.
func (s *Server) write(ex *exchange, status int, contentType []string, body []byte) {
	h := ex.w.Header()
	h["Content-Type"] = contentType
	if len(body) >= 2048 { // net/http sets it itself below its chunking size
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	ex.w.WriteHeader(status)
	_, _ = ex.w.Write(body) // a client gone away is not our error
}

// readBody reads the request body into the pooled buffer, refusing bodies
// over the limit. The buffer grows as bytes arrive rather than to the
// declared Content-Length up front, so a client that announces a large
// body and sends nothing holds no memory; it doubles when full (at most
// twice what has arrived), capped by the declared length and the limit,
// so a 60 KB batch takes four reallocations at most and ends in a buffer
// of its exact size, and reads go straight from the connection into it.
func (s *Server) readBody(ex *exchange, r *http.Request) ([]byte, *apiError) {
	if aerr := s.checkBody(r); aerr != nil {
		return nil, aerr
	}
	buf := ex.body[:0]
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, bodyGrowth(cap(buf), r.ContentLength, s.maxBody)-len(buf))
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF || int64(len(buf)) > s.maxBody {
			break
		}
		if err != nil {
			ex.body = buf[:0]
			return nil, newError(http.StatusBadRequest, codeReadFailed, "could not read the request body: %v", err)
		}
		if r.ContentLength >= 0 && int64(len(buf)) == r.ContentLength {
			break // all declared bytes are in; net/http checks there are no more
		}
	}
	ex.body = buf
	if int64(len(buf)) > s.maxBody {
		return nil, s.bodyTooLarge()
	}
	return buf, nil
}

// bodyGrowth is the capacity of a full body buffer of capacity c's
// successor: double (initialBodyBuffer at first), but no more than the
// declared length (when known and larger than c) or one byte past the
// limit (enough to tell a body over it).
func bodyGrowth(c int, declared, limit int64) int {
	next := int64(max(2*c, initialBodyBuffer))
	if declared > int64(c) {
		next = min(next, declared)
	}
	return int(min(next, limit+1))
}

// initialBodyBuffer is the first body buffer of a pooled exchange, when
// the body is not declared smaller.
const initialBodyBuffer = 4 << 10

// checkBody refuses, before reading, a body declared larger than the body
// limit (413) and a compressed or otherwise encoded body (415, rather than
// failing to parse it as JSON or CSV).
func (s *Server) checkBody(r *http.Request) *apiError {
	if ce := header(r, "Content-Encoding"); ce != "" && !strings.EqualFold(strings.TrimSpace(ce), "identity") {
		return newError(http.StatusUnsupportedMediaType, codeMediaType,
			"Content-Encoding %q is not supported: send the body uncompressed", ce)
	}
	if r.ContentLength > s.maxBody {
		return s.bodyTooLarge()
	}
	return nil
}

func (s *Server) bodyTooLarge() *apiError {
	return newError(http.StatusRequestEntityTooLarge, codeBodyTooLarge, "request body is larger than %d bytes", s.maxBody)
}

// mediaIs reports whether a Content-Type value (or the first entry of an
// Accept value) is the media type want, ignoring parameters and case.
func mediaIs(header, want string) bool {
	for i := 0; i < len(header); i++ {
		if header[i] == ';' || header[i] == ',' {
			header = header[:i]
			break
		}
	}
	for len(header) > 0 && (header[0] == ' ' || header[0] == '\t') {
		header = header[1:]
	}
	for len(header) > 0 && (header[len(header)-1] == ' ' || header[len(header)-1] == '\t') {
		header = header[:len(header)-1]
	}
	if len(header) != len(want) {
		return false
	}
	for i := 0; i < len(want); i++ {
		c := header[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}
