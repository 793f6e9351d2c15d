// Package dataset turns the capture lake into the next training set: each
// captured lead's features, as they were when it was scored, joined with
// its outcome from POST /v1/feedback within a label window. It reads the
// lake through package lake (local or any lake.Store, such as S3).
package dataset

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore/lake"
)

// Query says which leads to gather.
type Query struct {
	// Dir is a local lake directory; with Store set, a name for messages.
	Dir   string
	Store lake.Store
	// From and Now bound the scoring times; outcomes are read up to Now.
	From, Now time.Time
	// LabelWindow is how long after its scoring a lead's outcome counts.
	LabelWindow time.Duration
	// Model keeps only the rows of this model_name ("" for all).
	Model string
	// DropNoOutcome leaves out leads whose window ended without an
	// outcome, instead of taking them as not converted.
	DropNoOutcome bool
}

// Row is one lead of the training set.
type Row struct {
	EventTime    time.Time
	LeadID       string
	InferenceID  string
	ModelName    string
	ModelVersion string
	Probability  float64
	Features     []float64 // in Set.Features order, NaN missing
	Converted    bool
}

// Set is a training set and how it was made.
type Set struct {
	Features []string
	Rows     []Row
	// Scored counts the live prediction rows read; Rescored the later
	// scorings of a lead already seen (the first scoring wins).
	Scored, Rescored int
	// Pending counts leads still inside their label window (left out);
	// NoOutcome leads whose window ended without an outcome (taken as not
	// converted, or left out with DropNoOutcome); Late outcomes that came
	// after the window (the lead counts as not converted).
	Pending, NoOutcome, Late int
	Files, OutcomeFiles      int
}

type outcome struct {
	at        time.Time
	converted bool
}

// Build reads the lake and returns the training set. A lead is a lead_id
// (else an inference_id); when it was scored more than once the first
// scoring wins: its features are what the model saw when the lead arrived,
// and the label window counts from then.
func Build(ctx context.Context, q Query) (*Set, error) {
	if q.LabelWindow <= 0 {
		return nil, errors.New("the label window must be positive")
	}
	src := source{dir: q.Dir, store: q.Store}
	defer src.close()
	// Outcomes: every groundtruth partition from From to Now.
	gtFiles, err := src.files(ctx, lake.GroundTruth, q.From, q.Now.Add(time.Hour))
	if err != nil {
		return nil, err
	}
	byInference, byLead := map[string][]outcome{}, map[string][]outcome{}
	for _, f := range gtFiles {
		err := src.read(ctx, f, func(p string) error {
			rows, err := readOutcomes(p)
			for _, r := range rows {
				o := outcome{at: r.EventTime, converted: r.Converted}
				if r.InferenceID != "" {
					byInference[r.InferenceID] = append(byInference[r.InferenceID], o)
				}
				if r.LeadID != "" {
					byLead[r.LeadID] = append(byLead[r.LeadID], o)
				}
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	files, err := src.files(ctx, lake.Predictions, q.From, q.Now)
	if err != nil {
		return nil, err
	}
	s := &Set{Files: len(files), OutcomeFiles: len(gtFiles)}
	first := map[string]int{} // lead key -> index in rows
	var rows []Row
	featureIndex := map[string]int{}
	for _, f := range files {
		err := src.read(ctx, f, func(p string) error {
			return readPredictions(p, func(r Row, names []string) {
				if r.EventTime.Before(q.From) || !r.EventTime.Before(q.Now) || (q.Model != "" && r.ModelName != q.Model) {
					return
				}
				s.Scored++
				key := "lead:" + r.LeadID
				if r.LeadID == "" {
					key = "inference:" + r.InferenceID
				}
				vals := make([]float64, 0, len(names))
				for j, n := range names {
					k, ok := featureIndex[n]
					if !ok {
						k = len(s.Features)
						featureIndex[n] = k
						s.Features = append(s.Features, n)
					}
					for len(vals) <= k {
						vals = append(vals, math.NaN())
					}
					vals[k] = r.Features[j]
				}
				r.Features = vals
				if i, seen := first[key]; seen {
					s.Rescored++
					if !r.EventTime.Before(rows[i].EventTime) {
						return
					}
					rows[i] = r
					return
				}
				first[key] = len(rows)
				rows = append(rows, r)
			})
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	for _, r := range rows {
		end := r.EventTime.Add(q.LabelWindow)
		var found []outcome
		found = append(found, byInference[r.InferenceID]...)
		if r.LeadID != "" {
			found = append(found, byLead[r.LeadID]...)
		}
		converted, decided, late := false, false, false
		for _, o := range found {
			if o.at.After(end) {
				late = true
				continue
			}
			decided = true
			converted = converted || o.converted
		}
		switch {
		case decided:
		case q.Now.Before(end):
			s.Pending++
			continue
		default:
			s.NoOutcome++
			if late {
				s.Late++
			}
			if q.DropNoOutcome {
				continue
			}
		}
		r.Converted = converted
		for len(r.Features) < len(s.Features) {
			r.Features = append(r.Features, math.NaN())
		}
		s.Rows = append(s.Rows, r)
	}
	slices.SortStableFunc(s.Rows, func(a, b Row) int { return a.EventTime.Compare(b.EventTime) })
	return s, nil
}

// MetaColumns are the columns a written set has besides the features, in
// order after them.
var MetaColumns = []string{lake.ColConverted, lake.ColLeadID, lake.ColInferenceID, lake.ColEventTime,
	lake.ColModelName, lake.ColModelVersion, lake.ColProbability}

// WriteCSV writes the set with a header: the features, then MetaColumns
// (converted is 1 or 0); a missing value is an empty field.
func (s *Set) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append(slices.Clone(s.Features), MetaColumns...)); err != nil {
		return err
	}
	rec := make([]string, len(s.Features)+len(MetaColumns))
	for _, r := range s.Rows {
		for j, v := range r.Features {
			rec[j] = ""
			if !math.IsNaN(v) {
				rec[j] = strconv.FormatFloat(v, 'g', -1, 32)
			}
		}
		conv := "0"
		if r.Converted {
			conv = "1"
		}
		copy(rec[len(s.Features):], []string{conv, r.LeadID, r.InferenceID, r.EventTime.UTC().Format(time.RFC3339Nano),
			r.ModelName, r.ModelVersion, strconv.FormatFloat(r.Probability, 'g', -1, 64)})
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteParquet writes the set as Parquet: one optional DOUBLE column per
// feature, then MetaColumns.
func (s *Set) WriteParquet(w io.Writer) error {
	g := parquet.Group{}
	for _, f := range s.Features {
		g[f] = parquet.Optional(parquet.Leaf(parquet.DoubleType))
	}
	g[lake.ColConverted] = parquet.Leaf(parquet.Int32Type)
	g[lake.ColLeadID] = parquet.Optional(parquet.String())
	g[lake.ColInferenceID] = parquet.String()
	g[lake.ColEventTime] = parquet.Timestamp(parquet.Microsecond)
	g[lake.ColModelName] = parquet.String()
	g[lake.ColModelVersion] = parquet.String()
	g[lake.ColProbability] = parquet.Leaf(parquet.DoubleType)
	schema := parquet.NewSchema("dataset", g)
	pw := parquet.NewWriter(w, schema)
	for _, r := range s.Rows {
		m := map[string]any{}
		for j, f := range s.Features {
			if !math.IsNaN(r.Features[j]) {
				m[f] = r.Features[j]
			}
		}
		conv := int32(0)
		if r.Converted {
			conv = 1
		}
		m[lake.ColConverted] = conv
		if r.LeadID != "" {
			m[lake.ColLeadID] = r.LeadID
		}
		m[lake.ColInferenceID] = r.InferenceID
		m[lake.ColEventTime] = r.EventTime
		m[lake.ColModelName] = r.ModelName
		m[lake.ColModelVersion] = r.ModelVersion
		m[lake.ColProbability] = r.Probability
		if err := pw.Write(m); err != nil {
			return err
		}
	}
	return pw.Close()
}

func readOutcomes(p string) ([]lake.OutcomeRow, error) {
	f, err := os.Open(p) // #nosec G304 -- a file of the lake
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	rd := parquet.NewGenericReader[lake.OutcomeRow](io.NewSectionReader(f, 0, st.Size()))
	defer func() { _ = rd.Close() }()
	out := make([]lake.OutcomeRow, 0, rd.NumRows())
	buf := make([]lake.OutcomeRow, 256)
	for {
		n, err := rd.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// readPredictions calls fn for each live row of a prediction file, with
// the file's feature names (its columns that are not fixed lake columns).
func readPredictions(p string, fn func(Row, []string)) error {
	f, err := os.Open(p) // #nosec G304 -- a file of the lake
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return err
	}
	col := map[string]int{}
	var names []string
	var featureCols []int
	for i, path := range pf.Schema().Columns() {
		if len(path) != 1 {
			continue
		}
		if lake.Reserved(path[0]) {
			col[path[0]] = i
			continue
		}
		names = append(names, path[0])
		featureCols = append(featureCols, i)
	}
	for _, need := range []string{lake.ColEventTime, lake.ColInferenceID, lake.ColProbability} {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("not a prediction file: no %s column", need)
		}
	}
	get := func(name string) int {
		if i, ok := col[name]; ok {
			return i
		}
		return -1
	}
	cTime, cInf, cLead, cName, cVer, cProb, cRole := get(lake.ColEventTime), get(lake.ColInferenceID), get(lake.ColLeadID),
		get(lake.ColModelName), get(lake.ColModelVersion), get(lake.ColProbability), get(lake.ColRole)
	rd := parquet.NewReader(pf)
	defer func() { _ = rd.Close() }()
	batch := make([]parquet.Row, 256)
	vals := make([]parquet.Value, len(pf.Schema().Columns()))
	for {
		n, err := rd.ReadRows(batch)
		for _, row := range batch[:n] {
			for i := range vals {
				vals[i] = parquet.Value{}
			}
			for _, v := range row {
				if c := v.Column(); c >= 0 && c < len(vals) {
					vals[c] = v
				}
			}
			str := func(c int) string {
				if c < 0 || vals[c].IsNull() {
					return ""
				}
				return string(vals[c].ByteArray())
			}
			if str(cRole) == lake.RoleShadow {
				continue
			}
			r := Row{EventTime: time.UnixMicro(vals[cTime].Int64()).UTC(), InferenceID: str(cInf), LeadID: str(cLead),
				ModelName: str(cName), ModelVersion: str(cVer), Probability: vals[cProb].Double(),
				Features: make([]float64, len(featureCols))}
			for j, c := range featureCols {
				r.Features[j] = math.NaN()
				if v := vals[c]; !v.IsNull() {
					r.Features[j] = float64(v.Float())
				}
			}
			fn(r, names)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// source lists and reads a local or stored lake's files.
type source struct {
	dir   string
	store lake.Store
	tmp   string
}

func (s *source) files(ctx context.Context, t lake.Table, from, to time.Time) ([]string, error) {
	if s.store == nil {
		return lake.LocalFiles(s.dir, t, from, to)
	}
	return lake.StoreFiles(ctx, s.store, t, from, to)
}

// read calls fn with a local path of file: the file itself, or a
// temporary copy of a stored one.
func (s *source) read(ctx context.Context, file string, fn func(string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.store == nil {
		return fn(file)
	}
	if s.tmp == "" {
		tmp, err := os.MkdirTemp("", "leadscore-dataset-")
		if err != nil {
			return err
		}
		s.tmp = tmp
	}
	local := filepath.Join(s.tmp, "f"+path.Ext(file))
	f, err := os.Create(local) // #nosec G304 -- our temporary directory
	if err != nil {
		return err
	}
	err = s.store.Fetch(ctx, file, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(local) }()
	return fn(local)
}

func (s *source) close() {
	if s.tmp != "" {
		_ = os.RemoveAll(s.tmp)
	}
}
