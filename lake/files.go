package lake

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
	"time"
)

// Store is a lake kept outside the local file system, such as an S3 bucket
// and prefix (lake/s3's Client implements it).
type Store interface {
	// List returns the lake-relative keys (forward slashes, like
	// dt=2025-06-01/hour=12/part-x.parquet) of the objects whose key
	// starts with prefix.
	List(ctx context.Context, prefix string) ([]string, error)
	// Fetch copies the object at a lake-relative key into w.
	Fetch(ctx context.Context, key string, w io.Writer) error
}

// maxDayPrefixes bounds the per-day listings of StoreFiles; a longer range
// lists the table's whole folder once.
const maxDayPrefixes = 31

// overlaps reports whether the hour starting at start overlaps [from, to).
func overlaps(start, from, to time.Time) bool {
	return start.Add(time.Hour).After(from) && start.Before(to)
}

// LocalFiles lists the data files of table t in the local lake dir whose
// hour partitions overlap [from, to), as paths, in time order. A missing
// ground-truth folder holds no files; a missing lake dir is an error.
func LocalFiles(dir string, t Table, from, to time.Time) ([]string, error) {
	root := dir
	if d := t.Dir(); d != "" {
		root = filepath.Join(dir, filepath.FromSlash(d))
		if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	days, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	var files []string
	for _, d := range days {
		day, ok := ParseDayDir(d.Name())
		if !d.IsDir() || !ok || !day.Add(24*time.Hour).After(from) || !day.Before(to) {
			continue
		}
		hours, err := os.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			return nil, fmt.Errorf("lake: %w", err)
		}
		for _, h := range hours {
			hh, ok := ParseHourDir(h.Name())
			if !h.IsDir() || !ok || !overlaps(day.Add(time.Duration(hh)*time.Hour), from, to) {
				continue
			}
			hdir := filepath.Join(root, d.Name(), h.Name())
			entries, err := os.ReadDir(hdir)
			if err != nil {
				return nil, fmt.Errorf("lake: %w", err)
			}
			for _, e := range entries {
				if e.Type().IsRegular() && IsDataFile(e.Name()) {
					files = append(files, filepath.Join(hdir, e.Name()))
				}
			}
		}
	}
	// Partition names sort in time order: dt=YYYY-MM-DD/hour=HH.
	slices.Sort(files)
	return files, nil
}

// StoreFiles lists the data files of table t in store whose hour
// partitions overlap [from, to), as lake-relative keys, in time order.
func StoreFiles(ctx context.Context, store Store, t Table, from, to time.Time) ([]string, error) {
	from, to = from.UTC(), to.UTC()
	var prefixes []string
	first := from.Truncate(24 * time.Hour)
	if to.Sub(first) <= maxDayPrefixes*24*time.Hour {
		for day := first; day.Before(to); day = day.Add(24 * time.Hour) {
			prefixes = append(prefixes, path.Dir(t.Partition(day))+"/")
		}
	} else if d := t.Dir(); d != "" {
		prefixes = []string{d + "/"}
	} else {
		prefixes = []string{PartitionDay + "="}
	}
	var files []string
	for _, p := range prefixes {
		keys, err := store.List(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if start, ok := t.PartitionStart(k); ok && overlaps(start, from, to) {
				files = append(files, k)
			}
		}
	}
	slices.Sort(files)
	return files, nil
}
