package xgboost

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/leadscore/leadscore/forest"
)

const legacyDemoModel = "../testdata/lead-demo/model.model"

// ---- JSON reference ---------------------------------------------------------

// legacyJSONTree holds the fields of an XGBoost JSON tree the legacy reader
// is compared against. Floats stay json.Number so they convert to float32
// exactly (XGBoost writes the shortest round-tripping decimal).
type legacyJSONTree struct {
	LeftChildren    []int32           `json:"left_children"`
	RightChildren   []int32           `json:"right_children"`
	SplitIndices    []int64           `json:"split_indices"`
	SplitConditions []json.Number     `json:"split_conditions"`
	DefaultLeft     []json.RawMessage `json:"default_left"` // 0/1 or bool
	SumHessian      []json.Number     `json:"sum_hessian"`
}

type legacyJSONGBTree struct {
	Param    map[string]string `json:"gbtree_model_param"`
	Trees    []legacyJSONTree  `json:"trees"`
	TreeInfo []int32           `json:"tree_info"`
}

type legacyJSONModel struct {
	Version []int `json:"version"`
	Learner struct {
		ModelParam map[string]string `json:"learner_model_param"`
		Objective  struct {
			Name string `json:"name"`
		} `json:"objective"`
		GradientBooster struct {
			Name  string          `json:"name"`
			Model json.RawMessage `json:"model"` // gbtree, gblinear
			// dart
			GBTree *struct {
				Model legacyJSONGBTree `json:"model"`
			} `json:"gbtree"`
			WeightDrop []json.Number `json:"weight_drop"`
		} `json:"gradient_booster"`
	} `json:"learner"`
}

func legacyF32FromJSON(t *testing.T, n json.Number) float32 {
	t.Helper()
	v, err := strconv.ParseFloat(string(n), 32)
	if err != nil {
		t.Fatalf("parse %q: %v", n, err)
	}
	return float32(v)
}

func legacyF32sFromJSON(t *testing.T, ns []json.Number) []float32 {
	out := make([]float32, len(ns))
	for i, n := range ns {
		out[i] = legacyF32FromJSON(t, n)
	}
	return out
}

func legacyReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// legacyCompareWithJSON checks that spec, read from a legacy binary model,
// matches the same model's JSON dump bit for bit.
func legacyCompareWithJSON(t *testing.T, spec *forest.Spec, jsonPath string) {
	t.Helper()
	var m legacyJSONModel
	dec := json.NewDecoder(bytes.NewReader(legacyReadFile(t, jsonPath)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", jsonPath, err)
	}
	l := &m.Learner
	if spec.Objective != l.Objective.Name {
		t.Errorf("objective %q, JSON has %q", spec.Objective, l.Objective.Name)
	}
	if string(spec.Booster) != l.GradientBooster.Name {
		t.Errorf("booster %q, JSON has %q", spec.Booster, l.GradientBooster.Name)
	}
	if got, want := strconv.Itoa(spec.NumFeature), l.ModelParam["num_feature"]; got != want {
		t.Errorf("num_feature %s, JSON has %s", got, want)
	}
	numClass, _ := strconv.Atoi(l.ModelParam["num_class"])
	numTarget, _ := strconv.Atoi(l.ModelParam["num_target"])
	if want := max(1, numClass, numTarget); spec.NumGroup != want {
		t.Errorf("NumGroup %d, JSON num_class %d num_target %d", spec.NumGroup, numClass, numTarget)
	}
	bs, err := strconv.ParseFloat(l.ModelParam["base_score"], 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.BaseScore) != 1 || spec.BaseScore[0] != float32(bs) {
		t.Errorf("BaseScore %v, JSON has %v", spec.BaseScore, bs)
	}
	if len(m.Version) >= 2 && (spec.Version[0] != m.Version[0] || spec.Version[1] != m.Version[1]) {
		t.Errorf("version %v, JSON has %v", spec.Version, m.Version)
	}

	var gbt *legacyJSONGBTree
	switch spec.Booster {
	case forest.GBLinear:
		var lin struct {
			Weights []json.Number `json:"weights"`
		}
		if err := json.Unmarshal(l.GradientBooster.Model, &lin); err != nil {
			t.Fatal(err)
		}
		if want := legacyF32sFromJSON(t, lin.Weights); !legacyBitsEqual(spec.LinearWeights, want) {
			t.Errorf("gblinear weights differ from JSON:\n got %v\nwant %v", spec.LinearWeights, want)
		}
		return
	case forest.Dart:
		if l.GradientBooster.GBTree == nil {
			t.Fatal("dart JSON has no gbtree")
		}
		gbt = &l.GradientBooster.GBTree.Model
		if want := legacyF32sFromJSON(t, l.GradientBooster.WeightDrop); !legacyBitsEqual(spec.TreeWeights, want) {
			t.Errorf("weight_drop differs from JSON:\n got %v\nwant %v", spec.TreeWeights, want)
		}
	default:
		gbt = new(legacyJSONGBTree)
		dec := json.NewDecoder(bytes.NewReader(l.GradientBooster.Model))
		dec.UseNumber()
		if err := dec.Decode(gbt); err != nil {
			t.Fatal(err)
		}
		if spec.TreeWeights != nil {
			t.Errorf("gbtree has TreeWeights %v", spec.TreeWeights)
		}
	}
	if npt, ok := gbt.Param["num_parallel_tree"]; ok && strconv.Itoa(spec.NumParallelTree) != npt {
		t.Errorf("NumParallelTree %d, JSON has %s", spec.NumParallelTree, npt)
	}
	if !reflect.DeepEqual(spec.TreeGroup, gbt.TreeInfo) {
		t.Errorf("tree_info differs from JSON")
	}
	if len(spec.Trees) != len(gbt.Trees) {
		t.Fatalf("%d trees, JSON has %d", len(spec.Trees), len(gbt.Trees))
	}
	for i, jt := range gbt.Trees {
		nodes := spec.Trees[i].Nodes
		if len(nodes) != len(jt.LeftChildren) {
			t.Fatalf("tree %d: %d nodes, JSON has %d", i, len(nodes), len(jt.LeftChildren))
		}
		for j := range nodes {
			nd := &nodes[j]
			want := forest.Node{
				Left:        jt.LeftChildren[j],
				Right:       jt.RightChildren[j],
				Feature:     int32(jt.SplitIndices[j]),
				Value:       legacyF32FromJSON(t, jt.SplitConditions[j]),
				DefaultLeft: string(jt.DefaultLeft[j]) != "0" && string(jt.DefaultLeft[j]) != "false",
				Cover:       legacyF32FromJSON(t, jt.SumHessian[j]),
			}
			if nd.Left != want.Left || nd.Right != want.Right || nd.Feature != want.Feature ||
				nd.DefaultLeft != want.DefaultLeft || nd.Categorical ||
				math.Float32bits(nd.Value) != math.Float32bits(want.Value) ||
				math.Float32bits(nd.Cover) != math.Float32bits(want.Cover) {
				t.Fatalf("tree %d node %d:\n got %+v\nwant %+v", i, j, *nd, want)
			}
		}
	}
}

func legacyBitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// ---- real fixtures ----------------------------------------------------------

func TestReadLegacyLeadDemo(t *testing.T) {
	spec, err := ReadLegacy(legacyReadFile(t, legacyDemoModel))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Booster != forest.GBTree || spec.Objective != "binary:logistic" {
		t.Errorf("booster %q objective %q", spec.Booster, spec.Objective)
	}
	if spec.NumFeature != 50 || spec.NumGroup != 1 || spec.NumParallelTree != 1 {
		t.Errorf("NumFeature %d NumGroup %d NumParallelTree %d", spec.NumFeature, spec.NumGroup, spec.NumParallelTree)
	}
	if !reflect.DeepEqual(spec.BaseScore, []float32{0.5}) {
		t.Errorf("BaseScore %v", spec.BaseScore)
	}
	if spec.Version != [3]int{1, 7, 0} {
		t.Errorf("Version %v", spec.Version)
	}
	if len(spec.Trees) != 300 || len(spec.TreeGroup) != 300 {
		t.Fatalf("%d trees, %d tree_info", len(spec.Trees), len(spec.TreeGroup))
	}
	for i, g := range spec.TreeGroup {
		if g != 0 {
			t.Fatalf("tree %d in group %d", i, g)
		}
	}
	if spec.TreeWeights != nil || spec.LinearWeights != nil {
		t.Errorf("unexpected dart/linear weights")
	}
	// Tree 0, spot-checked by hand against model.json.
	n0 := spec.Trees[0].Nodes
	if len(n0) != 119 {
		t.Fatalf("tree 0 has %d nodes", len(n0))
	}
	if r := n0[0]; r.Left != 1 || r.Right != 2 || r.Feature != 21 || r.Value != 2 || r.Cover != 12500 || r.DefaultLeft {
		t.Errorf("tree 0 root %+v", r)
	}
	if l := n0[15]; !l.IsLeaf() || l.Value != float32(-0.19614577) {
		t.Errorf("tree 0 node 15 %+v", l)
	}
	legacyCompareWithJSON(t, spec, "../testdata/lead-demo/model.json")
}

// TestReadLegacyFixtures reads every legacy model under the repository's
// testdata/xgboost/<case>/ and compares it with the model.json beside it.
func TestReadLegacyFixtures(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "xgboost", "*", "model.model"))
	if len(paths) == 0 {
		t.Fatal("no fixtures in ../testdata/xgboost/*/model.model")
	}
	for _, p := range paths {
		dir := filepath.Dir(p)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data := legacyReadFile(t, p)
			spec, err := ReadLegacy(data)
			if err != nil {
				t.Fatal(err)
			}
			legacyCheckTruncations(t, data, len(data)/500+1)
			legacyCheckAlloc(t, data)
			jp := filepath.Join(dir, "model.json")
			if _, err := os.Stat(jp); err != nil {
				t.Skipf("no model.json: %v", err)
			}
			legacyCompareWithJSON(t, spec, jp)
		})
	}
}

// ---- synthetic models -------------------------------------------------------

// legacyModel describes a legacy binary model for legacyEncode.
type legacyModel struct {
	NoBinf       bool
	BaseScore    float32
	NumFeature   uint32
	NumClass     int32
	ExtraAttrs   bool
	Major, Minor uint32
	NumTarget    uint32
	Objective    string
	Booster      string
	NumParallel  int32
	NumTrees     *int32 // overrides len(Trees)
	Trees        []forest.Tree
	TreeInfo     []int32
	WeightDrop   []float32
	Linear       []float32
	Attrs        [][2]string
	// TreeParam, if set, edits tree i's TreeParam before it is written.
	TreeParam func(i int, p []byte)
}

type legacyWriter struct{ bytes.Buffer }

func (w *legacyWriter) u32(v uint32) { w.Write(binary.LittleEndian.AppendUint32(nil, v)) }
func (w *legacyWriter) u64(v uint64) { w.Write(binary.LittleEndian.AppendUint64(nil, v)) }
func (w *legacyWriter) f32(v float32) {
	w.u32(math.Float32bits(v))
}
func (w *legacyWriter) str(s string) { w.u64(uint64(len(s))); w.WriteString(s) }
func (w *legacyWriter) floats(fs []float32) {
	w.u64(uint64(len(fs)))
	for _, f := range fs {
		w.f32(f)
	}
}

func legacyEncode(m *legacyModel) []byte {
	var w legacyWriter
	if !m.NoBinf {
		w.WriteString("binf")
	}
	hdr := make([]byte, legacyLearnerParamSize)
	binary.LittleEndian.PutUint32(hdr[0:], math.Float32bits(m.BaseScore))
	binary.LittleEndian.PutUint32(hdr[4:], m.NumFeature)
	binary.LittleEndian.PutUint32(hdr[8:], uint32(m.NumClass))
	if m.ExtraAttrs {
		binary.LittleEndian.PutUint32(hdr[12:], 1)
	}
	binary.LittleEndian.PutUint32(hdr[20:], m.Major)
	binary.LittleEndian.PutUint32(hdr[24:], m.Minor)
	binary.LittleEndian.PutUint32(hdr[28:], m.NumTarget)
	w.Write(hdr)
	w.str(m.Objective)
	w.str(m.Booster)
	switch m.Booster {
	case "gblinear":
		w.Write(make([]byte, legacyLinearParamSize))
		w.floats(m.Linear)
	default:
		p := make([]byte, legacyGBTreeParamSize)
		n := int32(len(m.Trees))
		if m.NumTrees != nil {
			n = *m.NumTrees
		}
		binary.LittleEndian.PutUint32(p[0:], uint32(n))
		binary.LittleEndian.PutUint32(p[4:], uint32(m.NumParallel))
		w.Write(p)
		for i, t := range m.Trees {
			tp := make([]byte, legacyTreeParamSize)
			deleted := 0
			for j, nd := range t.Nodes {
				if j > 0 && nd.Feature == math.MaxInt32 && nd.DefaultLeft {
					deleted++
				}
			}
			binary.LittleEndian.PutUint32(tp[0:], 1)
			binary.LittleEndian.PutUint32(tp[4:], uint32(len(t.Nodes)))
			binary.LittleEndian.PutUint32(tp[8:], uint32(deleted))
			binary.LittleEndian.PutUint32(tp[16:], m.NumFeature)
			if m.TreeParam != nil {
				m.TreeParam(i, tp)
			}
			w.Write(tp)
			for _, nd := range t.Nodes {
				w.u32(0) // parent: not read
				w.u32(uint32(nd.Left))
				w.u32(uint32(nd.Right))
				s := uint32(nd.Feature)
				if nd.DefaultLeft {
					s |= 1 << 31
				}
				w.u32(s)
				w.f32(nd.Value)
			}
			for _, nd := range t.Nodes {
				w.f32(1)        // loss_chg
				w.f32(nd.Cover) // sum_hess
				w.f32(2)        // base_weight
				w.u32(0)        // leaf_child_cnt
			}
		}
		for _, g := range m.TreeInfo {
			w.u32(uint32(g))
		}
		if m.Booster == "dart" && len(m.Trees) > 0 {
			w.floats(m.WeightDrop)
		}
	}
	if m.ExtraAttrs {
		w.u64(uint64(len(m.Attrs)))
		for _, kv := range m.Attrs {
			w.str(kv[0])
			w.str(kv[1])
		}
	}
	return w.Bytes()
}

// legacyStump is a depth-1 tree: x[f] < cond ? a : b.
func legacyStump(f int32, cond, a, b float32) forest.Tree {
	return forest.Tree{Nodes: []forest.Node{
		{Left: 1, Right: 2, Feature: f, Value: cond, DefaultLeft: true, Cover: 10},
		{Left: -1, Right: -1, Value: a, Cover: 4},
		{Left: -1, Right: -1, Value: b, Cover: 6},
	}}
}

func legacyBaseModel() *legacyModel {
	return &legacyModel{
		BaseScore:  0.5,
		NumFeature: 4,
		ExtraAttrs: true,
		Major:      1,
		Minor:      7,
		NumTarget:  1,
		Objective:  "binary:logistic",
		Booster:    "gbtree",
		Trees: []forest.Tree{
			legacyStump(0, 1.5, -0.25, 0.75),
			legacyStump(3, -2, 0.125, -1),
		},
		TreeInfo:    []int32{0, 0},
		NumParallel: 1,
		Attrs:       [][2]string{{"best_iteration", "1"}, {"objective", `{"name":"binary:logistic"}`}},
	}
}

func TestReadLegacySynthetic(t *testing.T) {
	tests := []struct {
		name  string
		model func() *legacyModel
		check func(t *testing.T, s *forest.Spec)
	}{
		{"gbtree", legacyBaseModel, func(t *testing.T, s *forest.Spec) {
			want := legacyBaseModel()
			if !reflect.DeepEqual(s.Trees, want.Trees) || !reflect.DeepEqual(s.TreeGroup, want.TreeInfo) {
				t.Errorf("trees differ:\n got %+v\nwant %+v", s.Trees, want.Trees)
			}
			if s.NumFeature != 4 || s.NumGroup != 1 || s.Version != [3]int{1, 7, 0} {
				t.Errorf("spec %+v", s)
			}
		}},
		{"no binf, no attributes", func() *legacyModel {
			m := legacyBaseModel()
			m.NoBinf, m.ExtraAttrs = true, false
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if len(s.Trees) != 2 {
				t.Errorf("%d trees", len(s.Trees))
			}
		}},
		{"dart", func() *legacyModel {
			m := legacyBaseModel()
			m.Booster = "dart"
			m.WeightDrop = []float32{1, 0.5}
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if s.Booster != forest.Dart || !reflect.DeepEqual(s.TreeWeights, []float32{1, 0.5}) {
				t.Errorf("booster %q weights %v", s.Booster, s.TreeWeights)
			}
		}},
		{"dart without trees", func() *legacyModel {
			m := legacyBaseModel()
			m.Booster, m.Trees, m.TreeInfo = "dart", nil, nil
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if len(s.Trees) != 0 || len(s.TreeWeights) != 0 || s.TreeWeights == nil {
				t.Errorf("trees %v weights %#v", s.Trees, s.TreeWeights)
			}
		}},
		{"multiclass", func() *legacyModel {
			m := legacyBaseModel()
			m.Objective, m.NumClass = "multi:softprob", 3
			m.Trees = append(m.Trees, legacyStump(2, 0, 1, 2))
			m.TreeInfo = []int32{0, 1, 2}
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if s.NumGroup != 3 || !reflect.DeepEqual(s.TreeGroup, []int32{0, 1, 2}) {
				t.Errorf("NumGroup %d TreeGroup %v", s.NumGroup, s.TreeGroup)
			}
		}},
		{"num_target", func() *legacyModel {
			m := legacyBaseModel()
			m.Objective, m.NumTarget = "reg:squarederror", 2
			m.TreeInfo = []int32{0, 1}
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if s.NumGroup != 2 {
				t.Errorf("NumGroup %d", s.NumGroup)
			}
		}},
		{"random forest", func() *legacyModel {
			m := legacyBaseModel()
			m.NumParallel = 2
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if s.NumParallelTree != 2 {
				t.Errorf("NumParallelTree %d", s.NumParallelTree)
			}
		}},
		{"num_parallel_tree zero", func() *legacyModel {
			m := legacyBaseModel()
			m.NumParallel = 0
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if s.NumParallelTree != 1 {
				t.Errorf("NumParallelTree %d", s.NumParallelTree)
			}
		}},
		{"gblinear", func() *legacyModel {
			m := legacyBaseModel()
			m.Booster, m.Trees, m.TreeInfo = "gblinear", nil, nil
			m.NumFeature, m.NumClass, m.Objective = 2, 2, "multi:softmax"
			m.Linear = []float32{1, 2, 3, 4, 5, 6}
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if s.Booster != forest.GBLinear || !reflect.DeepEqual(s.LinearWeights, []float32{1, 2, 3, 4, 5, 6}) {
				t.Errorf("booster %q weights %v", s.Booster, s.LinearWeights)
			}
			if s.Trees != nil || s.TreeGroup != nil {
				t.Errorf("gblinear has trees")
			}
		}},
		{"deleted nodes", func() *legacyModel {
			m := legacyBaseModel()
			m.Trees[1].Nodes = []forest.Node{
				{Left: -1, Right: -1, Value: 3, Cover: 10},
				{Left: -1, Right: -1, Feature: math.MaxInt32, DefaultLeft: true},
				{Left: -1, Right: -1, Feature: math.MaxInt32, DefaultLeft: true},
			}
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if n := s.Trees[1].Nodes; len(n) != 3 || !n[0].IsLeaf() || n[0].Value != 3 {
				t.Errorf("tree 1 %+v", n)
			}
		}},
		{"size_leaf_vector 1 (scalar)", func() *legacyModel {
			m := legacyBaseModel()
			m.TreeParam = func(_ int, p []byte) { binary.LittleEndian.PutUint32(p[20:], 1) }
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if len(s.Trees) != 2 {
				t.Errorf("%d trees", len(s.Trees))
			}
		}},
		{"0.x logistic margin base_score", func() *legacyModel {
			m := legacyBaseModel()
			m.Major, m.Minor, m.NumTarget, m.BaseScore = 0, 0, 0, 0 // logit(0.5)
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if s.BaseScore[0] != 0.5 || s.Version != [3]int{} || s.NumGroup != 1 {
				t.Errorf("BaseScore %v Version %v NumGroup %d", s.BaseScore, s.Version, s.NumGroup)
			}
		}},
		{"0.x poisson margin base_score", func() *legacyModel {
			m := legacyBaseModel()
			m.Major, m.Minor, m.Objective, m.BaseScore = 0, 0, "count:poisson", float32(math.Log(2))
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if math.Abs(float64(s.BaseScore[0])-2) > 1e-6 {
				t.Errorf("BaseScore %v", s.BaseScore)
			}
		}},
		{"0.x squared error base_score", func() *legacyModel {
			m := legacyBaseModel()
			m.Major, m.Minor, m.Objective, m.BaseScore = 0, 0, "reg:linear", 0.25
			return m
		}, func(t *testing.T, s *forest.Spec) {
			if s.BaseScore[0] != 0.25 {
				t.Errorf("BaseScore %v", s.BaseScore)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := legacyEncode(tt.model())
			s, err := ReadLegacy(data)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
			legacyCheckTruncations(t, data, 1)
		})
	}
}

func TestReadLegacyOldObjectiveLength(t *testing.T) {
	// Very old models stored name_obj's length in the high half of a
	// uint64 of at least 2^32-1, followed by 4 padding bytes.
	m := legacyBaseModel()
	m.ExtraAttrs = false
	data := legacyEncode(m)
	at := 4 + legacyLearnerParamSize
	var old []byte
	old = append(old, data[:at]...)
	old = binary.LittleEndian.AppendUint64(old, uint64(len(m.Objective))<<32|0xffffffff)
	old = append(old, 0, 0, 0, 0)
	old = append(old, data[at+8:]...)
	s, err := ReadLegacy(old)
	if err != nil {
		t.Fatal(err)
	}
	if s.Objective != m.Objective || len(s.Trees) != 2 {
		t.Errorf("objective %q, %d trees", s.Objective, len(s.Trees))
	}
}

func TestReadLegacyErrors(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	tests := []struct {
		name string
		data func() []byte
		want string
	}{
		{"empty", func() []byte { return nil }, "learner parameters"},
		{"json", func() []byte { return []byte(`{"learner":{}}`) }, "JSON"},
		{"ubjson", func() []byte { return []byte("{L\x00\x00\x00\x00\x00\x00\x00\x07learner") }, "JSON"},
		{"bs64", func() []byte { return []byte("bs64AAAAAAAA") }, "base64"},
		{"unknown booster", func() []byte {
			m := legacyBaseModel()
			m.Booster = "gbforest"
			return legacyEncode(m)
		}, `unsupported booster "gbforest"`},
		{"negative num_class", func() []byte {
			m := legacyBaseModel()
			m.NumClass = -3
			return legacyEncode(m)
		}, "negative num_class"},
		{"too many classes", func() []byte {
			m := legacyBaseModel()
			m.NumClass = math.MaxInt32
			return legacyEncode(m)
		}, "exceed the limit"},
		{"too many targets", func() []byte {
			m := legacyBaseModel()
			m.NumClass, m.NumTarget = 0, math.MaxUint32
			return legacyEncode(m)
		}, "exceed the limit"},
		{"multi-class multi-target", func() []byte {
			m := legacyBaseModel()
			m.NumClass, m.NumTarget = 3, 2
			return legacyEncode(m)
		}, "multi-target multi-class"},
		{"too many features", func() []byte {
			m := legacyBaseModel()
			m.NumFeature = math.MaxUint32
			return legacyEncode(m)
		}, "num_feature"},
		{"negative num_trees", func() []byte {
			m := legacyBaseModel()
			m.NumTrees = i32(-1)
			return legacyEncode(m)
		}, "negative num_trees"},
		{"huge num_trees", func() []byte {
			m := legacyBaseModel()
			m.NumTrees = i32(math.MaxInt32)
			return legacyEncode(m)
		}, "num_trees 2147483647 does not fit"},
		{"num_parallel_tree above num_trees", func() []byte {
			m := legacyBaseModel()
			m.NumParallel = 3
			return legacyEncode(m)
		}, "num_parallel_tree 3 exceeds"},
		{"zero nodes", func() []byte {
			m := legacyBaseModel()
			m.TreeParam = func(i int, p []byte) {
				if i == 1 {
					binary.LittleEndian.PutUint32(p[4:], 0)
				}
			}
			return legacyEncode(m)
		}, "read tree 1: num_nodes 0"},
		{"negative nodes", func() []byte {
			m := legacyBaseModel()
			m.TreeParam = func(_ int, p []byte) { binary.LittleEndian.PutUint32(p[4:], 0x80000000) }
			return legacyEncode(m)
		}, "read tree 0: num_nodes -2147483648"},
		{"huge nodes", func() []byte {
			m := legacyBaseModel()
			m.TreeParam = func(_ int, p []byte) { binary.LittleEndian.PutUint32(p[4:], math.MaxInt32) }
			return legacyEncode(m)
		}, "does not fit"},
		{"multi-root", func() []byte {
			m := legacyBaseModel()
			m.TreeParam = func(_ int, p []byte) { binary.LittleEndian.PutUint32(p[0:], 2) }
			return legacyEncode(m)
		}, "multi-root"},
		{"vector leaf", func() []byte {
			m := legacyBaseModel()
			m.TreeParam = func(_ int, p []byte) { binary.LittleEndian.PutUint32(p[20:], 3) }
			return legacyEncode(m)
		}, "vector-leaf"},
		{"num_deleted mismatch", func() []byte {
			m := legacyBaseModel()
			m.TreeParam = func(_ int, p []byte) { binary.LittleEndian.PutUint32(p[8:], 1) }
			return legacyEncode(m)
		}, "deleted nodes"},
		{"bad left child", func() []byte {
			m := legacyBaseModel()
			m.Trees[0].Nodes[2].Left = -7
			return legacyEncode(m)
		}, "node 2 has left child -7"},
		{"dart weight count", func() []byte {
			m := legacyBaseModel()
			m.Booster, m.WeightDrop = "dart", []float32{1}
			return legacyEncode(m)
		}, "weight_drop has 1 entries for 2 trees"},
		{"gblinear weight count", func() []byte {
			m := legacyBaseModel()
			m.Booster, m.Trees, m.TreeInfo, m.Linear = "gblinear", nil, nil, []float32{1, 2}
			return legacyEncode(m)
		}, "gblinear has 2 weights"},
		{"huge objective name", func() []byte {
			m := legacyBaseModel()
			m.Objective = strings.Repeat("x", 1000)
			return legacyEncode(m)
		}, "exceeds the limit"},
		{"control character in name", func() []byte {
			m := legacyBaseModel()
			m.Objective = "binary:\x00logistic"
			return legacyEncode(m)
		}, "control character"},
		{"implausible version", func() []byte {
			m := legacyBaseModel()
			m.Major = 0xdeadbeef
			return legacyEncode(m)
		}, "implausible version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ReadLegacy(tt.data())
			if err == nil {
				t.Fatalf("no error, got %+v", s)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "legacy model: ") {
				t.Errorf("error %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestReadLegacyHostileCounts patches each length field of a valid model to
// huge values and checks that the reader neither succeeds nor allocates
// for the claimed size.
func TestReadLegacyHostileCounts(t *testing.T) {
	m := legacyBaseModel()
	m.Booster, m.WeightDrop = "dart", []float32{1, 1}
	data := legacyEncode(m)
	// Offsets of the uint64 counts: the two names, weight_drop, the
	// attribute vector and its first key.
	objAt := 4 + legacyLearnerParamSize
	boosterAt := objAt + 8 + len(m.Objective)
	var w legacyWriter
	w.floats(m.WeightDrop)
	attrsAt := len(data) - (8 + 2*8 + len("best_iteration") + 1 + 8 + len("objective") + 8 + len(m.Attrs[1][1]))
	dropAt := attrsAt - w.Len()
	for _, at := range []int{objAt, boosterAt, dropAt, attrsAt, attrsAt + 8} {
		for _, v := range []uint64{math.MaxUint64, math.MaxInt64, 1 << 40, uint64(len(data))} {
			bad := bytes.Clone(data)
			binary.LittleEndian.PutUint64(bad[at:], v)
			if _, err := ReadLegacy(bad); err == nil {
				t.Errorf("count %d at offset %d: no error", v, at)
			}
			legacyCheckAlloc(t, bad)
		}
	}
}

func TestReadLegacyTruncatedRealFile(t *testing.T) {
	data := legacyReadFile(t, legacyDemoModel)
	step := 1
	if testing.Short() {
		step = 97
	}
	// Every prefix of the header, names and first tree, then a sample.
	for n := 0; n < 1024; n += step {
		legacyCheckTruncated(t, data[:n])
	}
	for n := 1024; n < len(data); n += 997 * step {
		legacyCheckTruncated(t, data[:n])
	}
	legacyCheckTruncated(t, data[:len(data)-1])
}

func legacyCheckTruncated(t *testing.T, data []byte) {
	t.Helper()
	if s, err := ReadLegacy(data); err == nil {
		t.Fatalf("prefix of %d bytes: no error, %d trees", len(data), len(s.Trees))
	} else if len(data) > 4+legacyLearnerParamSize && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("prefix of %d bytes: error %q does not wrap io.ErrUnexpectedEOF", len(data), err)
	}
}

// legacyCheckTruncations checks that every strict prefix of a valid model
// (every step-th one) is an error.
func legacyCheckTruncations(t *testing.T, data []byte, step int) {
	t.Helper()
	for n := 0; n < len(data); n += step {
		if _, err := ReadLegacy(data[:n]); err == nil {
			t.Fatalf("prefix of %d/%d bytes: no error", n, len(data))
		}
	}
}

// legacyAllocLimit is how much ReadLegacy may allocate for an input.
func legacyAllocLimit(n int) uint64 { return 4*uint64(n) + 64<<10 }

// legacyCheckAlloc fails if ReadLegacy(data) allocates more than
// legacyAllocLimit(len(data)) bytes.
func legacyCheckAlloc(t testing.TB, data []byte) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _ = ReadLegacy(data)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > legacyAllocLimit(len(data)) {
		t.Fatalf("allocated %d bytes for a %d-byte input", got, len(data))
	}
}

func TestReadLegacyAllocation(t *testing.T) {
	legacyCheckAlloc(t, legacyReadFile(t, legacyDemoModel))
}

// TestReadLegacyRoundTrip re-encodes the real model with the test writer
// and reads it back.
func TestReadLegacyRoundTrip(t *testing.T) {
	spec, err := ReadLegacy(legacyReadFile(t, legacyDemoModel))
	if err != nil {
		t.Fatal(err)
	}
	m := legacyBaseModel()
	m.NumFeature = uint32(spec.NumFeature)
	m.Trees, m.TreeInfo = spec.Trees, spec.TreeGroup
	again, err := ReadLegacy(legacyEncode(m))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, spec) {
		t.Error("round trip changed the model")
	}
}

func BenchmarkReadLegacy(b *testing.B) {
	data := legacyReadFile(b, legacyDemoModel)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadLegacy(data); err != nil {
			b.Fatal(err)
		}
	}
}

// legacySmallRealSeed cuts the real model down to its first few trees, so
// the fuzzer gets real-world bytes in a small input.
func legacySmallRealSeed(t testing.TB, trees int) []byte {
	spec, err := ReadLegacy(legacyReadFile(t, legacyDemoModel))
	if err != nil {
		t.Fatal(err)
	}
	m := legacyBaseModel()
	m.NumFeature = uint32(spec.NumFeature)
	m.Trees, m.TreeInfo = spec.Trees[:trees], spec.TreeGroup[:trees]
	return legacyEncode(m)
}

func FuzzReadLegacy(f *testing.F) {
	file := legacyReadFile(f, legacyDemoModel)
	f.Add(file)
	for _, n := range []int{0, 3, 4, 8, 140, 150, 170, 330, 1000, len(file) / 2, len(file) - 1} {
		f.Add(file[:n])
	}
	small := legacySmallRealSeed(f, 2)
	f.Add(small)
	f.Add(small[:len(small)/2])
	dart := legacyBaseModel()
	dart.Booster, dart.WeightDrop = "dart", []float32{1, 0.5}
	f.Add(legacyEncode(dart))
	lin := legacyBaseModel()
	lin.Booster, lin.Trees, lin.TreeInfo, lin.Linear = "gblinear", nil, nil, []float32{1, 2, 3, 4, 5}
	f.Add(legacyEncode(lin))
	fixtures, _ := filepath.Glob(filepath.Join("..", "testdata", "xgboost", "*", "model.model"))
	for _, p := range fixtures {
		f.Add(legacyReadFile(f, p))
	}
	old := legacyBaseModel()
	old.NoBinf, old.Major, old.Minor, old.NumTarget = true, 0, 0, 0
	f.Add(legacyEncode(old))

	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := ReadLegacy(data)
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > legacyAllocLimit(len(data)) {
			t.Fatalf("allocated %d bytes for a %d-byte input", got, len(data))
		}
		if err != nil {
			if s != nil {
				t.Fatal("spec and error both returned")
			}
			if !strings.HasPrefix(err.Error(), "legacy model: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if s.NumGroup < 1 || s.NumGroup > forest.MaxGroups || s.NumFeature > forest.MaxFeatures {
			t.Fatalf("NumGroup %d NumFeature %d", s.NumGroup, s.NumFeature)
		}
		if len(s.BaseScore) != 1 || s.NumParallelTree < 1 {
			t.Fatalf("BaseScore %v NumParallelTree %d", s.BaseScore, s.NumParallelTree)
		}
		switch s.Booster {
		case forest.GBLinear:
			if len(s.LinearWeights) != (s.NumFeature+1)*s.NumGroup {
				t.Fatalf("%d linear weights", len(s.LinearWeights))
			}
		case forest.GBTree, forest.Dart:
			if len(s.TreeGroup) != len(s.Trees) {
				t.Fatalf("%d tree_info for %d trees", len(s.TreeGroup), len(s.Trees))
			}
			if s.Booster == forest.Dart && len(s.TreeWeights) != len(s.Trees) {
				t.Fatalf("%d weights for %d trees", len(s.TreeWeights), len(s.Trees))
			}
			for i := range s.Trees {
				if len(s.Trees[i].Nodes) == 0 {
					t.Fatalf("tree %d has no nodes", i)
				}
			}
		default:
			t.Fatalf("booster %q", s.Booster)
		}
	})
}
