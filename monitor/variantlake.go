package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore/lake"
)

// ScoredRow is one prediction row of the lake as the comparison of
// variants reads it, with its outcome when ground truth names it.
type ScoredRow struct {
	Time        time.Time
	InferenceID string
	LeadID      string
	// Variant is empty for rows of a single model; Shadow is true for a
	// shadow score (role = shadow).
	Variant     string
	Shadow      bool
	Model       string
	Version     string
	Probability float64
	Tier        int
	LatencyMS   float64
	// Outcome is 1 converted, 0 not, -1 unknown.
	Outcome int8
}

// ScoresRead lists what ReadScores read.
type ScoresRead struct {
	Rows             int64
	Files            []string
	GroundTruthFiles []string
}

// ReadScores calls fn with every prediction row of the lake in
// [q.From, q.To) (and of q.Model when set), joined to its outcome by
// inference id, else lead id. Memory grows with the outcomes only; fn
// keeps what it needs.
func ReadScores(ctx context.Context, q LakeQuery, fn func(*ScoredRow)) (*ScoresRead, error) {
	if q.Store == nil && strings.Contains(q.Dir, "://") {
		return nil, fmt.Errorf("lake %s: a remote lake needs a lake.Store", q.Dir)
	}
	if !q.From.Before(q.To) {
		return nil, fmt.Errorf("lake: empty time range [%v, %v)", q.From, q.To)
	}
	src, err := newLakeSource(q)
	if err != nil {
		return nil, err
	}
	defer src.close()
	out := &ScoresRead{}
	if out.GroundTruthFiles, err = src.files(ctx, lake.GroundTruth, q.From.UTC().Add(-24*time.Hour), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		return nil, err
	}
	truth := newOutcomeIndex()
	for _, f := range out.GroundTruthFiles {
		if err := src.read(ctx, f, truth.readFile); err != nil {
			return nil, fmt.Errorf("groundtruth file %s: %w", f, err)
		}
	}
	if out.Files, err = src.files(ctx, lake.Predictions, q.From.UTC(), q.To.UTC()); err != nil {
		return nil, err
	}
	for _, f := range out.Files {
		if err := src.read(ctx, f, func(path string) error { return readScoresFile(path, q, truth, out, fn) }); err != nil {
			return nil, fmt.Errorf("lake file %s: %w", f, err)
		}
	}
	return out, nil
}

// readScoresFile reads one prediction file.
func readScoresFile(path string, q LakeQuery, truth *outcomeIndex, out *ScoresRead, fn func(*ScoredRow)) error {
	pf, f, err := openParquet(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	schema := pf.Schema()
	col := map[string]int{}
	var unit time.Duration
	for c, p := range schema.Columns() {
		if len(p) == 1 {
			col[p[0]] = c
		}
	}
	tc, ok := col[lake.ColEventTime]
	if !ok {
		return errors.New("no event_time column")
	}
	leaf, _ := schema.Lookup(lake.ColEventTime)
	if unit, err = timeUnit(leaf.Node.Type()); err != nil {
		return fmt.Errorf("event_time: %w", err)
	}
	idx := func(name string) int {
		if c, ok := col[name]; ok {
			return c
		}
		return -1
	}
	inf, lead, variant, role := idx(lake.ColInferenceID), idx(lake.ColLeadID), idx(lake.ColVariant), idx(lake.ColRole)
	model, version, prob, tier, lat := idx(lake.ColModelName), idx(lake.ColModelVersion), idx(lake.ColProbability), idx(lake.ColTier), idx(lake.ColLatencyMS)
	rd := parquet.NewReader(pf)
	defer func() { _ = rd.Close() }()
	batch := make([]parquet.Row, 256)
	var r ScoredRow
	for {
		n, err := rd.ReadRows(batch)
		for _, row := range batch[:n] {
			r = ScoredRow{Probability: math.NaN(), Outcome: -1}
			var infB, leadB []byte
			for _, v := range row {
				if v.IsNull() {
					continue
				}
				switch c := v.Column(); c {
				case tc:
					r.Time = time.Unix(0, v.Int64()*int64(unit)).UTC()
				case inf:
					infB = v.ByteArray()
				case lead:
					leadB = v.ByteArray()
				case variant:
					r.Variant = string(v.ByteArray())
				case role:
					r.Shadow = string(v.ByteArray()) == lake.RoleShadow
				case model:
					r.Model = string(v.ByteArray())
				case version:
					r.Version = string(v.ByteArray())
				case prob:
					r.Probability, _ = numeric(v)
				case tier:
					if x, ok := numeric(v); ok {
						r.Tier = int(x)
					}
				case lat:
					r.LatencyMS, _ = numeric(v)
				}
			}
			if r.Time.Before(q.From) || !r.Time.Before(q.To) || (q.Model != "" && r.Model != q.Model) {
				continue
			}
			r.InferenceID, r.LeadID = string(infB), string(leadB)
			if c, ok := truth.lookup(infB, leadB); ok {
				r.Outcome = 0
				if c {
					r.Outcome = 1
				}
			}
			out.Rows++
			fn(&r)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
