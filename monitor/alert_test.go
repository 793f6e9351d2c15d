package monitor

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// webhook is a test webhook on 127.0.0.1 that answers with the queued
// statuses (200 when none is left) and records the texts it got.
type webhook struct {
	mu       sync.Mutex
	statuses []int
	texts    []string
	tries    int
	srv      *httptest.Server
}

func newWebhook(t *testing.T, statuses ...int) *webhook {
	w := &webhook{statuses: statuses}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.tries++
		status := 200
		if len(w.statuses) > 0 {
			status, w.statuses = w.statuses[0], w.statuses[1:]
		}
		if r.Header.Get("Content-Type") != "application/json" {
			status = 415
		}
		if status == 200 {
			var msg map[string]string
			if err := json.Unmarshal(body, &msg); err != nil || len(msg) != 1 {
				t.Errorf("payload %s is not {\"text\": ...}", body)
			}
			w.texts = append(w.texts, msg["text"])
		}
		rw.WriteHeader(status)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) got() ([]string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.texts...), w.tries
}

func TestAlerterCooldown(t *testing.T) {
	hook := newWebhook(t)
	reg := prometheus.NewRegistry()
	a, err := NewAlerter(AlertConfig{WebhookURL: hook.srv.URL, Cooldown: time.Hour, Title: "t"}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	drift := newViolation("x", CheckDrift, "distance 0.2")
	comp := newViolation("y", CheckCompleteness, "0.7 < 0.9")
	step := func(at time.Duration, wantPosts int, vs ...Violation) {
		t.Helper()
		if err := a.Update(ctx, t0.Add(at), vs); err != nil {
			t.Fatal(err)
		}
		if texts, _ := hook.got(); len(texts) != wantPosts {
			t.Fatalf("at %v: %d posts, want %d: %q", at, len(texts), wantPosts, texts)
		}
	}
	step(0, 1, drift)                            // new: posted
	step(time.Minute, 1, drift)                  // still violated: no duplicate
	step(2*time.Minute, 2, drift, comp)          // another check: posted alone
	step(3*time.Minute, 2)                       // both clear
	step(4*time.Minute, 2, drift)                // back within the cool-down: suppressed
	step(30*time.Minute, 2, drift)               // still suppressed
	step(61*time.Minute, 3, drift)               // cool-down over, still violated: posted
	step(62*time.Minute, 3, drift)               // no duplicate
	step(200*time.Minute, 3)                     // clears; state forgotten after the cool-down
	step(201*time.Minute, 4, drift, drift, comp) // new episode of both, one message
	texts, _ := hook.got()
	if texts[0] != "t: 1 new monitoring violation\n- x baseline_drift_check: distance 0.2" {
		t.Errorf("message %q", texts[0])
	}
	if !strings.HasPrefix(texts[3], "t: 2 new monitoring violations\n- x ") || !strings.Contains(texts[3], "\n- y completeness_check: 0.7 < 0.9") {
		t.Errorf("message %q", texts[3])
	}
	if got := testutil.ToFloat64(a.sent.WithLabelValues("sent")); got != 5 {
		t.Errorf("sent %v", got)
	}
	if got := testutil.ToFloat64(a.sent.WithLabelValues("suppressed")); got != 1 {
		t.Errorf("suppressed %v", got)
	}
	if got := testutil.ToFloat64(a.active.WithLabelValues("y", CheckCompleteness)); got != 1 {
		t.Errorf("active %v", got)
	}
	step(202*time.Minute, 4)
	if got := testutil.ToFloat64(a.active.WithLabelValues("x", CheckDrift)); got != 0 {
		t.Errorf("active after clearing %v", got)
	}
	// Many violations: the message is bounded.
	var many []Violation
	for i := range 30 {
		many = append(many, newViolation("f"+itoa(i), CheckDrift, "d"))
	}
	step(300*time.Minute, 5, many...)
	if texts, _ := hook.got(); !strings.HasSuffix(texts[4], "... and 10 more (GET /v1/monitoring)") {
		t.Errorf("long message %q", texts[4])
	}
}

func TestAlerterRetries(t *testing.T) {
	ctx := context.Background()
	v := []Violation{newViolation("x", CheckDrift, "d")}
	// Two server errors, then success: three tries, one alert.
	hook := newWebhook(t, 500, 503)
	a, err := NewAlerter(AlertConfig{WebhookURL: hook.srv.URL, Backoff: time.Millisecond}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Update(ctx, t0, v); err != nil {
		t.Fatal(err)
	}
	if texts, tries := hook.got(); len(texts) != 1 || tries != 3 || testutil.ToFloat64(a.postFails) != 2 {
		t.Errorf("%d posts in %d tries", len(texts), tries)
	}
	// Always failing: 1 + Retries tries, an error, and the alert is still
	// due at the next update.
	hook = newWebhook(t, 500, 500, 500, 429, 500)
	a, err = NewAlerter(AlertConfig{WebhookURL: hook.srv.URL, Backoff: time.Millisecond, Retries: 3}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Update(ctx, t0, v); err == nil || strings.Contains(err.Error(), hook.srv.URL) {
		t.Errorf("error %v (must not name the URL)", err)
	}
	if _, tries := hook.got(); tries != 4 || testutil.ToFloat64(a.sent.WithLabelValues("failed")) != 1 {
		t.Errorf("%d tries", tries)
	}
	if err := a.Update(ctx, t0.Add(time.Minute), v); err != nil {
		t.Fatal(err)
	}
	if texts, tries := hook.got(); len(texts) != 1 || tries != 6 {
		t.Errorf("retried later: %d posts in %d tries", len(texts), tries)
	}
	// A 4xx other than 429 is not retried.
	hook = newWebhook(t, 404)
	a, err = NewAlerter(AlertConfig{WebhookURL: hook.srv.URL, Backoff: time.Millisecond, Retries: -1}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Update(ctx, t0, v); err == nil {
		t.Error("404 accepted")
	}
	if _, tries := hook.got(); tries != 1 {
		t.Errorf("%d tries after a 404", tries)
	}
	// Unreachable, and canceled while backing off.
	a, err = NewAlerter(AlertConfig{WebhookURL: "http://127.0.0.1:1/hook", Backoff: time.Hour}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := a.Update(cctx, t0, v); err == nil || strings.Contains(err.Error(), "127.0.0.1:1/hook") {
		t.Errorf("unreachable: %v", err)
	}
	for _, u := range []string{"", "hooks.slack.com/x", "ftp://h/x", "http://"} {
		if _, err := NewAlerter(AlertConfig{WebhookURL: u}, prometheus.NewRegistry()); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}
