package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore/lake"
)

// lakeSource lists and reads the files of a local or stored lake.
type lakeSource struct {
	dir   string
	store lake.Store
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

// files lists the data files of table t in the hour partitions
// overlapping [from, to), in time order: paths for a local lake,
// lake-relative keys for a store.
func (s *lakeSource) files(ctx context.Context, t lake.Table, from, to time.Time) ([]string, error) {
	if s.store == nil {
		return lake.LocalFiles(s.dir, t, from, to)
	}
	files, err := lake.StoreFiles(ctx, s.store, t, from, to)
	if err != nil {
		return nil, fmt.Errorf("lake %s: %w", s.dir, err)
	}
	return files, nil
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
		case lake.ColInferenceID:
			inf = c
		case lake.ColLeadID:
			lead = c
		case lake.ColConverted:
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
