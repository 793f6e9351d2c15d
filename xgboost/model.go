// Package xgboost reads models saved by XGBoost's Booster.save_model (JSON
// and UBJSON from XGBoost 1.x to 3.x, and the legacy binary format) into a
// forest.Spec. It reads bytes and does no other I/O.
package xgboost

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/leadscore/leadscore/forest"
)

// Format names a model file format.
type Format string

// Formats Read recognises.
const (
	FormatJSON   Format = "json"
	FormatUBJSON Format = "ubjson"
	FormatLegacy Format = "legacy-binary"
)

// MaxModelBytes bounds the size of a model file Read accepts (1 GiB).
const MaxModelBytes = 1 << 30

// Detect tells the format of a model file from its first bytes.
func Detect(data []byte) Format {
	if len(data) > 0 && data[0] == '{' {
		rest := bytes.TrimLeft(data[1:], " \t\r\n")
		if len(rest) == 0 || rest[0] == '"' || rest[0] == '}' {
			return FormatJSON
		}
		return FormatUBJSON
	}
	return FormatLegacy
}

// Read parses a model in any supported format.
func Read(data []byte) (*forest.Spec, Format, error) {
	if len(data) > MaxModelBytes {
		return nil, "", fmt.Errorf("model is %d bytes, more than the %d allowed", len(data), MaxModelBytes)
	}
	format := Detect(data)
	var (
		spec *forest.Spec
		err  error
	)
	switch format {
	case FormatJSON:
		spec, err = ReadJSON(data)
	case FormatUBJSON:
		spec, err = ReadUBJSON(data)
	default:
		spec, err = ReadLegacy(data)
	}
	return spec, format, err
}

// Load parses and compiles a model in any supported format.
func Load(data []byte) (*forest.Forest, Format, error) {
	spec, format, err := Read(data)
	if err != nil {
		return nil, format, err
	}
	f, err := forest.New(spec)
	if err != nil {
		return nil, format, fmt.Errorf("%s model: %w", format, err)
	}
	return f, format, nil
}

// ReadJSON parses a model saved as JSON.
func ReadJSON(data []byte) (*forest.Spec, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("json model: %w", err)
	}
	spec, err := fromDocument(&v)
	if err != nil {
		return nil, fmt.Errorf("json model: %w", err)
	}
	return spec, nil
}

// ReadUBJSON parses a model saved as UBJSON.
func ReadUBJSON(data []byte) (*forest.Spec, error) {
	v, err := decodeUBJSON(data)
	if err != nil {
		return nil, fmt.Errorf("ubjson model: %w", err)
	}
	spec, err := fromDocument(&v)
	if err != nil {
		return nil, fmt.Errorf("ubjson model: %w", err)
	}
	return spec, nil
}

var errMissing = errors.New("missing")

// number reads a number that XGBoost may write as a number, a boolean or a
// string ("300", "5E-1", or the list form "[5E-1]" of newer versions,
// taking its first element).
func (v *value) number(what string) (float64, error) {
	switch v.kind {
	case kindNumber, kindBool:
		return v.num, nil
	case kindString:
		s := strings.TrimSpace(v.str)
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			s = strings.TrimSpace(strings.Split(s[1:len(s)-1], ",")[0])
		}
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not a number", what, v.str)
		}
		return n, nil
	case kindNumbers:
		if len(v.nums) > 0 {
			return v.nums[0], nil
		}
	case kindNull:
		return 0, fmt.Errorf("%s: %w", what, errMissing)
	}
	return 0, fmt.Errorf("%s: not a number", what)
}

// numbers reads a list of numbers written as an array or as a string
// "[a,b,...]".
func (v *value) numbers(what string) ([]float64, error) {
	switch v.kind {
	case kindNumbers:
		return v.nums, nil
	case kindNumber, kindBool:
		return []float64{v.num}, nil
	case kindString:
		s := strings.TrimSpace(v.str)
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		var out []float64
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			n, err := strconv.ParseFloat(part, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", what, part)
			}
			out = append(out, n)
		}
		return out, nil
	case kindNull:
		return nil, fmt.Errorf("%s: %w", what, errMissing)
	}
	return nil, fmt.Errorf("%s: not a list of numbers", what)
}

// integer reads a non-negative integer no larger than limit.
func (v *value) integer(what string, limit int) (int, error) {
	n, err := v.number(what)
	if err != nil {
		return 0, err
	}
	if n != math.Trunc(n) || n < 0 || n > float64(limit) {
		return 0, fmt.Errorf("%s: %v is not an integer in [0, %d]", what, n, limit)
	}
	return int(n), nil
}

func (v *value) strings(what string) ([]string, error) {
	if v.kind == kindNull || (v.kind == kindNumbers && len(v.nums) == 0) {
		return nil, nil
	}
	if v.kind != kindArray {
		return nil, fmt.Errorf("%s: not a list of strings", what)
	}
	out := make([]string, len(v.arr))
	for i := range v.arr {
		if v.arr[i].kind != kindString {
			return nil, fmt.Errorf("%s[%d]: not a string", what, i)
		}
		out[i] = v.arr[i].str
	}
	return out, nil
}

// fromDocument maps a decoded model document to a Spec. Unknown keys are
// ignored; every key evaluation depends on is checked.
func fromDocument(doc *value) (*forest.Spec, error) {
	if doc.kind != kindObject {
		return nil, errors.New("document is not an object")
	}
	s := &forest.Spec{}
	if ver := doc.get("version"); ver.kind == kindNumbers {
		for i := 0; i < len(ver.nums) && i < 3; i++ {
			s.Version[i] = int(ver.nums[i])
		}
	}
	learner := doc.get("learner")
	if learner.kind != kindObject {
		return nil, errors.New("learner: missing")
	}
	param := learner.get("learner_model_param")
	var err error
	if s.NumFeature, err = param.get("num_feature").integer("num_feature", forest.MaxFeatures); err != nil {
		return nil, err
	}
	numClass := 0
	if nc := param.get("num_class"); nc.kind != kindNull {
		if numClass, err = nc.integer("num_class", forest.MaxGroups); err != nil {
			return nil, err
		}
	}
	if nt := param.get("num_target"); nt.kind != kindNull {
		n, err := nt.integer("num_target", forest.MaxGroups)
		if err != nil {
			return nil, err
		}
		if n > 1 {
			return nil, fmt.Errorf("num_target %d: multi-target models are not supported", n)
		}
	}
	s.NumGroup = max(1, numClass)
	base, err := param.get("base_score").numbers("base_score")
	if err != nil {
		return nil, err
	}
	if len(base) == 0 {
		return nil, errors.New("base_score: empty")
	}
	for _, b := range base {
		s.BaseScore = append(s.BaseScore, float32(b))
	}
	obj := learner.get("objective")
	if obj.kind == kindString {
		s.Objective = obj.str
	} else if name := obj.get("name"); name.kind == kindString {
		s.Objective = name.str
	} else {
		return nil, errors.New("objective: missing")
	}
	if s.FeatureNames, err = learner.get("feature_names").strings("feature_names"); err != nil {
		return nil, err
	}
	if s.FeatureTypes, err = learner.get("feature_types").strings("feature_types"); err != nil {
		return nil, err
	}
	gb := learner.get("gradient_booster")
	name := gb.get("name")
	if name.kind != kindString {
		return nil, errors.New("gradient_booster.name: missing")
	}
	s.Booster = forest.Booster(name.str)
	switch s.Booster {
	case forest.GBTree:
		err = readTrees(gb.get("model"), s)
	case forest.Dart:
		if err = readTrees(gb.path("gbtree", "model"), s); err != nil {
			return nil, err
		}
		var w []float64
		if w, err = gb.get("weight_drop").numbers("weight_drop"); err != nil {
			return nil, err
		}
		s.TreeWeights = toFloat32(w)
	case forest.GBLinear:
		var w []float64
		if w, err = gb.path("model", "weights").numbers("gblinear weights"); err != nil {
			return nil, err
		}
		s.LinearWeights = toFloat32(w)
	default:
		return nil, fmt.Errorf("unsupported booster %q", name.str)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func toFloat32(in []float64) []float32 {
	out := make([]float32, len(in))
	for i, v := range in {
		out[i] = float32(v)
	}
	return out
}

// readTrees reads a gbtree model object: trees, tree_info and parameters.
func readTrees(model *value, s *forest.Spec) error {
	if model.kind != kindObject {
		return errors.New("gbtree model: missing")
	}
	s.NumParallelTree = 1
	if np := model.path("gbtree_model_param", "num_parallel_tree"); np.kind != kindNull {
		n, err := np.integer("num_parallel_tree", 1<<20)
		if err != nil {
			return err
		}
		s.NumParallelTree = n
	}
	trees := model.get("trees")
	var list []value
	switch trees.kind {
	case kindArray:
		list = trees.arr
	case kindNumbers:
		if len(trees.nums) != 0 {
			return errors.New("trees: not a list of trees")
		}
	default:
		return errors.New("trees: missing")
	}
	info, err := model.get("tree_info").numbers("tree_info")
	if err != nil {
		return err
	}
	if len(info) != len(list) {
		return fmt.Errorf("tree_info has %d entries for %d trees", len(info), len(list))
	}
	s.Trees = make([]forest.Tree, len(list))
	s.TreeGroup = make([]int32, len(list))
	for i := range list {
		if info[i] < 0 || info[i] >= forest.MaxGroups || info[i] != math.Trunc(info[i]) {
			return fmt.Errorf("tree_info[%d] = %v is not a group", i, info[i])
		}
		s.TreeGroup[i] = int32(info[i])
		if err := readTree(&list[i], &s.Trees[i]); err != nil {
			return fmt.Errorf("tree %d: %w", i, err)
		}
	}
	return nil
}

// readTree reads one tree object's parallel node arrays.
func readTree(v *value, t *forest.Tree) error {
	if v.kind != kindObject {
		return errors.New("not an object")
	}
	if lv := v.path("tree_param", "size_leaf_vector"); lv.kind != kindNull {
		if n, err := lv.number("size_leaf_vector"); err != nil || n > 1 {
			return errors.New("vector-leaf (multi-target) trees are not supported")
		}
	}
	arrays := map[string][]float64{}
	for _, key := range []string{"left_children", "right_children", "split_indices",
		"split_conditions", "default_left", "sum_hessian"} {
		a, err := v.get(key).numbers(key)
		if err != nil {
			return err
		}
		arrays[key] = a
	}
	n := len(arrays["left_children"])
	for key, a := range arrays {
		if len(a) != n {
			return fmt.Errorf("%s has %d entries, left_children %d", key, len(a), n)
		}
	}
	if n == 0 {
		return errors.New("no nodes")
	}
	left, right := arrays["left_children"], arrays["right_children"]
	feat, cond := arrays["split_indices"], arrays["split_conditions"]
	dleft, cover := arrays["default_left"], arrays["sum_hessian"]
	t.Nodes = make([]forest.Node, n)
	for i := range t.Nodes {
		if left[i] != math.Trunc(left[i]) || right[i] != math.Trunc(right[i]) ||
			math.Abs(left[i]) > math.MaxInt32 || math.Abs(right[i]) > math.MaxInt32 {
			return fmt.Errorf("node %d: invalid child index", i)
		}
		if feat[i] < 0 || feat[i] > forest.MaxFeatures || feat[i] != math.Trunc(feat[i]) {
			return fmt.Errorf("node %d: invalid split index %v", i, feat[i])
		}
		nd := forest.Node{
			Left:        int32(left[i]),
			Right:       int32(right[i]),
			Feature:     int32(feat[i]),
			Value:       float32(cond[i]),
			DefaultLeft: dleft[i] != 0,
			Cover:       float32(cover[i]),
		}
		if nd.Left < 0 {
			nd.Left, nd.Right = -1, -1
		}
		t.Nodes[i] = nd
	}
	return readCategories(v, t)
}

// readCategories applies split_type and the categories arrays, which
// models without categorical splits may omit.
func readCategories(v *value, t *forest.Tree) error {
	st := v.get("split_type")
	if st.kind == kindNull {
		return nil
	}
	types, err := st.numbers("split_type")
	if err != nil {
		return err
	}
	if len(types) == 0 {
		return nil
	}
	if len(types) != len(t.Nodes) {
		return fmt.Errorf("split_type has %d entries for %d nodes", len(types), len(t.Nodes))
	}
	catNodes, err := optionalNumbers(v, "categories_nodes")
	if err != nil {
		return err
	}
	segments, err := optionalNumbers(v, "categories_segments")
	if err != nil {
		return err
	}
	sizes, err := optionalNumbers(v, "categories_sizes")
	if err != nil {
		return err
	}
	cats, err := optionalNumbers(v, "categories")
	if err != nil {
		return err
	}
	if len(segments) != len(catNodes) || len(sizes) != len(catNodes) {
		return errors.New("categories_nodes, categories_segments and categories_sizes differ in length")
	}
	for i, typ := range types {
		if typ != 0 && typ != 1 {
			return fmt.Errorf("split_type[%d] = %v", i, typ)
		}
		if typ == 1 && !t.Nodes[i].IsLeaf() {
			t.Nodes[i].Categorical = true
		}
	}
	for j, nf := range catNodes {
		id := int(nf)
		if nf != math.Trunc(nf) || id < 0 || id >= len(t.Nodes) || !t.Nodes[id].Categorical {
			return fmt.Errorf("categories_nodes[%d] = %v is not a categorical node", j, nf)
		}
		beg, size := segments[j], sizes[j]
		if beg < 0 || size < 0 || beg+size > float64(len(cats)) || beg != math.Trunc(beg) || size != math.Trunc(size) {
			return fmt.Errorf("categories segment %d out of range", j)
		}
		list := make([]uint32, int(size))
		for k := range list {
			c := cats[int(beg)+k]
			if c < 0 || c >= forest.MaxCategory || c != math.Trunc(c) {
				return fmt.Errorf("category %v out of range", c)
			}
			list[k] = uint32(c)
		}
		t.Nodes[id].Categories = list
	}
	return nil
}

func optionalNumbers(v *value, key string) ([]float64, error) {
	a := v.get(key)
	if a.kind == kindNull {
		return nil, nil
	}
	return a.numbers(key)
}
