package forest

import (
	"math"
	"math/rand/v2"
	"testing"
)

// edgeRows draws rows like randomRows plus the extremes of float32:
// ±float32 max, the smallest subnormals and values one ulp around the
// thresholds randomTree uses.
func edgeRows(rng *rand.Rand, n, nf int) []float32 {
	rows := randomRows(rng, n, nf)
	for i := range rows {
		switch rng.IntN(8) {
		case 0:
			rows[i] = float32(2*rng.IntN(2)-1) * math.MaxFloat32
		case 1:
			rows[i] = float32(2*rng.IntN(2)-1) * math.SmallestNonzeroFloat32
		}
	}
	return rows
}

// marginsBoth scores rows with the vector walk and with the scalar walk.
func marginsBoth(t testing.TB, f *Forest, rows []float32) (vec, scalar []float32) {
	t.Helper()
	n := len(rows) / f.numFeature
	vec, scalar = make([]float32, n*f.numGroup), make([]float32, n*f.numGroup)
	defer SetVector(SetVector(true))
	if err := f.PredictMargin(rows, vec); err != nil {
		t.Fatal(err)
	}
	SetVector(false)
	if err := f.PredictMargin(rows, scalar); err != nil {
		t.Fatal(err)
	}
	return vec, scalar
}

// sameBits reports the first index where a and b differ bit for bit.
func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestVectorMatchesScalar checks the vector batch walk against the scalar
// one bit for bit on random forests: perfect trees of every depth the
// layout takes (0 to maxPerfectDepth), runs of them broken by flat and
// categorical trees, several groups, dart weights, and batches of every
// size around the block boundaries, with rows full of missing values, ±0,
// ±Inf, ±float32 max, subnormals and values on and next to thresholds.
func TestVectorMatchesScalar(t *testing.T) {
	if !haveVector {
		t.Skip("no vector kernel on this CPU")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for it := 0; it < 60; it++ {
		nf := 1 + rng.IntN(12)
		groups := 1
		if rng.IntN(4) == 0 {
			groups = 2 + rng.IntN(3)
		}
		booster := GBTree
		if rng.IntN(4) == 0 {
			booster = Dart
		}
		s := &Spec{Booster: booster, Objective: "reg:squarederror", NumFeature: nf, NumGroup: groups, BaseScore: []float32{0.25}}
		if groups > 1 {
			s.Objective = "multi:softprob"
		}
		ntrees := 1 + rng.IntN(40)
		// Half the forests have one depth throughout, so the kernel's
		// paths for two trees of one depth run at every depth.
		depth := -1
		if it%2 == 0 {
			depth = it / 2 % (maxPerfectDepth + 1)
		}
		for i := 0; i < ntrees; i++ {
			var tr Tree
			switch k := rng.IntN(10); {
			case depth >= 0 && k > 0:
				tr = randomTree(rng, nf, 1<<(depth+1), depth, false)
			case k == 0: // sparse and deep: flat
				tr = randomTree(rng, nf, 30, 20, false)
			case k == 1: // categorical: general
				tr = randomTree(rng, nf, 20, 5, true)
			default: // balanced, any depth up to the perfect limit
				d := rng.IntN(maxPerfectDepth + 1)
				tr = randomTree(rng, nf, 1<<d, d, false)
			}
			s.Trees = append(s.Trees, tr)
			s.TreeGroup = append(s.TreeGroup, int32(i%groups))
			s.TreeWeights = append(s.TreeWeights, float32(rng.Float64()*2))
		}
		f, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{2, 4, 5, 8, 9, 15, 16, 17, 20, 21, 31, 33, 40 + rng.IntN(30)} {
			rows := edgeRows(rng, n, nf)
			vec, scalar := marginsBoth(t, f, rows)
			if i := sameBits(vec, scalar); i >= 0 {
				r := i / groups
				t.Fatalf("forest %d (%+v), %d rows: row %d group %d: vector %v, scalar %v (row %v)",
					it, f.Stats(), n, r, i%groups, vec[i], scalar[i], rows[r*nf:(r+1)*nf])
			}
			for r := 0; r < n; r++ {
				want := reference(f, rows[r*nf:(r+1)*nf])
				if i := sameBits(vec[r*groups:(r+1)*groups], want); i >= 0 {
					t.Fatalf("forest %d, row %d group %d: vector %v, reference %v", it, r, i, vec[r*groups+i], want[i])
				}
			}
		}
	}
}

// FuzzVectorMatchesScalar scores rows made of fuzzed float32 bit patterns
// (every NaN payload, subnormal and extreme) on a random forest drawn from
// the fuzzed seed, with the vector and the scalar walk: bit for bit equal.
func FuzzVectorMatchesScalar(f *testing.F) {
	f.Add(uint64(1), []byte{0, 0, 0x80, 0x7f, 0, 0, 0xc0, 0x7f, 1, 0, 0, 0, 0, 0, 0, 0x80})
	f.Add(uint64(2), []byte{0xff, 0xff, 0x7f, 0x7f, 0xff, 0xff, 0x7f, 0xff, 0, 0, 0x80, 0xff})
	f.Fuzz(func(t *testing.T, seed uint64, data []byte) {
		rng := rand.New(rand.NewPCG(seed, 9))
		nf := 1 + rng.IntN(6)
		s := &Spec{Booster: GBTree, Objective: "reg:squarederror", NumFeature: nf, NumGroup: 1, BaseScore: []float32{0.5}}
		for i := 0; i < 1+rng.IntN(12); i++ {
			d := rng.IntN(maxPerfectDepth + 1)
			s.Trees = append(s.Trees, randomTree(rng, nf, 1<<d, d, false))
			s.TreeGroup = append(s.TreeGroup, 0)
		}
		fo, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		n := 17 + rng.IntN(16)
		rows := make([]float32, n*nf)
		for i := range rows {
			var b [4]byte
			if len(data) > 0 {
				copy(b[:], data[(4*i)%len(data):])
			}
			rows[i] = math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		}
		vec, scalar := marginsBoth(t, fo, rows)
		if i := sameBits(vec, scalar); i >= 0 {
			t.Fatalf("row %d: vector %v, scalar %v (row %v)", i, vec[i], scalar[i], rows[i*nf:(i+1)*nf])
		}
	})
}

// TestKeys16 checks the vector key transform against transposeKeys (the
// scalar one) on every block size and edge value.
func TestKeys16(t *testing.T) {
	if !haveVector {
		t.Skip("no vector kernel on this CPU")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, nf := range []int{1, 2, 7, 50} {
		for nb := 1; nb <= vecRows; nb++ {
			rows := edgeRows(rng, nb, nf)
			rows[rng.IntN(len(rows))] = math.Float32frombits(0xffc00001) // a negative NaN
			want := make([]uint32, (2*nf+1)*vecRows)
			got := make([]uint32, len(want))
			for i := range got {
				got[i] = 0xdeadbeef
			}
			transposeKeys(rows, want, nf, nb, vecRows)
			keys16(&rows[0], nf, nb, &got[0])
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("nf %d, nb %d: key %d (column %d, row %d) is %#x, want %#x", nf, nb, i, i/vecRows, i%vecRows, got[i], want[i])
				}
			}
		}
	}
}
