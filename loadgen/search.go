package loadgen

import (
	"context"
	"errors"
	"time"
)

// Defaults for the zero fields of SearchConfig.
const (
	DefaultGrowth   = 1.5
	DefaultRefine   = 3
	DefaultMaxSteps = 16
)

// SearchConfig tunes Search, a stepped open-loop search for the highest
// rate a server sustains.
type SearchConfig struct {
	// Start is the first rate tried, requests per second. Required.
	Start float64
	// MaxP99 is the highest p99 latency a sustained rate may have.
	// Required.
	MaxP99 time.Duration
	// Growth is the factor between rates while bracketing: up after a
	// sustained step, down after a failed one. Zero means DefaultGrowth;
	// otherwise it must be above 1.
	Growth float64
	// Refine is the number of bisection steps once the highest sustained
	// rate is bracketed. Zero means DefaultRefine; negative means none.
	Refine int
	// MaxSteps bounds the number of steps in all. Zero means
	// DefaultMaxSteps.
	MaxSteps int
	// Pause is the rest between steps, to let the server drain.
	Pause time.Duration
}

// Step is one rate Search tried.
type Step struct {
	Report    Report
	Sustained bool
}

// SearchResult is the outcome of Search.
type SearchResult struct {
	// Steps are the steps in the order run.
	Steps []Step
	// Best indexes the sustained step with the highest rate in Steps, or
	// is -1 when no step was sustained.
	Best int
}

// MaxRate returns the highest sustained rate, or 0 when there is none.
func (s SearchResult) MaxRate() float64 {
	if s.Best < 0 {
		return 0
	}
	return s.Steps[s.Best].Report.Rate
}

// Sustained reports whether a run kept up with its rate: every request was
// sent and answered with a 2xx, and the p99 latency is at most maxP99.
func Sustained(r Report, maxP99 time.Duration) bool {
	return !r.Canceled && r.Sent > 0 && r.Missed == 0 && r.Failed == 0 && r.Latency.P99 <= maxP99
}

// Search looks for the highest rate that run sustains (see Sustained). It
// brackets that rate by multiplying the rate by Growth after each sustained
// step and dividing by it after each failed one, then bisects the bracket
// Refine times; it never runs more than MaxSteps steps. run performs one
// step at the given rate. Search stops early, with the steps so far, when
// ctx ends or run fails.
func Search(ctx context.Context, sc SearchConfig, run func(ctx context.Context, rate float64) (Report, error)) (SearchResult, error) {
	if sc.Growth == 0 {
		sc.Growth = DefaultGrowth
	}
	if sc.Refine == 0 {
		sc.Refine = DefaultRefine
	}
	if sc.MaxSteps == 0 {
		sc.MaxSteps = DefaultMaxSteps
	}
	res := SearchResult{Best: -1}
	switch {
	case !(sc.Start > 0 && sc.Start <= MaxRate):
		return res, errors.New("search: start rate must be above 0 and at most MaxRate")
	case sc.MaxP99 <= 0:
		return res, errors.New("search: max p99 must be positive")
	case !(sc.Growth > 1):
		return res, errors.New("search: growth must be above 1")
	case sc.MaxSteps < 1:
		return res, errors.New("search: max steps must be at least 1")
	}

	var good, bad float64 // highest sustained, lowest failed; 0 = none yet
	try := func(rate float64) (bool, error) {
		if len(res.Steps) > 0 && sc.Pause > 0 {
			t := time.NewTimer(sc.Pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return false, ctx.Err()
			case <-t.C:
			}
		}
		rep, err := run(ctx, rate)
		if err != nil {
			return false, err
		}
		ok := Sustained(rep, sc.MaxP99)
		res.Steps = append(res.Steps, Step{Report: rep, Sustained: ok})
		if ok {
			good = rate
			res.Best = len(res.Steps) - 1
		} else {
			bad = rate
		}
		return ok, ctx.Err()
	}

	// Bracket: walk up while sustained, down while not, until both
	// bounds are known or the rate leaves (0, MaxRate].
	rate := sc.Start
	for len(res.Steps) < sc.MaxSteps && (good == 0 || bad == 0) {
		ok, err := try(rate)
		if err != nil {
			return res, err
		}
		if ok {
			rate *= sc.Growth
		} else {
			rate /= sc.Growth
		}
		if rate > MaxRate || rate < 0.01 {
			break
		}
	}
	// Refine: bisect between the bounds.
	for k := 0; k < sc.Refine && len(res.Steps) < sc.MaxSteps && good > 0 && bad > 0; k++ {
		if _, err := try((good + bad) / 2); err != nil {
			return res, err
		}
	}
	return res, nil
}
