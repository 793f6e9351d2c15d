package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the webhook alerts.
const (
	DefaultAlertCooldown = time.Hour
	DefaultAlertRetries  = 3
	DefaultAlertBackoff  = time.Second
	DefaultAlertTimeout  = 5 * time.Second
	// maxAlertLines bounds the violations listed in one message.
	maxAlertLines = 20
)

// AlertConfig configures alerts: a webhook, other channels (Amazon SNS)
// or both.
type AlertConfig struct {
	// WebhookURL receives a POST of {"text": "..."}, the payload of a Slack
	// incoming webhook (also accepted by Mattermost, Rocket.Chat, Teams
	// workflows and most chat tools). It is a secret: never logged.
	WebhookURL string
	// Notifiers are further channels, such as an SNS topic
	// (monitor/sns). Each gets every alert once.
	Notifiers []Notifier
	// StatePath, when set, is a file where the alert state (which checks
	// are violated, which were notified on which channel, and when) is
	// kept, so that a restart neither repeats an alert nor forgets a
	// cool-down. It is read by NewAlerter and rewritten (atomically) after
	// every change.
	StatePath string
	// Cooldown is the least time between two notifications of the same
	// check (a feature and a check type); while a check stays violated it
	// is notified once. Default 1h.
	Cooldown time.Duration
	// Retries is how many times a failed post is retried, with Backoff
	// doubling between tries (defaults 3 and 1s); 4xx answers other than
	// 429 are not retried. Negative means no retry.
	Retries int
	Backoff time.Duration
	// Timeout bounds each try (default 5s).
	Timeout time.Duration
	// Title starts every message, such as "leadscore lead-demo 1.0.0".
	Title string
	// Client sends the posts (default: a client with Timeout).
	Client *http.Client
}

// Notifier is an alert channel. Notify delivers one message (subject and
// text), retrying as its transport does, and returns an error once it
// gives up; the alert is then tried again at the next Update. Name names
// the channel in the persisted state.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, subject, text string) error
}

// Alerter sends violated checks to its channels: once when a check starts
// failing, never again while it stays violated, and not twice within the
// cool-down of the same check. Each channel is tracked on its own, so a
// channel that failed is retried at the next Update without repeating the
// alert on the others. It is safe for concurrent use.
type Alerter struct {
	cfg      AlertConfig
	channels []Notifier
	mu       sync.Mutex
	title    atomic.Pointer[string] // set by setTitle; nil: cfg.Title
	states   map[alertKey]*alertState

	active    *prometheus.GaugeVec
	sent      *prometheus.CounterVec
	lastSent  prometheus.Gauge
	postFails prometheus.Counter
}

// alertKey is one check: a feature and a check type, and for bias and
// attribution checks the facet group and metric.
type alertKey struct{ feature, check, detail string }

func keyOf(v Violation) alertKey {
	d := v.MetricName
	if v.FacetValue != "" {
		d = v.FacetValue + " " + d
	}
	return alertKey{v.FeatureName, v.ConstraintCheckType, d}
}

// setTitle changes the title of later alerts (a reloaded model); it does
// not wait for a post in progress.
func (a *Alerter) setTitle(t string) { a.title.Store(&t) }

func (a *Alerter) titleNow() string {
	if t := a.title.Load(); t != nil {
		return *t
	}
	return a.cfg.Title
}

type alertState struct {
	violated bool
	pending  bool // counted as suppressed already
	desc     string
	sent     map[string]*channelState
}

// channelState is a check's state on one channel.
type channelState struct {
	notified bool      // this episode was delivered
	lastSent time.Time // last delivery of this check
}

func (st *alertState) channel(name string) *channelState {
	c := st.sent[name]
	if c == nil {
		c = &channelState{}
		st.sent[name] = c
	}
	return c
}

// webhook is the webhook channel.
type webhookChannel struct{ a *Alerter }

func (w webhookChannel) Name() string { return "webhook" }

func (w webhookChannel) Notify(ctx context.Context, _, text string) error { return w.a.post(ctx, text) }

// NewAlerter checks cfg, fills its defaults, reads the persisted state
// (if any) and registers the alert metrics on reg.
func NewAlerter(cfg AlertConfig, reg prometheus.Registerer) (*Alerter, error) {
	if cfg.WebhookURL == "" && len(cfg.Notifiers) == 0 {
		return nil, errors.New("alerts: no webhook URL and no other channel")
	}
	if cfg.WebhookURL != "" {
		u, err := url.Parse(cfg.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("alert webhook: want an http:// or https:// URL")
		}
	}
	if cfg.Cooldown == 0 {
		cfg.Cooldown = DefaultAlertCooldown
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultAlertRetries
	}
	cfg.Retries = max(cfg.Retries, 0)
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultAlertBackoff
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultAlertTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Title == "" {
		cfg.Title = "leadscore"
	}
	a := &Alerter{
		cfg:    cfg,
		states: make(map[alertKey]*alertState),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leadscore_monitor_alert_active",
			Help: "1 while a check (feature and check type) is violated, 0 once it clears.",
		}, []string{"feature", "check"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_monitor_alerts_total",
			Help: "Check violations by alert outcome: sent, suppressed (within the cool-down) or failed (post failed after retries).",
		}, []string{"result"}),
		lastSent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leadscore_monitor_alert_last_sent_timestamp_seconds",
			Help: "When an alert was last posted successfully.",
		}),
		postFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_monitor_alert_post_failures_total",
			Help: "Alert delivery attempts that failed (each webhook retry counts).",
		}),
	}
	if cfg.WebhookURL != "" {
		a.channels = append(a.channels, webhookChannel{a})
	}
	seen := map[string]bool{}
	for _, n := range append(append([]Notifier(nil), a.channels...), cfg.Notifiers...) {
		if seen[n.Name()] {
			return nil, fmt.Errorf("alerts: two channels named %s", n.Name())
		}
		seen[n.Name()] = true
	}
	a.channels = append(a.channels, cfg.Notifiers...)
	if err := a.loadState(); err != nil {
		return nil, err
	}
	if err := register(reg, a.active, a.sent, a.lastSent, a.postFails); err != nil {
		return nil, err
	}
	for _, r := range []string{"sent", "suppressed", "failed"} {
		a.sent.WithLabelValues(r)
	}
	for k, st := range a.states {
		if st.violated {
			a.active.WithLabelValues(k.feature, k.check).Set(1)
		}
	}
	return a, nil
}

// Update takes the violations of an evaluation at now and delivers those
// that are due on each channel. It returns the channels' errors, if any;
// their violations stay due and are tried again at the next Update.
func (a *Alerter) Update(ctx context.Context, now time.Time, violations []Violation) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := false
	current := make(map[alertKey]string, len(violations))
	for _, v := range violations {
		current[keyOf(v)] = v.Description
	}
	for k, st := range a.states {
		if _, ok := current[k]; !ok && st.violated {
			st.violated, st.pending = false, false
			for _, c := range st.sent {
				c.notified = false
			}
			a.active.WithLabelValues(k.feature, k.check).Set(0)
			changed = true
		}
		if !st.violated && a.cooledDown(st, now) {
			delete(a.states, k) // bounded: only checks seen within a cool-down remain
			changed = true
		}
	}
	for k, desc := range current {
		st := a.states[k]
		if st == nil {
			st = &alertState{sent: map[string]*channelState{}}
			a.states[k] = st
		}
		if !st.violated {
			st.violated = true
			a.active.WithLabelValues(k.feature, k.check).Set(1)
			changed = true
		}
		st.desc = desc
	}
	var errs []error
	for _, ch := range a.channels {
		var due []alertKey
		for k := range current {
			st := a.states[k]
			c := st.channel(ch.Name())
			if c.notified {
				continue
			}
			if !c.lastSent.IsZero() && now.Sub(c.lastSent) < a.cfg.Cooldown {
				if !st.pending {
					st.pending = true
					changed = true
					a.sent.WithLabelValues("suppressed").Inc()
				}
				continue
			}
			due = append(due, k)
		}
		if len(due) == 0 {
			continue
		}
		sortKeys(due)
		subject, text := a.message(due)
		if err := ch.Notify(ctx, subject, text); err != nil {
			if ch.Name() != "webhook" {
				a.postFails.Inc()
			}
			a.sent.WithLabelValues("failed").Add(float64(len(due)))
			errs = append(errs, fmt.Errorf("%s: %w", ch.Name(), err))
			continue
		}
		for _, k := range due {
			st := a.states[k]
			c := st.channel(ch.Name())
			c.notified, c.lastSent, st.pending = true, now, false
		}
		changed = true
		a.sent.WithLabelValues("sent").Add(float64(len(due)))
		a.lastSent.Set(float64(now.UnixNano()) / 1e9)
	}
	if changed {
		if err := a.saveState(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cooledDown reports whether every channel's last delivery of a check is
// older than the cool-down.
func (a *Alerter) cooledDown(st *alertState, now time.Time) bool {
	for _, c := range st.sent {
		if now.Sub(c.lastSent) < a.cfg.Cooldown {
			return false
		}
	}
	return true
}

func sortKeys(ks []alertKey) {
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].feature != ks[j].feature {
			return ks[i].feature < ks[j].feature
		}
		if ks[i].check != ks[j].check {
			return ks[i].check < ks[j].check
		}
		return ks[i].detail < ks[j].detail
	})
}

// stateFile is the persisted alert state.
type stateFile struct {
	Version int          `json:"version"`
	Checks  []stateCheck `json:"checks"`
}

type stateCheck struct {
	Feature     string                  `json:"feature"`
	Check       string                  `json:"check"`
	Detail      string                  `json:"detail,omitempty"`
	Violated    bool                    `json:"violated"`
	Pending     bool                    `json:"pending,omitempty"`
	Description string                  `json:"description"`
	Channels    map[string]stateChannel `json:"channels"`
}

type stateChannel struct {
	Notified bool      `json:"notified"`
	LastSent time.Time `json:"last_sent"`
}

// loadState reads cfg.StatePath; a missing file is an empty state.
func (a *Alerter) loadState() error {
	if a.cfg.StatePath == "" {
		return nil
	}
	raw, err := os.ReadFile(a.cfg.StatePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("alert state %s: %w (delete it to start afresh)", a.cfg.StatePath, err)
	}
	for _, c := range f.Checks {
		st := &alertState{violated: c.Violated, pending: c.Pending, desc: c.Description, sent: map[string]*channelState{}}
		for name, ch := range c.Channels {
			st.sent[name] = &channelState{notified: ch.Notified, lastSent: ch.LastSent}
		}
		a.states[alertKey{c.Feature, c.Check, c.Detail}] = st
	}
	return nil
}

// saveState writes the state to cfg.StatePath through a temporary file
// and a rename, so that a crash leaves the old or the new state.
func (a *Alerter) saveState() error {
	if a.cfg.StatePath == "" {
		return nil
	}
	f := stateFile{Version: 1, Checks: []stateCheck{}}
	keys := make([]alertKey, 0, len(a.states))
	for k := range a.states {
		keys = append(keys, k)
	}
	sortKeys(keys)
	for _, k := range keys {
		st := a.states[k]
		c := stateCheck{Feature: k.feature, Check: k.check, Detail: k.detail, Violated: st.violated, Pending: st.pending,
			Description: st.desc, Channels: map[string]stateChannel{}}
		for name, ch := range st.sent {
			c.Channels[name] = stateChannel{Notified: ch.notified, LastSent: ch.lastSent.UTC()}
		}
		f.Checks = append(f.Checks, c)
	}
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	dir := filepath.Dir(a.cfg.StatePath)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".alert-state-*")
	if err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	_, werr := tmp.Write(append(raw, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("alert state: %w", err)
	}
	if err := os.Rename(tmp.Name(), a.cfg.StatePath); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("alert state: %w", err)
	}
	return nil
}

// message is the subject and text of an alert listing the due checks.
func (a *Alerter) message(due []alertKey) (subject, text string) {
	var b strings.Builder
	noun := "violations"
	if len(due) == 1 {
		noun = "violation"
	}
	fmt.Fprintf(&b, "%s: %d new monitoring %s", a.titleNow(), len(due), noun)
	subject = b.String()
	for i, k := range due {
		if i == maxAlertLines {
			fmt.Fprintf(&b, "\n... and %d more (GET /v1/monitoring)", len(due)-i)
			break
		}
		check := k.check
		if k.detail != "" {
			check += " " + k.detail
		}
		fmt.Fprintf(&b, "\n- %s %s: %s", k.feature, check, a.states[k].desc)
	}
	return subject, b.String()
}

// post sends {"text": text}, retrying failures with a doubling backoff.
func (a *Alerter) post(ctx context.Context, text string) error {
	body, err := json.Marshal(struct {
		Text string `json:"text"`
	}{text})
	if err != nil {
		return err
	}
	wait := a.cfg.Backoff
	var last error
	for try := 0; try <= a.cfg.Retries; try++ {
		if try > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("alert webhook: %w (last error: %w)", ctx.Err(), last)
			case <-t.C:
			}
			wait *= 2
		}
		retry, err := a.try(ctx, body)
		if err == nil {
			return nil
		}
		a.postFails.Inc()
		last = err
		if !retry {
			break
		}
	}
	return fmt.Errorf("alert webhook: %w", last)
}

// try posts once; retry reports whether a failure may pass on retrying.
func (a *Alerter) try(ctx context.Context, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		// The error names the URL, which is a secret; keep only the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return true, fmt.Errorf("post failed: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	return retry, fmt.Errorf("webhook answered %s", resp.Status)
}
