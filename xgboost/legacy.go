package xgboost

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"

	"github.com/leadscore/leadscore/forest"
)

// Sizes of the fixed records of XGBoost's legacy binary format. They are
// static_asserts in XGBoost's source and never changed between releases.
const (
	legacyLearnerParamSize = 136 // LearnerModelParamLegacy (src/learner.cc)
	legacyGBTreeParamSize  = 160 // GBTreeModelParam (src/gbm/gbtree_model.h)
	legacyLinearParamSize  = 136 // DeprecatedGBLinearModelParam (src/gbm/gblinear_model.h)
	legacyTreeParamSize    = 148 // TreeParam (include/xgboost/tree_model.h)
	legacyNodeSize         = 20  // RegTree::Node
	legacyNodeStatSize     = 16  // RTreeNodeStat
	// legacyMinTreeSize is the smallest possible serialized tree: its
	// TreeParam and one node with its statistics.
	legacyMinTreeSize = legacyTreeParamSize + legacyNodeSize + legacyNodeStatSize
	// legacyMaxNameLen bounds the objective and booster names.
	legacyMaxNameLen = 256
	// legacyDeletedNode is the split index XGBoost gives a pruned node.
	legacyDeletedNode = math.MaxUint32
)

// errLegacyTruncated is wrapped by every "file ends too early" error.
var errLegacyTruncated = io.ErrUnexpectedEOF

// ReadLegacy parses XGBoost's legacy binary model format: the file
// Booster.save_model writes for a name not ending in .json or .ubj in
// XGBoost 1.x (and the only format of XGBoost 0.x). It accepts the optional
// "binf" prefix and the gbtree, dart and gblinear boosters, and returns the
// model as stored, without validating tree structure; forest.New does that.
//
// The legacy format has no categorical splits, feature names or feature
// types. NumParallelTree is read from the GBTreeModelParam slot where
// recent 1.x releases store num_parallel_tree; older releases kept the
// always-1 num_roots there, so their random forests read as 1. For models written by XGBoost 0.x, which stored
// base_score as a margin, BaseScore is mapped back to the objective's
// output space for the objectives whose link function is known.
//
// A corrupt or hostile file yields an error, never a panic, and ReadLegacy
// allocates at most a small multiple of len(data).
func ReadLegacy(data []byte) (*forest.Spec, error) {
	spec, err := readLegacy(data)
	if err != nil {
		return nil, fmt.Errorf("legacy model: %w", err)
	}
	return spec, nil
}

func readLegacy(data []byte) (*forest.Spec, error) {
	r := &legacyReader{buf: data}
	if len(data) >= 4 {
		switch string(data[:4]) {
		case "binf":
			r.off = 4
		case "bs64":
			return nil, errors.New("base64 model format is not supported")
		}
	}
	if len(data) > 0 && data[0] == '{' {
		return nil, errors.New("file is a JSON or UBJSON model, not the legacy binary format")
	}

	hdr, err := r.bytes(legacyLearnerParamSize)
	if err != nil {
		return nil, fmt.Errorf("read learner parameters: %w", err)
	}
	baseScore := legacyF32(hdr[0:])
	numFeature := binary.LittleEndian.Uint32(hdr[4:])
	numClass := int32(binary.LittleEndian.Uint32(hdr[8:]))
	containExtraAttrs := binary.LittleEndian.Uint32(hdr[12:])
	// hdr[16:20] is contain_eval_metrics; since 1.0 the metrics are an
	// attribute, before they followed the attributes. Neither is needed.
	major := binary.LittleEndian.Uint32(hdr[20:])
	minor := binary.LittleEndian.Uint32(hdr[24:])
	// num_target in recent releases; reserved, so zero, in older ones.
	numTarget := binary.LittleEndian.Uint32(hdr[28:])

	if numFeature > forest.MaxFeatures {
		return nil, fmt.Errorf("num_feature %d exceeds the limit of %d", numFeature, forest.MaxFeatures)
	}
	if numClass < 0 {
		return nil, fmt.Errorf("negative num_class %d", numClass)
	}
	if major > 1<<16 || minor > 1<<16 {
		return nil, fmt.Errorf("implausible version %d.%d in header", major, minor)
	}
	if numClass > 1 && numTarget > 1 {
		return nil, fmt.Errorf("num_class %d with num_target %d: multi-target multi-class models are not supported", numClass, numTarget)
	}
	numGroup := uint64(1)
	if uint64(numClass) > numGroup {
		numGroup = uint64(numClass)
	}
	if uint64(numTarget) > numGroup {
		numGroup = uint64(numTarget)
	}
	if numGroup > forest.MaxGroups {
		return nil, fmt.Errorf("%d outputs (num_class %d, num_target %d) exceed the limit of %d",
			numGroup, numClass, numTarget, forest.MaxGroups)
	}

	objective, err := r.objectiveName()
	if err != nil {
		return nil, fmt.Errorf("read objective name: %w", err)
	}
	boosterName, err := r.name()
	if err != nil {
		return nil, fmt.Errorf("read booster name: %w", err)
	}

	spec := &forest.Spec{
		Booster:         forest.Booster(boosterName),
		Objective:       objective,
		NumFeature:      int(numFeature),
		NumGroup:        int(numGroup),
		NumParallelTree: 1,
	}
	if major >= 1 {
		spec.Version = [3]int{int(major), int(minor), 0}
		spec.BaseScore = []float32{baseScore}
	} else {
		// XGBoost < 1.0 stored ProbToMargin(base_score).
		spec.BaseScore = []float32{legacyMarginToOutput(objective, baseScore)}
	}

	switch spec.Booster {
	case forest.GBTree, forest.Dart:
		if err := r.gbtree(spec, major); err != nil {
			return nil, err
		}
	case forest.GBLinear:
		if err := r.gblinear(spec); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported booster %q", boosterName)
	}

	if containExtraAttrs != 0 {
		if err := r.skipAttributes(); err != nil {
			return nil, fmt.Errorf("read attributes: %w", err)
		}
	}
	// Anything after the attributes (XGBoost 0.x wrote count:poisson's
	// max_delta_step and the eval metric names there) is not needed.
	return spec, nil
}

// gbtree reads a GBTreeModel and, for dart, its weight_drop.
func (r *legacyReader) gbtree(spec *forest.Spec, major uint32) error {
	param, err := r.bytes(legacyGBTreeParamSize)
	if err != nil {
		return fmt.Errorf("read gbtree parameters: %w", err)
	}
	numTrees := int32(binary.LittleEndian.Uint32(param[0:]))
	// num_parallel_tree in recent releases, (deprecated_)num_roots,
	// always 1, in older ones.
	numParallel := int32(binary.LittleEndian.Uint32(param[4:]))
	if numTrees < 0 {
		return fmt.Errorf("negative num_trees %d", numTrees)
	}
	if int64(numTrees) > int64(r.remaining()/legacyMinTreeSize) {
		return fmt.Errorf("num_trees %d does not fit in the %d bytes left: %w",
			numTrees, r.remaining(), errLegacyTruncated)
	}
	if numParallel > 1 && numTrees > 0 {
		if numParallel > numTrees {
			return fmt.Errorf("num_parallel_tree %d exceeds num_trees %d", numParallel, numTrees)
		}
		spec.NumParallelTree = int(numParallel)
	}

	spec.Trees = make([]forest.Tree, numTrees)
	for i := range spec.Trees {
		if err := r.tree(&spec.Trees[i], major); err != nil {
			return fmt.Errorf("read tree %d: %w", i, err)
		}
	}

	spec.TreeGroup = make([]int32, 0, numTrees)
	if numTrees > 0 {
		info, err := r.bytes(4 * int(numTrees))
		if err != nil {
			return fmt.Errorf("read tree_info: %w", err)
		}
		for i := 0; i < len(info); i += 4 {
			spec.TreeGroup = append(spec.TreeGroup, int32(binary.LittleEndian.Uint32(info[i:])))
		}
	}

	if spec.Booster == forest.Dart {
		// Dart::Load reads weight_drop only when there are trees.
		spec.TreeWeights = []float32{}
		if numTrees > 0 {
			w, err := r.floats()
			if err != nil {
				return fmt.Errorf("read dart weight_drop: %w", err)
			}
			if len(w) != int(numTrees) {
				return fmt.Errorf("dart weight_drop has %d entries for %d trees", len(w), numTrees)
			}
			spec.TreeWeights = w
		}
	}
	return nil
}

// tree reads one RegTree: TreeParam, nodes, node statistics.
func (r *legacyReader) tree(t *forest.Tree, major uint32) error {
	param, err := r.bytes(legacyTreeParamSize)
	if err != nil {
		return fmt.Errorf("read tree parameters: %w", err)
	}
	numRoots := int32(binary.LittleEndian.Uint32(param[0:]))
	numNodes := int32(binary.LittleEndian.Uint32(param[4:]))
	numDeleted := int32(binary.LittleEndian.Uint32(param[8:]))
	sizeLeafVector := int32(binary.LittleEndian.Uint32(param[20:]))
	if numRoots > 1 {
		return fmt.Errorf("%d roots: multi-root trees are not supported", numRoots)
	}
	if numNodes <= 0 {
		return fmt.Errorf("num_nodes %d is not positive", numNodes)
	}
	const perNode = legacyNodeSize + legacyNodeStatSize
	if int64(numNodes) > int64(r.remaining()/perNode) {
		return fmt.Errorf("num_nodes %d does not fit in the %d bytes left: %w",
			numNodes, r.remaining(), errLegacyTruncated)
	}
	n := int(numNodes)
	nodes, err := r.bytes(n * legacyNodeSize)
	if err != nil {
		return fmt.Errorf("read nodes: %w", err)
	}
	stats, err := r.bytes(n * legacyNodeStatSize)
	if err != nil {
		return fmt.Errorf("read node statistics: %w", err)
	}
	if sizeLeafVector != 0 {
		switch {
		case major == 0:
			// XGBoost 0.x wrote a (never used) leaf vector here.
			if err := r.skipFloats(); err != nil {
				return fmt.Errorf("read leaf vector: %w", err)
			}
		case sizeLeafVector < 0 || sizeLeafVector > 1:
			return fmt.Errorf("size_leaf_vector %d: vector-leaf (multi-target) trees are not supported", sizeLeafVector)
		}
		// Since 1.0 no leaf vector is stored; 1 means a scalar leaf.
	}

	t.Nodes = make([]forest.Node, n)
	deleted := int32(0)
	for j := range t.Nodes {
		rec := nodes[j*legacyNodeSize:]
		left := int32(binary.LittleEndian.Uint32(rec[4:]))
		right := int32(binary.LittleEndian.Uint32(rec[8:]))
		sindex := binary.LittleEndian.Uint32(rec[12:])
		if sindex == legacyDeletedNode && j >= 1 {
			deleted++ // pruned, unreachable: its children are stale
		} else if left < -1 {
			return fmt.Errorf("node %d has left child %d", j, left)
		}
		t.Nodes[j] = forest.Node{
			Left:        left,
			Right:       right,
			Feature:     int32(sindex & (1<<31 - 1)),
			Value:       legacyF32(rec[16:]),
			DefaultLeft: sindex>>31 != 0,
			Cover:       legacyF32(stats[j*legacyNodeStatSize+4:]),
		}
	}
	if deleted != numDeleted {
		return fmt.Errorf("%d deleted nodes, header says %d", deleted, numDeleted)
	}
	return nil
}

// gblinear reads a GBLinearModel: its deprecated parameters and weights.
func (r *legacyReader) gblinear(spec *forest.Spec) error {
	if _, err := r.bytes(legacyLinearParamSize); err != nil {
		return fmt.Errorf("read gblinear parameters: %w", err)
	}
	w, err := r.floats()
	if err != nil {
		return fmt.Errorf("read gblinear weights: %w", err)
	}
	if want := (int64(spec.NumFeature) + 1) * int64(spec.NumGroup); int64(len(w)) != want {
		return fmt.Errorf("gblinear has %d weights, want (num_feature+1)*groups = %d", len(w), want)
	}
	spec.LinearWeights = w
	return nil
}

// legacyMarginToOutput inverts the objective's ProbToMargin, mapping the
// margin-space base_score XGBoost 0.x stored to the output space used
// since 1.0. Objectives with an identity link, and unknown ones, keep v.
func legacyMarginToOutput(objective string, v float32) float32 {
	switch objective {
	case "binary:logistic", "reg:logistic", "binary:logitraw":
		return float32(1 / (1 + math.Exp(-float64(v))))
	case "count:poisson", "reg:gamma", "reg:tweedie", "survival:cox":
		return float32(math.Exp(float64(v)))
	}
	return v
}

// legacyReader reads little-endian values from a byte slice, reporting
// truncation instead of panicking.
type legacyReader struct {
	buf []byte
	off int
}

func (r *legacyReader) remaining() int { return len(r.buf) - r.off }

// bytes returns the next n bytes without copying.
func (r *legacyReader) bytes(n int) ([]byte, error) {
	if n < 0 || n > r.remaining() {
		return nil, fmt.Errorf("need %d bytes at offset %d, %d left: %w", n, r.off, r.remaining(), errLegacyTruncated)
	}
	b := r.buf[r.off : r.off+n : r.off+n]
	r.off += n
	return b, nil
}

func (r *legacyReader) u64() (uint64, error) {
	b, err := r.bytes(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a uint64 element count of a vector whose elements take at
// least size bytes each, checking that they fit in the rest of the input.
func (r *legacyReader) count(size int) (int, error) {
	n, err := r.u64()
	if err != nil {
		return 0, err
	}
	if n > uint64(r.remaining()/size) {
		return 0, fmt.Errorf("vector of %d elements does not fit in the %d bytes left: %w", n, r.remaining(), errLegacyTruncated)
	}
	return int(n), nil
}

// floats reads a std::vector<float>: uint64 count, then the values.
func (r *legacyReader) floats() ([]float32, error) {
	n, err := r.count(4)
	if err != nil {
		return nil, err
	}
	b, err := r.bytes(4 * n)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = legacyF32(b[4*i:])
	}
	return out, nil
}

// skipFloats skips a std::vector<float>.
func (r *legacyReader) skipFloats() error {
	n, err := r.count(4)
	if err != nil {
		return err
	}
	_, err = r.bytes(4 * n)
	return err
}

// rawString reads a std::string (uint64 length, bytes) without copying.
func (r *legacyReader) rawString() ([]byte, error) {
	n, err := r.count(1)
	if err != nil {
		return nil, err
	}
	return r.bytes(n)
}

// name reads a short std::string such as a booster name.
func (r *legacyReader) name() (string, error) {
	n, err := r.u64()
	if err != nil {
		return "", err
	}
	return r.nameBody(n)
}

// objectiveName reads name_obj, accepting the layout of very old models
// that XGBoost 0.x still reads: a length of 2^32-1 or more is followed by 4
// padding bytes and holds the real length in its high half.
func (r *legacyReader) objectiveName() (string, error) {
	n, err := r.u64()
	if err != nil {
		return "", err
	}
	if n >= math.MaxUint32 {
		if _, err := r.bytes(4); err != nil {
			return "", err
		}
		n >>= 32
	}
	return r.nameBody(n)
}

func (r *legacyReader) nameBody(n uint64) (string, error) {
	if n > legacyMaxNameLen {
		return "", fmt.Errorf("name of %d bytes exceeds the limit of %d", n, legacyMaxNameLen)
	}
	b, err := r.bytes(int(n))
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("name %q is not valid UTF-8", b)
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("name %q has a control character", b)
		}
	}
	return string(b), nil
}

// skipAttributes skips the std::vector<std::pair<std::string,
// std::string>> of booster attributes (best_iteration and the like,
// and since 1.0 the objective's JSON configuration).
func (r *legacyReader) skipAttributes() error {
	n, err := r.count(16) // two string lengths per pair
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if _, err := r.rawString(); err != nil {
			return fmt.Errorf("attribute %d key: %w", i, err)
		}
		if _, err := r.rawString(); err != nil {
			return fmt.Errorf("attribute %d value: %w", i, err)
		}
	}
	return nil
}

func legacyF32(b []byte) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}
