package awslambda

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/leadscore/leadscore"
)

// usage accumulates what one invocation scored; Metered adds to it.
type usage struct {
	rows  atomic.Int64
	model atomic.Int64 // nanoseconds
}

type usageKey struct{}

// withUsage returns a context carrying a fresh accumulator for one
// invocation.
func withUsage(ctx context.Context) (context.Context, *usage) {
	u := new(usage)
	return context.WithValue(ctx, usageKey{}, u), u
}

// Metered wraps a Scorer so that the rows it scores and the time it spends
// are credited to the invocation whose context the call carries (the
// request's context, which Handler derives from the invocation's), for
// the Invocation an Observer receives. It stays exact when one execution
// environment serves several invocations at once. Calls without an
// invocation context (the load check) are passed through uncounted.
func Metered(s leadscore.Scorer) leadscore.Scorer { return metered{s} }

type metered struct{ leadscore.Scorer }

// Score scores through the wrapped Scorer and records the rows and time.
func (m metered) Score(ctx context.Context, rows []float32, explain int, out []leadscore.Result) error {
	u, _ := ctx.Value(usageKey{}).(*usage)
	if u == nil {
		return m.Scorer.Score(ctx, rows, explain, out)
	}
	start := time.Now()
	err := m.Scorer.Score(ctx, rows, explain, out)
	u.model.Add(int64(time.Since(start)))
	if nf := len(m.Info().Features); err == nil && nf > 0 {
		u.rows.Add(int64(len(rows) / nf))
	}
	return err
}
