package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/monitor"
	"github.com/leadscore/leadscore/monitor/sns"
)

// monitorConfig is serve's live drift monitoring: on by default when the
// model's bundle ships a training baseline.
type monitorConfig struct {
	enabled    bool
	windowRows int
	windowAge  time.Duration
	interval   time.Duration
	webhookURL string
	cooldown   time.Duration
	minRows    int
	outOfRange float64
	psiLimit   float64
	queue      int
	queueRecs  int
	drain      time.Duration
	attrShare  float64
	attrRate   float64
	attrQueue  int
	attrGather time.Duration
	attrRows   int
	snsTopic   string
	snsRegion  string
	snsURL     string
	alertState string
	// lakeDir is the local lake's directory when the lake is on: the
	// default home of the alert state.
	lakeDir string
	// notifiers are the channels besides the webhook, built once.
	notifiers []monitor.Notifier
	// built counts the monitors built: the first (the champion's) keeps
	// the alert state file, the variants' get their own.
	built int
	// ids bounds feedback ids: serve's --max-lead-id-bytes and
	// --max-inference-id-length.
	ids leadscore.IDLimits
	// outcomes bounds feedback outcome times: --max-outcome-age and
	// --max-outcome-skew (also used by /v1/feedback without a monitor).
	outcomes monitor.OutcomeWindow
}

// addFlags registers the monitoring flags on fs.
func (m *monitorConfig) addFlags(fs *flag.FlagSet) {
	fs.BoolVar(&m.enabled, "monitor", true, "monitor drift live against the bundle's training baseline (when it has one)")
	fs.IntVar(&m.windowRows, "monitor-window-rows", 10000, "the drift window keeps this many latest `rows`")
	fs.DurationVar(&m.windowAge, "monitor-window-age", 0, "also drop rows older than this from the window (0: rows only)")
	fs.DurationVar(&m.interval, "monitor-interval", 30*time.Second, "how often the checks run, updating /metrics and alerts")
	fs.IntVar(&m.minRows, "monitor-min-rows", 100, "checks wait for this many `rows` in the window")
	fs.Float64Var(&m.outOfRange, "monitor-out-of-range", 0.05, "share of values outside the baseline's range that is a violation (negative: off)")
	fs.Float64Var(&m.psiLimit, "monitor-psi-threshold", 0, "PSI above which a feature is a violation (0: PSI is reported, not checked)")
	fs.IntVar(&m.queue, "monitor-queue", monitor.DefaultQueueBatches, "scored batches waiting for the monitor; beyond it they are dropped from the window and counted")
	fs.IntVar(&m.queueRecs, "monitor-queue-records", monitor.DefaultQueueRecords, "scored `leads` waiting for the monitor, in all (the requests' own storage, held by reference);\nbeyond it a request's leads are dropped from the window and counted")
	fs.DurationVar(&m.drain, "monitor-drain-interval", monitor.DefaultDrainInterval, "longest time scored leads wait in the queue before the monitor adds them to its window\n(one wake-up serves all of them; reports and feedback add what is queued first)")
	fs.StringVar(&m.webhookURL, "monitor-webhook-url", "", "Slack-compatible incoming webhook `URL` for violation alerts (a secret: prefer the environment variable)")
	fs.DurationVar(&m.cooldown, "monitor-alert-cooldown", time.Hour, "least time between two alerts for the same check")
	fs.StringVar(&m.snsTopic, "monitor-sns-topic-arn", "", "Amazon SNS topic `ARN` that also receives violation alerts (credentials: the AWS default chain)")
	fs.StringVar(&m.snsRegion, "monitor-sns-region", "", "the SNS topic's `region` (default: the ARN's)")
	fs.StringVar(&m.snsURL, "monitor-sns-endpoint", "", "SNS endpoint `URL` (a VPC endpoint or a stand-in; default AWS's)")
	fs.StringVar(&m.alertState, "monitor-alert-state", "", "`file` keeping the alert state across restarts (default: _alert-state.json in the local --lake-dir when the lake is on; \"off\": in memory)")
	fs.DurationVar(&m.outcomes.MaxAge, "max-outcome-age", monitor.DefaultMaxOutcomeAge, "oldest outcome time /v1/feedback accepts, a `duration` before its receipt; older is a\n422 invalid_value naming the field (outcomes are partitioned by the time received)")
	fs.DurationVar(&m.outcomes.MaxSkew, "max-outcome-skew", monitor.DefaultMaxOutcomeSkew, "how far after its receipt (a `duration`) an outcome time may lie, for senders' clocks\nahead; later is a 422 invalid_value naming the field")
	fs.Float64Var(&m.attrShare, "monitor-attribution-share", monitor.DefaultAttributionShare, "share of scored leads explained (TreeSHAP, off the request path) for attribution drift; 0: off")
	fs.Float64Var(&m.attrRate, "monitor-attribution-rate", monitor.DefaultAttributionRate, "most leads explained per second for attribution drift, whatever the traffic, so that explaining stays a small fixed CPU cost (0: no cap)")
	fs.IntVar(&m.attrQueue, "monitor-attribution-queue", monitor.DefaultAttributionQueue, "sampled leads waiting to be explained; beyond it they are shed and counted")
	fs.DurationVar(&m.attrGather, "monitor-attribution-gather", monitor.DefaultAttributionGather, "how long the explainer waits, once a sampled lead arrives, for more to explain in the same\ncall (cheaper per lead: the TreeSHAP tables come into cache once); 0: none")
	fs.IntVar(&m.attrRows, "monitor-attribution-rows", monitor.DefaultAttributionRows, "attribution drift averages the latest this many explained leads")
}

// validate checks the monitoring settings.
func (m *monitorConfig) validate() error {
	if m.windowRows < 1 || m.windowRows > 1<<20 || m.windowAge < 0 || m.interval <= 0 || m.minRows < 1 || m.queue < 1 || m.queueRecs < 1 || m.cooldown < 0 ||
		m.drain <= 0 || m.drain > time.Second {
		return fmt.Errorf("%w: --monitor-window-rows must be in [1, 1048576]; --monitor-interval, -min-rows, -queue and -queue-records positive; --monitor-drain-interval in (0, 1s]; ages and cool-down not negative", errUsage)
	}
	if !(m.attrShare >= 0 && m.attrShare <= 1) || !(m.attrRate >= 0) || m.attrQueue < 1 || m.attrRows < 1 || m.attrRows > 1<<20 ||
		m.attrGather < 0 || m.attrGather > time.Minute {
		return fmt.Errorf("%w: --monitor-attribution-share must be in [0, 1], --monitor-attribution-rate not negative, --monitor-attribution-queue positive, --monitor-attribution-rows in [1, 1048576], --monitor-attribution-gather in [0, 1m]", errUsage)
	}
	if m.outcomes.MaxAge <= 0 || m.outcomes.MaxSkew <= 0 {
		return fmt.Errorf("%w: --max-outcome-age and --max-outcome-skew must be positive", errUsage)
	}
	return nil
}

// build returns a Monitor for the bundle's baseline, or nil when
// monitoring is off or the bundle has no baseline. Accepted outcomes go to
// outcomes (the lake; nil: not stored).
func (m *monitorConfig) build(b *bundle.Bundle, outcomes monitor.FeedbackSink, reg prometheus.Registerer, log *slog.Logger) (*monitor.Monitor, error) {
	if !m.enabled || b == nil {
		return nil, nil
	}
	base, err := monitor.ReadBaseline(b.ReadBaseline)
	if errors.Is(err, fs.ErrNotExist) {
		log.Info("drift monitoring off: the model has no baseline", "model", b.Info().Name)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: baseline of %s: %w", errInput, b.Info().Name, err)
	}
	suffix := ""
	if m.built++; m.built > 1 {
		suffix = "-" + b.Info().Name
	}
	checks := monitor.Checks{MinRows: m.minRows, OutOfRangeThreshold: m.outOfRange, PSIThreshold: m.psiLimit}
	info := b.Info()
	return monitor.New(monitor.Config{
		Baseline:      base,
		Features:      b.FeatureNames(),
		Tiers:         info.Tiers,
		Model:         monitor.ModelRef{Name: info.Name, Version: info.Version},
		WindowRows:    m.windowRows,
		WindowAge:     m.windowAge,
		QueueBatches:  m.queue,
		QueueRecords:  m.queueRecs,
		DrainInterval: m.drain,
		EvalInterval:  m.interval,
		Checks:        checks,
		Registerer:    reg,
		Alerts:        m.alertConfig("", suffix),
		Logger:        log,
		FeedbackSink:  outcomes,
		Bias:          b.Manifest().Bias,
		Attribution:   m.attribution(b),
		IDs:           m.ids,
		Outcomes:      m.outcomes,
	})
}

// alertsOn reports whether any alert channel is configured.
func (m *monitorConfig) alertsOn() bool { return m.webhookURL != "" || m.snsTopic != "" }

// buildNotifiers builds the channels besides the webhook (SNS).
func (m *monitorConfig) buildNotifiers(ctx context.Context) error {
	if m.snsTopic == "" || m.notifiers != nil {
		return nil
	}
	p, err := sns.New(ctx, sns.Config{TopicARN: m.snsTopic, Region: m.snsRegion, Endpoint: m.snsURL})
	if err != nil {
		return fmt.Errorf("%w: --monitor-sns-topic-arn: %w", errUsage, err)
	}
	m.notifiers = []monitor.Notifier{p}
	return nil
}

// alertConfig is the alert setting of one alerter: the drift monitor's
// (suffix "") or the lake health's ("-lake"), each with its own state
// file.
func (m *monitorConfig) alertConfig(title, suffix string) monitor.AlertConfig {
	state := m.alertState
	switch {
	case state == "off":
		state = ""
	case state == "" && m.lakeDir != "":
		state = filepath.Join(m.lakeDir, "_alert-state.json")
	}
	if state != "" && suffix != "" {
		state = strings.TrimSuffix(state, ".json") + suffix + ".json"
	}
	return monitor.AlertConfig{WebhookURL: m.webhookURL, Notifiers: m.notifiers, StatePath: state,
		Cooldown: m.cooldown, Title: title}
}

// attribution is the live attribution drift setting for bundle b: its
// forest explains the sampled leads (off with a zero share).
func (m *monitorConfig) attribution(b *bundle.Bundle) monitor.AttributionConfig {
	if m.attrShare == 0 {
		return monitor.AttributionConfig{}
	}
	rate := m.attrRate
	if rate == 0 {
		rate = -1 // the flag's 0 is no cap; the library's 0 is its default
	}
	gather := m.attrGather
	if gather == 0 {
		gather = -1 // the flag's 0 is none; the library's 0 is its default
	}
	return monitor.AttributionConfig{Explain: b.Forest().ContributionsBatch, SampleShare: m.attrShare,
		MaxPerSecond: rate, Queue: m.attrQueue, Gather: gather, WindowRows: m.attrRows}
}

// rebase points mon at a reloaded model's baseline. A model without one
// (or with an unreadable one) leaves the monitor on the previous baseline,
// which its reports name, and says so in the log.
func (m *monitorConfig) rebase(mon *monitor.Monitor, b *bundle.Bundle, info leadscore.ModelInfo, log *slog.Logger) {
	keep := func(why string, err error) {
		attrs := []any{"model", info.Name, "version", info.Version, "why", why}
		if err != nil {
			attrs = append(attrs, "error", err.Error())
		}
		log.Warn("drift monitor keeps the previous model's baseline", attrs...)
	}
	if b == nil {
		keep("the reloaded model is not a bundle with a baseline", nil)
		return
	}
	base, err := monitor.ReadBaseline(b.ReadBaseline)
	if errors.Is(err, fs.ErrNotExist) {
		keep("the reloaded model has no baseline", nil)
		return
	}
	if err != nil {
		keep("its baseline cannot be read", err)
		return
	}
	if err := mon.Rebase(monitor.Rebase{Baseline: base, Features: featureNames(info), Tiers: info.Tiers,
		Model: monitor.ModelRef{Name: info.Name, Version: info.Version},
		Bias:  b.Manifest().Bias, Explain: m.attribution(b).Explain}); err != nil {
		keep("its baseline does not fit", err)
	}
}
