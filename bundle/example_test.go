package bundle_test

import (
	"context"
	"fmt"
	"math"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
)

// Load a bundle (the empty path is the embedded demo) and score one lead,
// given as a row of feature values in the bundle's order, NaN for missing.
func ExampleOpen() {
	b, err := bundle.Open("")
	if err != nil {
		panic(err)
	}
	row := make([]float32, b.NumFeature())
	for i := range row {
		row[i] = float32(math.NaN())
	}
	out := make([]leadscore.Result, 1)
	if err := b.Score(context.Background(), row, 0, out); err != nil {
		panic(err)
	}
	fmt.Printf("%s: %d features, tier %d, probability %.4f\n", b.Info().Name, b.NumFeature(), out[0].Score, out[0].Probability)
	// Output: lead-demo: 50 features, tier 4, probability 0.4508
}
