package sns

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore/monitor"
)

// standIn is a local SNS endpoint speaking the Publish action of the AWS
// query protocol; the first `throttle` requests get a Throttling error.
type standIn struct {
	srv      *httptest.Server
	mu       sync.Mutex
	throttle int
	requests int
	messages []map[string]string
}

func newStandIn(t *testing.T, throttle int) *standIn {
	t.Helper()
	s := &standIn{throttle: throttle}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests++
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			w.WriteHeader(http.StatusForbidden)
			_, _ = fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code><Message>unsigned</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		if r.Form.Get("Action") != "Publish" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>only Publish</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
			return
		}
		if s.throttle > 0 {
			s.throttle--
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprint(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>t-1</RequestId></ErrorResponse>`)
			return
		}
		s.messages = append(s.messages, map[string]string{
			"TopicArn": r.Form.Get("TopicArn"), "Subject": r.Form.Get("Subject"), "Message": r.Form.Get("Message")})
		_, _ = fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-%d</MessageId></PublishResult><ResponseMetadata><RequestId>r-%d</RequestId></ResponseMetadata></PublishResponse>`, len(s.messages), s.requests)
	}))
	t.Cleanup(s.srv.Close)
	if !strings.HasPrefix(s.srv.URL, "http://127.0.0.1:") {
		t.Fatalf("stand-in at %s, want 127.0.0.1", s.srv.URL)
	}
	return s
}

func awsEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

const topic = "arn:aws:sns:eu-west-1:123456789012:leadscore-alerts"

// TestPublishRetriesThrottling publishes through the real SDK: a
// Throttling answer is retried and the alert arrives once.
func TestPublishRetriesThrottling(t *testing.T) {
	awsEnv(t)
	s := newStandIn(t, 1)
	p, err := New(context.Background(), Config{TopicARN: topic, Endpoint: s.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	subject := "leadscore lead-demo 1.0.0: 1 new monitoring violation \u2014 with a long tail that SNS would refuse as a subject because it is over one hundred bytes"
	if err := p.Notify(ctx, subject, "- country_tier bias_drift_check 1 DPPL: Value 0.44"); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requests != 2 || len(s.messages) != 1 {
		t.Fatalf("%d requests, %d messages; want the throttled one retried", s.requests, len(s.messages))
	}
	m := s.messages[0]
	if m["TopicArn"] != topic || !strings.Contains(m["Message"], "DPPL") || len(m["Subject"]) > MaxSubject || strings.ContainsRune(m["Subject"], '\u2014') {
		t.Errorf("published %+v", m)
	}
}

// TestPublishGivesUp: a topic that keeps throttling fails after the
// configured attempts, with the SDK's error.
func TestPublishGivesUp(t *testing.T) {
	awsEnv(t)
	s := newStandIn(t, 100)
	p, err := New(context.Background(), Config{TopicARN: topic, Endpoint: s.srv.URL, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Notify(context.Background(), "s", "t")
	if err == nil || !strings.Contains(err.Error(), "Throttling") {
		t.Fatalf("error %v", err)
	}
	if s.requests != 2 {
		t.Errorf("%d requests, want 2 attempts", s.requests)
	}
}

// TestAlerterThroughSNS: the monitor's alerter delivers to the topic and
// the webhook once each, and a failing topic does not repeat the webhook's
// alert.
func TestAlerterThroughSNS(t *testing.T) {
	awsEnv(t)
	s := newStandIn(t, 0)
	p, err := New(context.Background(), Config{TopicARN: topic, Endpoint: s.srv.URL, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	var hookPosts int
	var hookMu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, _ *http.Request) {
		hookMu.Lock()
		hookPosts++
		hookMu.Unlock()
	}))
	defer hook.Close()
	a, err := monitor.NewAlerter(monitor.AlertConfig{WebhookURL: hook.URL, Notifiers: []monitor.Notifier{p},
		StatePath: filepath.Join(t.TempDir(), "alerts.json")}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	v := []monitor.Violation{{FeatureName: "country_tier", ConstraintCheckType: monitor.CheckBias, Facet: "country_tier",
		FacetValue: "1", MetricName: "DPPL", Description: "Value 0.44"}}
	now := time.Now()
	s.mu.Lock()
	s.throttle = 1 // the first publish fails (one attempt)
	s.mu.Unlock()
	if err := a.Update(context.Background(), now, v); err == nil {
		t.Fatal("a failed publish returned no error")
	}
	if err := a.Update(context.Background(), now.Add(time.Minute), v); err != nil {
		t.Fatal(err)
	}
	if err := a.Update(context.Background(), now.Add(2*time.Minute), v); err != nil {
		t.Fatal(err)
	}
	hookMu.Lock()
	defer hookMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if hookPosts != 1 || len(s.messages) != 1 {
		t.Errorf("webhook posts %d, SNS messages %d; want one each", hookPosts, len(s.messages))
	}
}
