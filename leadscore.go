// Package leadscore holds the domain of lead scoring: tiers, reason codes,
// results and the Scorer interface every transport (HTTP, Lambda, SageMaker)
// serves. It depends on the standard library only.
package leadscore

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"
)

// Tiers are four ascending probability cut-offs. A probability below
// Tiers[0] is tier 1; at or above Tiers[3] it is tier 5.
type Tiers [4]float64

// Validate reports whether t is strictly ascending inside (0, 1).
func (t Tiers) Validate() error {
	for i, c := range t {
		if !(c > 0 && c < 1) {
			return fmt.Errorf("tier cut-off %d is %v, want a probability in (0, 1)", i+1, c)
		}
		if i > 0 && !(c > t[i-1]) {
			return fmt.Errorf("tier cut-offs must ascend: %v after %v", c, t[i-1])
		}
	}
	return nil
}

// Tier maps a probability to a tier 1..5. NaN maps to 1.
func (t Tiers) Tier(p float64) int {
	tier := 1
	for _, c := range t {
		if p >= c {
			tier++
		}
	}
	return tier
}

// Reason is one reason code: a feature and how much it moved the lead's
// score, in the model's margin (log-odds for logistic models).
type Reason struct {
	Feature string `json:"feature"`
	// Value is the lead's value; nil when it was missing.
	Value        *float64 `json:"value"`
	Contribution float64  `json:"contribution"`
	// Direction is "up" when the feature raised the score, "down" when it
	// lowered it.
	Direction string `json:"direction"`
}

// Reasons picks up to k features pushing the score up (largest first) and up
// to k pushing it down (most negative first) from per-feature contributions
// (TreeSHAP, without the bias column). names and values are the model's
// feature names and the lead's values (NaN for missing); scratch is reused
// when large enough to avoid allocation.
func Reasons(contribs []float32, names []string, values []float32, k int, scratch []int) []Reason {
	if k <= 0 {
		return nil
	}
	idx := scratch[:0]
	for i := range contribs {
		if contribs[i] != 0 {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(a, b int) bool {
		ca, cb := contribs[idx[a]], contribs[idx[b]]
		if ca != cb {
			return ca > cb
		}
		return idx[a] < idx[b]
	})
	var out []Reason
	add := func(i int) {
		r := Reason{Feature: names[i], Contribution: float64(contribs[i]), Direction: "up"}
		if contribs[i] < 0 {
			r.Direction = "down"
		}
		if v := float64(values[i]); !math.IsNaN(v) {
			r.Value = &v
		}
		out = append(out, r)
	}
	for j := 0; j < len(idx) && j < k && contribs[idx[j]] > 0; j++ {
		add(idx[j])
	}
	for j := 0; j < k && j < len(idx); j++ {
		i := idx[len(idx)-1-j]
		if contribs[i] >= 0 {
			break
		}
		add(i)
	}
	return out
}

// Feature describes one input column of a served model.
type Feature struct {
	Name string `json:"name"`
	// Min and Max are the expected range seen in training; values outside
	// are scored but counted as out of range by monitoring.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// ModelInfo identifies the model a Scorer serves.
type ModelInfo struct {
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	Features []Feature `json:"features"`
	Tiers    Tiers     `json:"tiers"`
	// Objective is the XGBoost objective ("binary:logistic", ...); empty
	// when the scorer does not know it (a remote endpoint).
	Objective string `json:"objective,omitempty"`
}

// Result is the score of one lead.
type Result struct {
	Score       int      `json:"score"`
	Probability float64  `json:"probability"`
	Margin      float64  `json:"margin"`
	Reasons     []Reason `json:"reasons,omitempty"`
}

// Scorer scores batches of leads. Implementations are safe for concurrent
// use.
type Scorer interface {
	// Info describes the model in use.
	Info() ModelInfo
	// Score scores rows (row-major, len(rows) == n*len(Info().Features),
	// NaN for missing) into out[:n]. explain > 0 asks for up to explain
	// reasons each way per lead.
	Score(ctx context.Context, rows []float32, explain int, out []Result) error
}

// Loader loads the model to serve. A server calls it once at start and
// again on every reload (a signal, an admin call, or a Watcher of package
// bundle reporting a change); each call returns a new Scorer or the reason
// none could be loaded, and the server keeps the old one on an error.
type Loader func() (Scorer, error)

// Record is one scored lead as the data lake and the monitor see it.
type Record struct {
	Time         time.Time // when the lead was scored (UTC)
	RequestID    string
	InferenceID  string // X-Amzn-SageMaker-Inference-Id, or generated
	LeadID       string // empty when the caller gave none
	Model        string
	ModelVersion string
	// Features holds the lead's values in model order, NaN for missing.
	// The slice belongs to the record: a Sink may keep it.
	Features []float32
	// FeatureNames names Features, in order: the feature list of the model
	// that scored the record (Model, ModelVersion), so that a Sink files
	// each value under its own name even while a reload changes the list.
	// It is shared by every record of that model; a Sink must not modify
	// it. Nil means the Sink's own feature list (its length is checked).
	FeatureNames []string
	Margin       float64
	Probability  float64
	Tier         int
	LatencyMS    float64 // the request's scoring latency
	// Variant names the variant that scored the lead when several are
	// served (champion/challenger); empty with one model.
	Variant string
	// Shadow is true for a shadow variant's score, computed off the
	// request path and never returned; false for the live answer. A
	// shadow record shares its InferenceID with the live one.
	Shadow bool
}

// Outcome is the ground truth of one scored lead: whether it converted.
// It names the prediction by inference id (preferred) or lead id; the
// data lake stores outcomes in its groundtruth/ partitions.
type Outcome struct {
	InferenceID string
	LeadID      string
	Converted   bool
	Time        time.Time // when the outcome happened (UTC), as the caller said
	// Received is when leadscore received it (UTC). The lake partitions
	// outcomes by it, never by Time, so that a caller cannot choose how
	// many partitions and files one request creates; zero means the time
	// the lake takes it.
	Received time.Time
}

// Sink receives scored records from the request path: an implementation
// queues them, and when its queue is full either drops (and counts) them or
// waits a bounded time for room, which slows the request path down to its
// pace; it never blocks indefinitely.
type Sink interface {
	Capture(recs []Record)
}

// A SliceCopier is a Sink that keeps no reference to the recs slice once
// Capture returns: it copies the records it keeps (their Features and
// strings, which belong to the records, it may keep). A caller whose sink
// is one may reuse the slice for its next batch instead of allocating
// one per request. MultiSink's result is one when all its sinks are.
type SliceCopier interface {
	Sink
	// CopiesRecords reports whether Capture keeps nothing of recs itself.
	CopiesRecords() bool
}

// CopiesRecords reports whether s is a SliceCopier that copies.
func CopiesRecords(s Sink) bool {
	c, ok := s.(SliceCopier)
	return ok && c.CopiesRecords()
}

// A FeatureCopier is a Sink that reads no record's Features values once
// Capture returns: it copies the values it keeps into storage of its own
// (or never reads them). A caller whose sink is one may hand it Features
// in a buffer it reuses for its next batch. MultiSink's result is one
// when all its sinks are.
type FeatureCopier interface {
	Sink
	// CopiesFeatures reports whether Capture reads nothing of the
	// records' Features after it returns.
	CopiesFeatures() bool
}

// CopiesFeatures reports whether s is a FeatureCopier that copies.
func CopiesFeatures(s Sink) bool {
	c, ok := s.(FeatureCopier)
	return ok && c.CopiesFeatures()
}
