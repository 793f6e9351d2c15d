package capture

import (
	"strings"
	"time"
)

// idSource names generations: a UTC timestamp (so names sort by creation)
// and a random per-process instance (so replicas writing to one bucket
// never collide). Used by one goroutine at a time.
type idSource struct {
	instance string
	last     time.Time
}

const idTimeLayout = "20060102T150405.000000Z"

func (s *idSource) next(now time.Time) string {
	t := now.UTC().Truncate(time.Microsecond)
	if !t.After(s.last) {
		t = s.last.Add(time.Microsecond)
	}
	s.last = t
	return t.Format(idTimeLayout) + "-" + s.instance
}

// observe makes later ids sort after id (a segment of an earlier run).
func (s *idSource) observe(id string) {
	ts, _, ok := strings.Cut(id, "-")
	if !ok {
		return
	}
	if t, err := time.Parse(idTimeLayout, ts); err == nil && t.After(s.last) {
		s.last = t
	}
}

// segmentTime is the creation time a segment id holds (see idSource), or
// the zero time.
func segmentTime(id string) time.Time {
	ts, _, _ := strings.Cut(id, "-")
	t, err := time.Parse(idTimeLayout, ts)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
