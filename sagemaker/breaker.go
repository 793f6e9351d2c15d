package sagemaker

import (
	"errors"
	"math"
	"time"

	"github.com/sony/gobreaker/v2"
)

// State is a circuit breaker's state.
type State int32

// The breaker's states. Closed lets every call through; Open fails calls
// fast without touching the endpoint until BreakerConfig.OpenFor has
// passed; HalfOpen then lets up to BreakerConfig.HalfOpenProbes calls
// through at once, and closes after as many consecutive successes, or
// opens again on a failure.
const (
	StateClosed State = iota
	StateOpen
	StateHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half-open"
	}
	return "unknown"
}

// BreakerConfig sets the circuit breaker's thresholds; zero values take
// the defaults.
type BreakerConfig struct {
	// FailureThreshold is the number of consecutive failed attempts
	// (network errors, timeouts, throttling, 5xx, unreadable responses)
	// that opens the breaker (default 5). Refusals of the request itself
	// (4xx) are answers from a healthy endpoint and do not count.
	FailureThreshold int
	// OpenFor is how long the breaker stays open before it lets probes
	// through (default 10s).
	OpenFor time.Duration
	// HalfOpenProbes is how many calls may probe the endpoint at once in
	// the half-open state, and how many consecutive successes close the
	// breaker (default 1).
	HalfOpenProbes int
}

// Breaker defaults.
const (
	DefaultFailureThreshold = 5
	DefaultOpenFor          = 10 * time.Second
	DefaultHalfOpenProbes   = 1
)

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.FailureThreshold <= 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.OpenFor <= 0 {
		c.OpenFor = DefaultOpenFor
	}
	if c.HalfOpenProbes <= 0 {
		c.HalfOpenProbes = DefaultHalfOpenProbes
	}
	return c
}

// breaker is a consecutive-failure circuit breaker: sony/gobreaker's
// two-step breaker with our thresholds. Every allowed attempt must be
// followed by one call of its done function: with nil (the endpoint
// answered), errUnhealthy (it failed in a way that says it is unhealthy)
// or errAbandoned (the caller gave up: nothing learned, and a half-open
// probe slot is freed).
type breaker struct {
	cfg BreakerConfig
	cb  *gobreaker.TwoStepCircuitBreaker[struct{}]
}

var (
	errUnhealthy = errors.New("endpoint unhealthy")
	errAbandoned = errors.New("attempt abandoned")
)

// newBreaker builds a breaker; onChange (may be nil) is called on every
// state change, with the breaker's lock held: it must not call back.
func newBreaker(cfg BreakerConfig, onChange func(from, to State)) *breaker {
	cfg = cfg.withDefaults()
	threshold := uint32(min(cfg.FailureThreshold, math.MaxUint32)) //nolint:gosec // clamped
	probes := uint32(min(cfg.HalfOpenProbes, math.MaxUint32))      //nolint:gosec // clamped
	return &breaker{cfg: cfg, cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "sagemaker",
		MaxRequests: probes,
		Timeout:     cfg.OpenFor,
		// Interval 0: counts are kept while closed; a success resets the
		// consecutive failures.
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		IsExcluded:  func(err error) bool { return errors.Is(err, errAbandoned) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if onChange != nil {
				onChange(stateOf(from), stateOf(to))
			}
		},
	})}
}

// stateOf maps gobreaker's states onto ours.
func stateOf(s gobreaker.State) State {
	switch s {
	case gobreaker.StateOpen:
		return StateOpen
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	}
	return StateClosed
}

// allow reports whether an attempt may go to the endpoint now, and if so
// the function that reports its outcome.
func (b *breaker) allow() (done func(err error), ok bool) {
	done, err := b.cb.Allow()
	return done, err == nil
}

// current returns the state; an open breaker whose OpenFor has passed
// reads as half-open.
func (b *breaker) current() State { return stateOf(b.cb.State()) }
