package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// AlertConfig configures webhook alerts.
type AlertConfig struct {
	// WebhookURL receives a POST of {"text": "..."}, the payload of a Slack
	// incoming webhook (also accepted by Mattermost, Rocket.Chat, Teams
	// workflows and most chat tools). It is a secret: never logged.
	WebhookURL string
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

// Alerter posts violated checks to a webhook: once when a check starts
// failing, never again while it stays violated, and not twice within the
// cool-down of the same check. A post that fails after its retries is
// tried again at the next Update. It is safe for concurrent use.
type Alerter struct {
	cfg    AlertConfig
	mu     sync.Mutex
	title  atomic.Pointer[string] // set by setTitle; nil: cfg.Title
	states map[alertKey]*alertState

	active    *prometheus.GaugeVec
	sent      *prometheus.CounterVec
	lastSent  prometheus.Gauge
	postFails prometheus.Counter
}

type alertKey struct{ feature, check string }

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
	notified bool      // this episode was posted
	pending  bool      // counted as suppressed already
	lastSent time.Time // last successful post of this check
	desc     string
}

// NewAlerter checks cfg, fills its defaults and registers the alert
// metrics on reg.
func NewAlerter(cfg AlertConfig, reg prometheus.Registerer) (*Alerter, error) {
	u, err := url.Parse(cfg.WebhookURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("alert webhook: want an http:// or https:// URL")
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
			Help: "Webhook post attempts that failed (each retry counts).",
		}),
	}
	if err := register(reg, a.active, a.sent, a.lastSent, a.postFails); err != nil {
		return nil, err
	}
	for _, r := range []string{"sent", "suppressed", "failed"} {
		a.sent.WithLabelValues(r)
	}
	return a, nil
}

// Update takes the violations of an evaluation at now and posts those
// that are due. It returns the post's error, if any; the violations stay
// due and are tried again at the next Update.
func (a *Alerter) Update(ctx context.Context, now time.Time, violations []Violation) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	current := make(map[alertKey]string, len(violations))
	for _, v := range violations {
		current[alertKey{v.FeatureName, v.ConstraintCheckType}] = v.Description
	}
	for k, st := range a.states {
		if _, ok := current[k]; !ok && st.violated {
			st.violated, st.notified, st.pending = false, false, false
			a.active.WithLabelValues(k.feature, k.check).Set(0)
		}
		if !st.violated && now.Sub(st.lastSent) >= a.cfg.Cooldown {
			delete(a.states, k) // bounded: only checks seen within a cool-down remain
		}
	}
	var due []alertKey
	for k, desc := range current {
		st := a.states[k]
		if st == nil {
			st = &alertState{}
			a.states[k] = st
		}
		if !st.violated {
			st.violated = true
			a.active.WithLabelValues(k.feature, k.check).Set(1)
		}
		st.desc = desc
		if st.notified {
			continue
		}
		if !st.lastSent.IsZero() && now.Sub(st.lastSent) < a.cfg.Cooldown {
			if !st.pending {
				st.pending = true
				a.sent.WithLabelValues("suppressed").Inc()
			}
			continue
		}
		due = append(due, k)
	}
	if len(due) == 0 {
		return nil
	}
	sort.Slice(due, func(i, j int) bool {
		if due[i].feature != due[j].feature {
			return due[i].feature < due[j].feature
		}
		return due[i].check < due[j].check
	})
	if err := a.post(ctx, a.message(due)); err != nil {
		a.sent.WithLabelValues("failed").Add(float64(len(due)))
		return err
	}
	for _, k := range due {
		st := a.states[k]
		st.notified, st.pending, st.lastSent = true, false, now
	}
	a.sent.WithLabelValues("sent").Add(float64(len(due)))
	a.lastSent.Set(float64(now.UnixNano()) / 1e9)
	return nil
}

// message is the text of an alert listing the due checks.
func (a *Alerter) message(due []alertKey) string {
	var b strings.Builder
	noun := "violations"
	if len(due) == 1 {
		noun = "violation"
	}
	fmt.Fprintf(&b, "%s: %d new monitoring %s", a.titleNow(), len(due), noun)
	for i, k := range due {
		if i == maxAlertLines {
			fmt.Fprintf(&b, "\n... and %d more (GET /v1/monitoring)", len(due)-i)
			break
		}
		fmt.Fprintf(&b, "\n- %s %s: %s", k.feature, k.check, a.states[k].desc)
	}
	return b.String()
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
