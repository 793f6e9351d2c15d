package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore/capture"
	"github.com/leadscore/leadscore/monitor"
)

func TestLakeAlerts(t *testing.T) {
	if v := lakeViolations(capture.Stats{Healthy: true}); v != nil {
		t.Errorf("healthy capture gave %v", v)
	}
	st := capture.Stats{Dropped: map[string]uint64{capture.DropQueueFull: 3, capture.DropDiskError: 4}, BacklogFiles: 2, BacklogBytes: 100, UploadFailures: 5}
	v := lakeViolations(st)
	if len(v) != 1 || !strings.Contains(v[0].Description, "7 records dropped") || v[0].ConstraintCheckType != "capture_health_check" {
		t.Fatalf("violations %+v", v)
	}

	var mu sync.Mutex
	var posts []string
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	alert, err := monitor.NewAlerter(monitor.AlertConfig{WebhookURL: hook.URL, Cooldown: time.Hour, Title: "leadscore data lake"}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	for i := 0; i < 3; i++ { // a lasting failure is posted once
		if err := alert.Update(ctx, now.Add(time.Duration(i)*time.Second), v); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 1 || !strings.Contains(posts[0], "capture is failing") {
		t.Errorf("posts %q", posts)
	}

	// watchLake runs against a real, healthy writer: no alert.
	w, err := capture.New(capture.Config{Dir: filepath.Join(t.TempDir(), "lake")}, []string{"a"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close(context.Background()) }()
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	watchLake(wctx, w, alert, 50*time.Millisecond, nil)
	if len(posts) != 1 {
		t.Errorf("a healthy lake alerted: %q", posts)
	}
}
