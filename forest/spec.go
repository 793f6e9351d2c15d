// Package forest holds a compiled gradient-boosted ensemble and everything
// computed from it: margins, transformed predictions and TreeSHAP
// contributions. It does no I/O; readers of model files (package xgboost)
// describe a model as a Spec and New compiles it.
package forest

import (
	"errors"
	"fmt"
	"math"
)

// Booster names the kind of ensemble, as XGBoost's gradient_booster.name.
type Booster string

// Boosters XGBoost writes and this package evaluates.
const (
	GBTree   Booster = "gbtree"
	Dart     Booster = "dart"
	GBLinear Booster = "gblinear"
)

// Node is one node of a decision tree as XGBoost stores it. Index 0 of a
// tree is its root. A leaf has Left == -1.
type Node struct {
	Left, Right int32
	// Feature is the split feature's column index.
	Feature int32
	// Value is the split condition of an inner node (a row goes left when
	// value < Value) or the leaf value of a leaf.
	Value float32
	// DefaultLeft sends missing values (and invalid categories) left.
	DefaultLeft bool
	// Categorical marks a categorical split; Categories lists the category
	// codes that go right, as XGBoost's categories arrays do.
	Categorical bool
	Categories  []uint32
	// Cover is the node's sum of hessians, used by TreeSHAP.
	Cover float32
}

// IsLeaf reports whether n is a leaf.
func (n *Node) IsLeaf() bool { return n.Left < 0 }

// Tree is a decision tree in XGBoost's node order.
type Tree struct {
	Nodes []Node
}

// Spec describes a model exactly as the file stored it, before compilation.
type Spec struct {
	Booster   Booster
	Objective string
	// NumFeature is the number of input columns the model expects.
	NumFeature int
	// NumGroup is the number of outputs per row: 1, or the class count of a
	// multi-class objective.
	NumGroup int
	// BaseScore is the intercept in the objective's output space (XGBoost's
	// base_score, a probability for logistic objectives): one value, or one
	// per group.
	BaseScore []float32
	// Trees and TreeGroup (XGBoost's tree_info) for tree boosters.
	Trees     []Tree
	TreeGroup []int32
	// TreeWeights is dart's weight_drop, one per tree; nil for gbtree.
	TreeWeights []float32
	// LinearWeights is gblinear's weights: NumFeature*NumGroup feature
	// weights (index feature*NumGroup+group) followed by NumGroup biases.
	LinearWeights []float32
	// NumParallelTree is the number of trees per boosting round per group
	// (random forests have more than one).
	NumParallelTree int
	FeatureNames    []string
	FeatureTypes    []string
	// Version is the XGBoost version that wrote the model, when known.
	Version [3]int
}

// Limits that keep a hostile model file from exhausting memory or stack.
const (
	MaxFeatures   = 1 << 20
	MaxGroups     = 1 << 12
	MaxTreeDepth  = 256
	MaxCategory   = 1 << 24
	maxTotalNodes = 1 << 28
)

// ErrInvalidModel wraps every structural problem New finds in a Spec.
var ErrInvalidModel = errors.New("invalid model")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidModel, fmt.Sprintf(format, args...))
}

// validate checks everything evaluation relies on, so that a corrupt model
// is an error at load time and never a panic, a hang or a wrong score.
func (s *Spec) validate() error {
	if s.NumFeature <= 0 || s.NumFeature > MaxFeatures {
		return invalid("num_feature %d out of range [1, %d]", s.NumFeature, MaxFeatures)
	}
	if s.NumGroup <= 0 || s.NumGroup > MaxGroups {
		return invalid("number of outputs %d out of range [1, %d]", s.NumGroup, MaxGroups)
	}
	if len(s.BaseScore) != 1 && len(s.BaseScore) != s.NumGroup {
		return invalid("base_score has %d values for %d outputs", len(s.BaseScore), s.NumGroup)
	}
	for _, b := range s.BaseScore {
		if math.IsNaN(float64(b)) || math.IsInf(float64(b), 0) {
			return invalid("base_score %v is not finite", b)
		}
	}
	if len(s.FeatureNames) != 0 && len(s.FeatureNames) != s.NumFeature {
		return invalid("%d feature names for %d features", len(s.FeatureNames), s.NumFeature)
	}
	switch s.Booster {
	case GBLinear:
		if want := (s.NumFeature + 1) * s.NumGroup; len(s.LinearWeights) != want {
			return invalid("gblinear has %d weights, want %d", len(s.LinearWeights), want)
		}
		return nil
	case GBTree, Dart:
	default:
		return invalid("unknown booster %q", s.Booster)
	}
	if len(s.TreeGroup) != len(s.Trees) {
		return invalid("tree_info has %d entries for %d trees", len(s.TreeGroup), len(s.Trees))
	}
	if s.Booster == Dart && len(s.TreeWeights) != len(s.Trees) {
		return invalid("dart weight_drop has %d entries for %d trees", len(s.TreeWeights), len(s.Trees))
	}
	total := 0
	for i := range s.Trees {
		if g := s.TreeGroup[i]; g < 0 || int(g) >= s.NumGroup {
			return invalid("tree %d: group %d out of range [0, %d)", i, g, s.NumGroup)
		}
		total += len(s.Trees[i].Nodes)
		if total > maxTotalNodes {
			return invalid("more than %d nodes", maxTotalNodes)
		}
		if err := s.Trees[i].validate(s.NumFeature); err != nil {
			return fmt.Errorf("tree %d: %w", i, err)
		}
	}
	return nil
}

// validate checks that t is a proper binary tree rooted at 0: every child
// index in range, every node reached once, depth bounded, features in range.
func (t *Tree) validate(numFeature int) error {
	n := len(t.Nodes)
	if n == 0 {
		return invalid("no nodes")
	}
	seen := make([]bool, n)
	type item struct{ id, depth int32 }
	stack := []item{{0, 0}}
	seen[0] = true
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		nd := &t.Nodes[it.id]
		if nd.IsLeaf() {
			if math.IsNaN(float64(nd.Value)) {
				return invalid("leaf %d has value NaN", it.id)
			}
			continue
		}
		if it.depth >= MaxTreeDepth {
			return invalid("deeper than %d", MaxTreeDepth)
		}
		if nd.Feature < 0 || int(nd.Feature) >= numFeature {
			return invalid("node %d splits on feature %d, model has %d", it.id, nd.Feature, numFeature)
		}
		if nd.Categorical {
			for _, c := range nd.Categories {
				if c >= MaxCategory {
					return invalid("node %d: category %d too large", it.id, c)
				}
			}
		} else if math.IsNaN(float64(nd.Value)) {
			return invalid("node %d has split condition NaN", it.id)
		}
		for _, c := range [2]int32{nd.Left, nd.Right} {
			if c <= 0 || int(c) >= n {
				return invalid("node %d has child %d out of range", it.id, c)
			}
			if seen[c] {
				return invalid("node %d is reached twice", c)
			}
			seen[c] = true
			stack = append(stack, item{c, it.depth + 1})
		}
	}
	return nil
}
