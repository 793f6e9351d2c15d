package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
)

// GroundTruthDir is the lake folder of outcomes (capture.GroundTruthDir):
// GroundTruthDir/dt=YYYY-MM-DD/hour=HH/*.parquet with the columns
// event_time, inference_id, lead_id and converted (boolean or integer).
const GroundTruthDir = "groundtruth"

// LakeStore is a lake kept outside the local file system, such as an S3
// bucket and prefix (capture/s3's Client implements it).
type LakeStore interface {
	// List returns the keys of the objects whose lake-relative key (with
	// forward slashes, like dt=2025-06-01/hour=12/part-x.parquet) starts
	// with prefix, relative to the lake.
	List(ctx context.Context, prefix string) ([]string, error)
	// Fetch copies the object at a lake-relative key into w.
	Fetch(ctx context.Context, key string, w io.Writer) error
}

// lakeSource lists and reads the files of a local or stored lake.
type lakeSource struct {
	dir   string
	store LakeStore
	tmp   string // temporary directory for fetched files
}

func newLakeSource(q LakeQuery) (*lakeSource, error) {
	s := &lakeSource{dir: q.Dir, store: q.Store}
	if s.store != nil {
		tmp, err := os.MkdirTemp("", "leadscore-lake-")
		if err != nil {
			return nil, fmt.Errorf("lake: %w", err)
		}
		s.tmp = tmp
	}
	return s, nil
}

func (s *lakeSource) close() {
	if s.tmp != "" {
		_ = os.RemoveAll(s.tmp)
	}
}

// files lists the Parquet files under sub ("" or GroundTruthDir) of the
// hour partitions overlapping [from, to), in time order: paths for a local
// lake, lake-relative keys for a store.
func (s *lakeSource) files(ctx context.Context, sub string, from, to time.Time) ([]string, error) {
	if s.store == nil {
		dir := filepath.Join(s.dir, sub)
		if sub != "" {
			if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				return nil, nil
			}
		}
		return lakeFiles(dir, from, to)
	}
	var prefixes []string
	if sub != "" {
		prefixes = []string{sub + "/"}
	} else {
		for day := from.Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
			prefixes = append(prefixes, "dt="+day.Format("2006-01-02")+"/")
		}
	}
	var files []string
	for _, p := range prefixes {
		keys, err := s.store.List(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("lake %s: %w", s.dir, err)
		}
		for _, k := range keys {
			rel := strings.TrimPrefix(k, sub+"/")
			if sub == "" {
				rel = k
			}
			if start, ok := partitionStart(rel); ok && start.Add(time.Hour).After(from) && start.Before(to) {
				files = append(files, k)
			}
		}
	}
	slices.Sort(files)
	return files, nil
}

// partitionStart is the start of the hour partition of a key
// dt=YYYY-MM-DD/hour=HH/NAME.parquet; false for other keys.
func partitionStart(key string) (time.Time, bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	name := parts[2]
	if !strings.HasSuffix(name, ".parquet") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return time.Time{}, false
	}
	d, ok1 := strings.CutPrefix(parts[0], "dt=")
	h, ok2 := strings.CutPrefix(parts[1], "hour=")
	if !ok1 || !ok2 {
		return time.Time{}, false
	}
	day, err := time.Parse("2006-01-02", d)
	hh, herr := strconv.Atoi(h)
	if err != nil || herr != nil || hh < 0 || hh > 23 {
		return time.Time{}, false
	}
	return day.Add(time.Duration(hh) * time.Hour), true
}

// read calls fn with a local path of file: the file itself for a local
// lake, else a temporary copy removed once fn returns.
func (s *lakeSource) read(ctx context.Context, file string, fn func(path string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.store == nil {
		return fn(file)
	}
	f, err := os.CreateTemp(s.tmp, "*"+path.Ext(file))
	if err != nil {
		return err
	}
	name := f.Name()
	defer func() { _ = os.Remove(name) }()
	err = s.store.Fetch(ctx, file, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return fn(name)
}

// outcomeIndex holds the outcomes of the lake's groundtruth files by
// inference id and by lead id; a later outcome of an id replaces an
// earlier one.
type outcomeIndex struct {
	byInference, byLead map[string]bool
}

func newOutcomeIndex() *outcomeIndex {
	return &outcomeIndex{byInference: map[string]bool{}, byLead: map[string]bool{}}
}

// lookup returns the outcome of a prediction, by inference id first.
func (x *outcomeIndex) lookup(inference, lead []byte) (converted, ok bool) {
	if len(inference) > 0 {
		if c, ok := x.byInference[string(inference)]; ok {
			return c, true
		}
	}
	if len(lead) > 0 {
		if c, ok := x.byLead[string(lead)]; ok {
			return c, true
		}
	}
	return false, false
}

// readFile adds the outcomes of one groundtruth file.
func (x *outcomeIndex) readFile(name string) error {
	pf, f, err := openParquet(name)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	inf, lead, conv := -1, -1, -1
	for c, p := range pf.Schema().Columns() {
		if len(p) != 1 {
			continue
		}
		switch p[0] {
		case "inference_id":
			inf = c
		case "lead_id":
			lead = c
		case "converted":
			conv = c
		}
	}
	if conv < 0 || (inf < 0 && lead < 0) {
		return errors.New("not a groundtruth file: want a converted column and inference_id or lead_id")
	}
	rd := parquet.NewReader(pf)
	defer func() { _ = rd.Close() }()
	batch := make([]parquet.Row, 256)
	for {
		n, err := rd.ReadRows(batch)
		for _, row := range batch[:n] {
			var i, l string
			converted, has := false, false
			for _, v := range row {
				if v.IsNull() {
					continue
				}
				switch v.Column() {
				case inf:
					i = string(v.ByteArray())
				case lead:
					l = string(v.ByteArray())
				case conv:
					if c, ok := numeric(v); ok {
						converted, has = c != 0, true
					}
				}
			}
			if !has {
				continue
			}
			if i != "" {
				x.byInference[i] = converted
			}
			if l != "" {
				x.byLead[l] = converted
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
