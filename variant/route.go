package variant

// Router picks the weighted variant that answers a lead. A lead with an
// id always lands on the same variant for the same weights: the choice is
// a 64-bit FNV-1a hash of the id, mixed and mapped onto [0, 1), compared
// with the cumulative normalised weights; it depends on nothing but the id
// and the weights, so it is the same across restarts and replicas. A
// weight change moves only the leads whose point falls in the shifted
// range. A lead without an id takes a random point. Router is immutable
// and safe for concurrent use.
type Router struct {
	idx []int     // spec index of each weighted variant with weight > 0
	cum []float64 // cumulative normalised weights, last == 1
}

// NewRouter builds the router of specs (validated by ValidateSet).
func NewRouter(specs []Spec) *Router {
	r := &Router{}
	var total float64
	for _, s := range specs {
		if s.Role == Weighted && s.Weight > 0 {
			total += s.Weight
		}
	}
	var acc float64
	for i, s := range specs {
		if s.Role != Weighted || !(s.Weight > 0) {
			continue
		}
		acc += s.Weight / total
		r.idx = append(r.idx, i)
		r.cum = append(r.cum, acc)
	}
	if n := len(r.cum); n > 0 {
		r.cum[n-1] = 1
	}
	return r
}

// Pick returns the spec index for a point u in [0, 1).
func (r *Router) Pick(u float64) int {
	for i, c := range r.cum {
		if u < c {
			return r.idx[i]
		}
	}
	return r.idx[len(r.idx)-1]
}

// PickID returns the spec index for a lead id.
func (r *Router) PickID(id string) int { return r.Pick(Point(id)) }

// Point maps a lead id to [0, 1), uniformly and stably: FNV-1a over the
// id's bytes, then the SplitMix64 finaliser (FNV alone leaves short,
// similar ids clustered in the high bits), top 53 bits as a fraction.
func Point(id string) float64 { return point(id, 0) }

// PointBytes is Point of an id held as bytes (the same point for the
// same bytes), without converting it to a string.
func PointBytes(id []byte) float64 { return point(id, 0) }

// SamplePoint maps a lead id to [0, 1) like Point but independently of
// it, for a shadow's sampled share: sampling on Point would pick the same
// leads as the first weighted variant's range.
func SamplePoint(id string) float64 { return point(id, 0x9e3779b97f4a7c15) }

func point[T string | []byte](id T, seed uint64) float64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset) ^ seed
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return float64(h>>11) / (1 << 53)
}

// Shares returns each spec's normalised share of live traffic (0 for
// shadows and zero weights).
func Shares(specs []Spec) []float64 {
	out := make([]float64, len(specs))
	var total float64
	for _, s := range specs {
		if s.Role == Weighted && s.Weight > 0 {
			total += s.Weight
		}
	}
	for i, s := range specs {
		if s.Role == Weighted && s.Weight > 0 && total > 0 {
			out[i] = s.Weight / total
		}
	}
	return out
}

// Sampled reports whether a shadow with share sample scores a lead at
// point u (from SamplePoint, or random for a lead without id).
func Sampled(sample, u float64) bool { return sample >= 1 || u < sample }
