package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/httpapi"
	"github.com/leadscore/leadscore/monitor"
	"github.com/leadscore/leadscore/registry"
	"github.com/leadscore/leadscore/variant"
)

// variantList is the repeatable --variant flag. A value is one
// NAME=SOURCE[:ROLE] spec, or (from the config file or the environment)
// a JSON list of specs and {"name", "source", "role", "weight",
// "sample"} objects, which replaces the list.
type variantList []variant.Spec

func (v *variantList) String() string {
	if v == nil {
		return ""
	}
	parts := make([]string, len(*v))
	for i, s := range *v {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

func (v *variantList) Set(s string) error {
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "[") {
		specs, err := parseVariantJSON([]byte(t))
		if err != nil {
			return err
		}
		*v = specs
		return nil
	}
	sp, err := variant.ParseSpec(s)
	if err != nil {
		return err
	}
	*v = append(*v, sp)
	return nil
}

// parseVariantJSON reads the config file's variant list.
func parseVariantJSON(raw []byte) ([]variant.Spec, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("variants: want a list: %v", err)
	}
	specs := make([]variant.Spec, 0, len(items))
	for i, it := range items {
		var str string
		if json.Unmarshal(it, &str) == nil {
			sp, err := variant.ParseSpec(str)
			if err != nil {
				return nil, fmt.Errorf("variants[%d]: %v", i, err)
			}
			specs = append(specs, sp)
			continue
		}
		var obj struct {
			Name   string       `json:"name"`
			Source string       `json:"source"`
			Role   variant.Role `json:"role"`
			Weight *float64     `json:"weight"`
			Sample *float64     `json:"sample"`
		}
		dec := json.NewDecoder(bytes.NewReader(it))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&obj); err != nil {
			return nil, fmt.Errorf("variants[%d]: want \"NAME=SOURCE[:ROLE]\" or {\"name\", \"source\", \"role\", \"weight\", \"sample\"}: %v", i, err)
		}
		sp := variant.Spec{Name: obj.Name, Source: obj.Source, Role: obj.Role, Weight: 1}
		if sp.Role == "" {
			sp.Role = variant.Weighted
		}
		if sp.Role == variant.Shadow {
			sp.Weight, sp.Sample = 0, 1
		}
		if obj.Weight != nil {
			sp.Weight = *obj.Weight
		}
		if obj.Sample != nil {
			sp.Sample = *obj.Sample
		}
		if err := sp.Validate(); err != nil {
			return nil, fmt.Errorf("variants[%d]: %v", i, err)
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

// variantConfig is serve's champion/challenger settings.
type variantConfig struct {
	specs         variantList
	shadowQueue   int
	shadowWorkers int
	shadowMaxLive int
	shadowCPULoad float64
	shadowCPUWait time.Duration
	window        int
	// pendingOutcomes bounds the outcomes waiting for their lead's score
	// (0: none kept).
	pendingOutcomes int
	// file is the config file the specs came from, re-read on SIGHUP; ""
	// when they came from the command line or the environment.
	file string
}

func (v *variantConfig) addFlags(fs *flag.FlagSet) {
	fs.Var(&v.specs, "variant", "serve several models at once: `NAME=SOURCE[:ROLE]`, repeated; SOURCE is a model file, bundle\n"+
		"directory or registry:ROOT#NAME@STAGE; ROLE is weight=W (default 1), shadow or shadow=SHARE.\n"+
		"The first weighted variant is the champion (docs/variants.md)")
	fs.IntVar(&v.shadowQueue, "shadow-queue", httpapi.DefaultShadowQueue, "shadow `jobs` (a request's leads for the variants that did not answer them) that may wait\nto be scored; beyond it they are shed and counted")
	fs.IntVar(&v.shadowWorkers, "shadow-workers", httpapi.DefaultShadowWorkers, "goroutines scoring shadow variants off the request path")
	fs.IntVar(&v.shadowMaxLive, "shadow-max-live", 0, "shed (and count) shadow scoring while more than this many live `requests` are in flight:\nthe cores are busy with live work (0: GOMAXPROCS; negative: never shed for load)")
	fs.Float64Var(&v.shadowCPULoad, "shadow-max-cpu-load", httpapi.DefaultShadowMaxCPULoad, "shed (and count) shadow scoring while the process's CPU `load` over the last 20ms exceeds this:\nthe time its threads ran or waited for a core, over GOMAXPROCS cores' time (Linux; 0: never shed for it)")
	fs.DurationVar(&v.shadowCPUWait, "shadow-max-cpu-wait", httpapi.DefaultShadowMaxCPUWait, "shed (and count) shadow scoring while the process's threads waited longer than this\nfor a core, on average each time they ran, over the last 20ms: the machine's cores are\ncontended (Linux; 0: never shed for it)")
	fs.IntVar(&v.window, "variant-window", variant.DefaultWindow, "latest `leads` the live comparison of variants (GET /v1/variants) is over")
	fs.IntVar(&v.pendingOutcomes, "variant-pending-outcomes", variant.DefaultPendingOutcomes, "`outcomes` posted to /v1/feedback before the live comparison has seen their lead's score,\n"+
		"kept until it arrives; beyond it the oldest are evicted and counted (0: none kept)")
}

func (v *variantConfig) validate(model string) error {
	if len(v.specs) == 0 {
		return nil
	}
	if model != "" {
		return fmt.Errorf("%w: --model and --variant exclude each other: declare the model as a variant", errUsage)
	}
	if err := variant.ValidateSet(v.specs); err != nil {
		return fmt.Errorf("%w: --variant: %w", errUsage, err)
	}
	for _, sp := range v.specs {
		if sp.Source == "" {
			return fmt.Errorf("%w: --variant %s: no model source", errUsage, sp.Name)
		}
	}
	if v.shadowQueue < 1 || v.shadowWorkers < 1 || v.shadowWorkers > 64 || v.window < 100 || v.window > 10_000_000 ||
		v.pendingOutcomes < 0 || v.pendingOutcomes > variant.MaxPendingOutcomes {
		return fmt.Errorf("%w: --shadow-queue must be positive, --shadow-workers in [1, 64], --variant-window in [100, 10000000], --variant-pending-outcomes in [0, 10000000]", errUsage)
	}
	return nil
}

// variantServing is the serving side of the variants: a loader per
// variant (registry sources followed), each variant's last loaded bundle
// and drift monitor, and the live comparison.
type variantServing struct {
	opts      registry.Options
	log       *slog.Logger
	mu        sync.Mutex
	followers map[string]*registry.Follower // by source
	bundles   map[string]*atomic.Pointer[bundle.Bundle]
	live      *variant.Live
	// monitors is each variant's drift monitor now (immutable; replaced
	// whole), read on the request path by Capture.
	monitors atomic.Pointer[monitorSet]
	// monMu guards the rest of the monitors' state: runs, the monitor of
	// each variant served (started when the variant appears, stopped when
	// it goes), noBase, mc and monCtx.
	monMu sync.Mutex
	runs  map[string]*variantMonitor
	// noBase is the bundle each variant without a monitor was last found
	// to have no baseline in (so a publish does not read it again).
	noBase map[string]*bundle.Bundle
	mc     *monitorConfig
	monCtx context.Context
	// outcomes and reg are what runtime-built monitors are given.
	outcomes monitor.FeedbackSink
	reg      prometheus.Registerer
	// fileSigs is each file-sourced variant's source and files'
	// signature as last loaded (read and written by the file watch only,
	// after the start).
	fileSigs  map[string]string
	first     leadscore.Scorer // the champion's first load, handed over once
	firstUsed atomic.Bool
}

func newVariantServing(ctx context.Context, c *variantConfig, watchInterval time.Duration, log *slog.Logger) (*variantServing, error) {
	vs := &variantServing{log: log, followers: map[string]*registry.Follower{}, bundles: map[string]*atomic.Pointer[bundle.Bundle]{},
		runs: map[string]*variantMonitor{}, noBase: map[string]*bundle.Bundle{}, live: variant.NewLive(c.specs, variant.LiveConfig{Window: c.window, PendingOutcomes: pendingOutcomes(c.pendingOutcomes)})}
	for _, sp := range c.specs {
		if registry.IsRef(sp.Source) {
			opts, err := registry.OptionsFromEnv(os.Getenv)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errUsage, err)
			}
			opts.Logger, opts.WatchInterval = log, watchInterval
			vs.opts = opts
			break
		}
	}
	for _, sp := range c.specs {
		if err := vs.follow(ctx, sp); err != nil {
			return nil, err
		}
	}
	champ := c.specs[variant.Champion(c.specs)]
	vs.monitors.Store(&monitorSet{champion: champ.Name})
	first, err := vs.load(champ)
	if err != nil {
		return nil, fmt.Errorf("%w: variant %s: %w", errInput, champ.Name, err)
	}
	vs.first = first
	return vs, nil
}

// follow resolves a registry source once (followers are shared by
// source).
func (vs *variantServing) follow(ctx context.Context, sp variant.Spec) error {
	if !registry.IsRef(sp.Source) {
		return nil
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.followers[sp.Source] != nil {
		return nil
	}
	f, err := registry.Follow(ctx, sp.Source, vs.opts)
	if err != nil {
		return fmt.Errorf("%w: variant %s: %s: %w", errInput, sp.Name, sp.Source, err)
	}
	vs.followers[sp.Source] = f
	return nil
}

// load loads a variant's model now, remembering its bundle.
func (vs *variantServing) load(sp variant.Spec) (leadscore.Scorer, error) {
	path := sp.Source
	vs.mu.Lock()
	if f := vs.followers[sp.Source]; f != nil {
		path = f.Dir()
	}
	slot := vs.bundles[sp.Name]
	if slot == nil {
		slot = &atomic.Pointer[bundle.Bundle]{}
		vs.bundles[sp.Name] = slot
	}
	vs.mu.Unlock()
	b, err := bundle.Load(path)
	if err != nil {
		return nil, err
	}
	slot.Store(b)
	return b, nil
}

// bundle is the bundle a variant loaded last.
func (vs *variantServing) bundle(name string) *bundle.Bundle {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if p := vs.bundles[name]; p != nil {
		return p.Load()
	}
	return nil
}

// variants builds the server's variants for specs (followers for new
// registry sources are resolved first).
func (vs *variantServing) variants(ctx context.Context, specs []variant.Spec) ([]httpapi.Variant, error) {
	champ := variant.Champion(specs)
	out := make([]httpapi.Variant, len(specs))
	for i, sp := range specs {
		if err := vs.follow(ctx, sp); err != nil {
			return nil, err
		}
		loader := leadscore.Loader(func() (leadscore.Scorer, error) { return vs.load(sp) })
		if i == champ {
			loader = func() (leadscore.Scorer, error) {
				if vs.firstUsed.CompareAndSwap(false, true) {
					return vs.first, nil
				}
				return vs.load(sp)
			}
		}
		out[i] = httpapi.Variant{Spec: sp, Loader: loader}
	}
	return out, nil
}

// watch follows every registry source: a promotion reloads the variants
// serving it. It returns when ctx is done.
func (vs *variantServing) watch(ctx context.Context, srv *httpapi.Server) {
	var wg sync.WaitGroup
	started := map[string]bool{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		vs.mu.Lock()
		for src, f := range vs.followers {
			if started[src] {
				continue
			}
			started[src] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = f.Watch(ctx, func(reason string) {
					for _, sp := range srv.Variants() {
						if sp.Source == src {
							_ = srv.ReloadVariant(ctx, sp.Name, reason) // logs the outcome; the publish rebases the monitor
						}
					}
				})
			}()
		}
		vs.mu.Unlock()
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C: // pick up registry sources added by a reconfiguration
		}
	}
}

// feedbackTee hands outcomes to several sinks (the lake and the live
// comparison of variants).
type feedbackTee []monitor.FeedbackSink

func (t feedbackTee) CaptureFeedback(outs []leadscore.Outcome) {
	for _, s := range t {
		s.CaptureFeedback(outs)
	}
}

// maxFeedbackBody bounds a POST /v1/feedback body when no drift monitor
// serves the route: the monitor's own bound, as SECURITY.md promises.
const maxFeedbackBody = monitor.MaxFeedbackBody

// feedbackHandler serves POST /v1/feedback when no drift monitor does
// (the champion has no baseline): outcomes go to the lake and the live
// comparison.
func feedbackHandler(sink monitor.FeedbackSink, stored bool, ids leadscore.IDLimits, win monitor.OutcomeWindow) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fail := func(status int, code, field, msg string) {
			w.WriteHeader(status)
			body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg, "row": nil, "field": nilIfEmpty(field)}})
			_, _ = w.Write(append(body, '\n'))
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			fail(http.StatusMethodNotAllowed, "method_not_allowed", "", "use POST")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFeedbackBody+1))
		if err != nil || len(body) > maxFeedbackBody {
			fail(http.StatusRequestEntityTooLarge, "body_too_large", "", fmt.Sprintf("feedback bodies are limited to %d bytes", maxFeedbackBody))
			return
		}
		fbs, err := monitor.ParseFeedback(body, time.Now().UTC(), ids, win)
		if err != nil {
			var fe *monitor.FeedbackError
			if errors.As(err, &fe) {
				fail(fe.Status(), fe.Code, fe.Field, fe.Message)
				return
			}
			fail(http.StatusBadRequest, "bad_json", "", err.Error())
			return
		}
		outs := make([]leadscore.Outcome, len(fbs))
		for i := range fbs {
			outs[i] = fbs[i].Outcome()
		}
		sink.CaptureFeedback(outs)
		res, _ := json.Marshal(monitor.FeedbackResult{Accepted: len(outs), Unmatched: len(outs), Stored: stored})
		_, _ = w.Write(append(res, '\n'))
	})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// readConfigVariants re-reads the variant list of a config file (for
// SIGHUP).
func readConfigVariants(path string) ([]variant.Spec, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the config file
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("config %s: %v", path, err)
	}
	v, ok := obj["variants"]
	if !ok {
		v, ok = obj["variant"]
	}
	if !ok {
		return nil, fmt.Errorf("config %s: no variants", path)
	}
	specs, err := parseVariantJSON(v)
	if err != nil {
		return nil, fmt.Errorf("config %s: %v", path, err)
	}
	return specs, variant.ValidateSet(specs)
}

// reconfigureVariants applies the config file's variant list (SIGHUP):
// weights, roles and sources change without a restart; a bad list
// changes nothing.
func reconfigureVariants(ctx context.Context, srv *httpapi.Server, vs *variantServing, file string, log *slog.Logger) {
	specs, err := readConfigVariants(file)
	if err == nil {
		var vars []httpapi.Variant
		if vars, err = vs.variants(ctx, specs); err == nil {
			err = srv.SetVariants(ctx, vars, "sighup")
		}
	}
	if err != nil {
		log.Error("variants: config not applied, nothing changed", "config", file, "error", err.Error())
	}
}

// fileSignature is a file-sourced variant's source and its files'
// signature, "" for a registry source or files that cannot be read.
func fileSignature(sp variant.Spec) string {
	if registry.IsRef(sp.Source) {
		return ""
	}
	sig, err := bundle.Signature(sp.Source)
	if err != nil {
		return ""
	}
	return sp.Source + "\n" + sig
}

// rememberFiles records each file-sourced variant's signature now.
func (vs *variantServing) rememberFiles(specs []variant.Spec) {
	vs.fileSigs = map[string]string{}
	for _, sp := range specs {
		vs.fileSigs[sp.Name] = fileSignature(sp)
	}
}

// reloadChanged reloads the variants whose model file or bundle changed
// since they were last loaded, and only those: the others keep their
// model and their drift monitor's window. Each publish rebases the
// reloaded variant's monitor (syncMonitors).
func (vs *variantServing) reloadChanged(ctx context.Context, srv *httpapi.Server, reason string) {
	for _, sp := range srv.Variants() {
		sig := fileSignature(sp)
		if sig == "" || vs.fileSigs[sp.Name] == sig {
			continue
		}
		if srv.ReloadVariant(ctx, sp.Name, reason) == nil { // logs the outcome
			vs.fileSigs[sp.Name] = sig
		}
	}
}

// variantFileSignature is the signature of every variant's model file or
// bundle directory (registry sources are followed by their own watch).
func variantFileSignature(specs []variant.Spec) (string, error) {
	var sb strings.Builder
	for _, sp := range specs {
		if registry.IsRef(sp.Source) {
			continue
		}
		sig, err := bundle.Signature(sp.Source)
		if err != nil {
			return "", err
		}
		sb.WriteString(sp.Name + "\n" + sig + "\n")
	}
	return sb.String(), nil
}

// shadowLimit maps --shadow-max-cpu-load and --shadow-max-cpu-wait onto
// httpapi's settings, where 0 means the default: the flag's 0 (or less)
// turns the check off.
func shadowLimit[T float64 | time.Duration](v T) T {
	if !(v > 0) {
		return -1
	}
	return v
}

// pendingOutcomes maps --variant-pending-outcomes onto
// variant.LiveConfig, where 0 means the default: the flag's 0 keeps none.
func pendingOutcomes(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
