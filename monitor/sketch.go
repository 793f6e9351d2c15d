package monitor

import (
	"math"
	"slices"
)

// Default KLL sketch parameters, those of SageMaker Model Monitor's
// statistics files: the top level keeps up to k items and each lower level
// c times as many as the one above it.
const (
	DefaultSketchK = 2048
	DefaultSketchC = 0.64
	// minLevelCapacity keeps the lowest levels useful when c^depth is tiny.
	minLevelCapacity = 8
)

// Sketch is a KLL quantile sketch (Karnin, Lang and Liberty, 2016): a few
// levels of items, an item at level h standing for 2^h values of the
// stream. It answers rank queries with an error of about 1.7/k of the
// count. The compactions alternate between keeping the even and the odd
// items rather than tossing a coin, so the same input always gives the
// same sketch. A Sketch is not safe for concurrent use.
type Sketch struct {
	k      int
	c      float64
	levels [][]float64
	size   int // items held, over all levels
	odd    bool
	// caps are the level capacities and total their sum, for the current
	// number of levels.
	caps  []int
	total int
}

// NewSketch returns an empty sketch; k < minLevelCapacity or c outside
// (0.5, 1) fall back to the defaults.
func NewSketch(k int, c float64) *Sketch {
	if k < minLevelCapacity {
		k = DefaultSketchK
	}
	if !(c > 0.5 && c < 1) {
		c = DefaultSketchC
	}
	s := &Sketch{k: k, c: c, levels: make([][]float64, 1)}
	s.resize()
	return s
}

// resize recomputes the capacities after the number of levels changed.
func (s *Sketch) resize() {
	s.caps = s.caps[:0]
	s.total = 0
	for h := range s.levels {
		depth := len(s.levels) - 1 - h
		c := max(minLevelCapacity, int(math.Ceil(float64(s.k)*math.Pow(s.c, float64(depth)))))
		s.caps = append(s.caps, c)
		s.total += c
	}
}

// sketchFromData rebuilds a sketch read from a statistics file: data[h] are
// the items of level h.
func sketchFromData(k int, c float64, data [][]float64) *Sketch {
	s := NewSketch(k, c)
	s.levels = make([][]float64, max(1, len(data)))
	for h, lvl := range data {
		s.levels[h] = slices.Clone(lvl)
		s.size += len(lvl)
	}
	s.resize()
	return s
}

// Add puts one value into the sketch; NaN is ignored.
func (s *Sketch) Add(x float64) {
	if math.IsNaN(x) {
		return
	}
	s.levels[0] = append(s.levels[0], x)
	s.size++
	// Each compaction halves one level, so a few passes always suffice.
	for pass := 0; pass <= len(s.levels) && s.size >= s.total; pass++ {
		s.compact()
	}
}

// Count is the number of values the sketch stands for.
func (s *Sketch) Count() int64 {
	var n int64
	for h, lvl := range s.levels {
		n += int64(len(lvl)) << uint(h) // #nosec G115 -- h is a small level number
	}
	return n
}

// Data returns a copy of the levels, lowest first, each sorted: the
// "data" of a statistics file's sketch.
func (s *Sketch) Data() [][]float64 {
	out := make([][]float64, len(s.levels))
	for h, lvl := range s.levels {
		out[h] = slices.Clone(lvl)
		slices.Sort(out[h])
	}
	return out
}

// compact halves the lowest level that is full: it sorts it and promotes
// every other item to the level above, where each weighs twice as much.
func (s *Sketch) compact() {
	for h := range s.levels {
		if len(s.levels[h]) < s.caps[h] {
			continue
		}
		if h+1 == len(s.levels) {
			s.levels = append(s.levels, nil)
			s.resize()
		}
		lvl := s.levels[h]
		slices.Sort(lvl)
		var keep []float64
		if len(lvl)%2 == 1 {
			keep = append(keep, lvl[len(lvl)-1])
			lvl = lvl[:len(lvl)-1]
		}
		start := 0
		if s.odd {
			start = 1
		}
		s.odd = !s.odd
		for i := start; i < len(lvl); i += 2 {
			s.levels[h+1] = append(s.levels[h+1], lvl[i])
		}
		s.size -= len(lvl) / 2
		s.levels[h] = keep
		return
	}
}

// cdf is the sketch's estimate of the distribution.
func (s *Sketch) cdf() cdf {
	items := make([]weighted, 0, s.size)
	for h, lvl := range s.levels {
		w := math.Ldexp(1, h)
		for _, x := range lvl {
			items = append(items, weighted{x, w})
		}
	}
	return newCDF(items)
}
