package loadgen

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

// fakeServer answers a step in 1ms at p99 up to capacity requests/s and in
// a second beyond it.
func fakeServer(capacity float64, rates *[]float64) func(context.Context, float64) (Report, error) {
	return func(_ context.Context, rate float64) (Report, error) {
		*rates = append(*rates, rate)
		rep := Report{Rate: rate, Scheduled: 100, Sent: 100, OK: 100, Latency: Percentiles{P99: time.Millisecond}}
		if rate > capacity {
			rep.Latency.P99 = time.Second
		}
		return rep, nil
	}
}

func round(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Round(x*100) / 100
	}
	return out
}

func TestSearch(t *testing.T) {
	tests := []struct {
		name     string
		sc       SearchConfig
		capacity float64
		rates    []float64
		max      float64
	}{
		{
			name: "up then bisect", sc: SearchConfig{Start: 1000, Growth: 2}, capacity: 5000,
			rates: []float64{1000, 2000, 4000, 8000, 6000, 5000, 5500}, max: 5000,
		},
		{
			name: "down then bisect", sc: SearchConfig{Start: 1000, Growth: 2, Refine: 2}, capacity: 300,
			rates: []float64{1000, 500, 250, 375, 312.5}, max: 250,
		},
		{
			name: "step limit", sc: SearchConfig{Start: 1, Growth: 2, MaxSteps: 4}, capacity: 1e5,
			rates: []float64{1, 2, 4, 8}, max: 8,
		},
		{
			name: "no refinement", sc: SearchConfig{Start: 100, Refine: -1}, capacity: 200,
			rates: []float64{100, 150, 225}, max: 150,
		},
		{
			name: "nothing sustained", sc: SearchConfig{Start: 1, Growth: 10}, capacity: 0,
			rates: []float64{1, 0.1, 0.01}, max: 0,
		},
		{
			name: "capped at MaxRate", sc: SearchConfig{Start: 4e5, Growth: 2}, capacity: math.Inf(1),
			rates: []float64{4e5, 8e5}, max: 8e5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rates []float64
			tt.sc.MaxP99 = 10 * time.Millisecond
			res, err := Search(context.Background(), tt.sc, fakeServer(tt.capacity, &rates))
			if err != nil {
				t.Fatal(err)
			}
			if got := round(rates); !slices.Equal(got, tt.rates) {
				t.Errorf("rates tried %v, want %v", got, tt.rates)
			}
			if res.MaxRate() != tt.max {
				t.Errorf("max rate %v, want %v", res.MaxRate(), tt.max)
			}
			if len(res.Steps) != len(rates) {
				t.Errorf("%d steps recorded, %d run", len(res.Steps), len(rates))
			}
			for i, s := range res.Steps {
				if s.Sustained != (s.Report.Rate <= tt.capacity) {
					t.Errorf("step %d at %v: sustained %v", i, s.Report.Rate, s.Sustained)
				}
			}
		})
	}
}

func TestSearchErrors(t *testing.T) {
	var rates []float64
	run := fakeServer(100, &rates)
	for _, sc := range []SearchConfig{
		{Start: 0, MaxP99: time.Millisecond},
		{Start: 1, MaxP99: 0},
		{Start: 1, MaxP99: time.Millisecond, Growth: 0.5},
		{Start: 1, MaxP99: time.Millisecond, MaxSteps: -1},
	} {
		if _, err := Search(context.Background(), sc, run); err == nil {
			t.Errorf("Search(%+v) succeeded, want an error", sc)
		}
	}
	if len(rates) != 0 {
		t.Errorf("invalid searches ran steps at %v", rates)
	}

	boom := errors.New("boom")
	calls := 0
	res, err := Search(context.Background(), SearchConfig{Start: 10, MaxP99: time.Second},
		func(context.Context, float64) (Report, error) {
			calls++
			if calls == 2 {
				return Report{}, boom
			}
			return Report{Rate: 10, Sent: 1, OK: 1}, nil
		})
	if !errors.Is(err, boom) || len(res.Steps) != 1 || res.MaxRate() != 10 {
		t.Errorf("err %v, %d steps, max %v: want boom after one sustained step at 10", err, len(res.Steps), res.MaxRate())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Search(ctx, SearchConfig{Start: 10, MaxP99: time.Second, Pause: time.Hour}, fakeServer(100, &rates)); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled search: err %v, want context.Canceled", err)
	}
}

func TestSustained(t *testing.T) {
	ok := Report{Scheduled: 10, Sent: 10, OK: 10, Latency: Percentiles{P99: time.Millisecond}}
	tests := []struct {
		name   string
		modify func(*Report)
		want   bool
	}{
		{"all good", func(*Report) {}, true},
		{"p99 at the limit", func(r *Report) { r.Latency.P99 = 2 * time.Millisecond }, true},
		{"p99 over", func(r *Report) { r.Latency.P99 = 2*time.Millisecond + 1 }, false},
		{"a failure", func(r *Report) { r.OK, r.Failed = 9, 1 }, false},
		{"a miss", func(r *Report) { r.Missed = 1 }, false},
		{"canceled", func(r *Report) { r.Canceled = true }, false},
		{"nothing sent", func(r *Report) { *r = Report{} }, false},
	}
	for _, tt := range tests {
		r := ok
		tt.modify(&r)
		if got := Sustained(r, 2*time.Millisecond); got != tt.want {
			t.Errorf("%s: Sustained = %v, want %v", tt.name, got, tt.want)
		}
	}
}
