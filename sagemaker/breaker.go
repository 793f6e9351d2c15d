package sagemaker

import (
	"sync"
	"time"
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

// breaker is a consecutive-failure circuit breaker. Every allowed attempt
// must be followed by exactly one of success, failure or abandon.
type breaker struct {
	cfg      BreakerConfig
	now      func() time.Time
	onChange func(from, to State) // called with mu held; must not call back

	mu        sync.Mutex
	state     State
	failures  int       // consecutive failures while closed
	successes int       // consecutive successes while half-open
	probes    int       // attempts in flight while half-open
	openedAt  time.Time // when the breaker last opened
}

func newBreaker(cfg BreakerConfig, now func() time.Time, onChange func(from, to State)) *breaker {
	return &breaker{cfg: cfg.withDefaults(), now: now, onChange: onChange}
}

// allow reports whether an attempt may go to the endpoint now.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case StateOpen:
		if b.now().Sub(b.openedAt) < b.cfg.OpenFor {
			return false
		}
		b.set(StateHalfOpen)
		b.successes, b.probes = 0, 0
		fallthrough
	case StateHalfOpen:
		if b.probes >= b.cfg.HalfOpenProbes {
			return false
		}
		b.probes++
	}
	return true
}

// success records an attempt the endpoint answered.
func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case StateClosed:
		b.failures = 0
	case StateHalfOpen:
		b.probes = max(b.probes-1, 0)
		b.successes++
		if b.successes >= b.cfg.HalfOpenProbes {
			b.set(StateClosed)
			b.failures = 0
		}
	}
}

// failure records an attempt that failed for a reason that says the
// endpoint is unhealthy.
func (b *breaker) failure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case StateClosed:
		b.failures++
		if b.failures >= b.cfg.FailureThreshold {
			b.open()
		}
	case StateHalfOpen:
		b.probes = max(b.probes-1, 0)
		b.open()
	}
}

// abandon records an attempt that ended without telling anything about
// the endpoint (the caller canceled it).
func (b *breaker) abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == StateHalfOpen && b.probes > 0 {
		b.probes--
	}
}

func (b *breaker) open() {
	b.set(StateOpen)
	b.openedAt = b.now()
	b.successes = 0
}

func (b *breaker) set(s State) {
	if s == b.state {
		return
	}
	from := b.state
	b.state = s
	if b.onChange != nil {
		b.onChange(from, s)
	}
}

// current returns the state. An open breaker whose OpenFor has passed
// turns half-open when the next call arrives (allow), not here.
func (b *breaker) current() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}
