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
	"strings"
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
//
// Predictions are read from both layouts: predictions/dt=... and, from
// lakes written before the sibling roots, dt=... at the lake root.
func LocalFiles(dir string, t Table, from, to time.Time) ([]string, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	roots := []string{filepath.Join(dir, filepath.FromSlash(t.Dir()))}
	if legacy, ok := t.LegacyDir(); ok {
		roots = append(roots, filepath.Join(dir, filepath.FromSlash(legacy)))
	}
	var files []string
	for _, root := range roots {
		days, err := os.ReadDir(root)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lake: %w", err)
		}
		if files, err = appendLocalFiles(files, root, days, from, to); err != nil {
			return nil, err
		}
	}
	// Partition names sort in time order: dt=YYYY-MM-DD/hour=HH.
	slices.SortFunc(files, func(a, b string) int { return strings.Compare(partitionKey(a), partitionKey(b)) })
	return files, nil
}

// partitionKey is the part of a data file's path from its dt= folder on.
func partitionKey(p string) string {
	p = filepath.ToSlash(p)
	if i := strings.LastIndex(p, "/"+PartitionDay+"="); i >= 0 {
		return p[i+1:]
	}
	return p
}

// appendLocalFiles appends the data files of the day folders days of root
// whose hours overlap [from, to).
func appendLocalFiles(files []string, root string, days []fs.DirEntry, from, to time.Time) ([]string, error) {
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
	return files, nil
}

// StoreFiles lists the data files of table t in store whose hour
// partitions overlap [from, to), as lake-relative keys, in time order.
func StoreFiles(ctx context.Context, store Store, t Table, from, to time.Time) ([]string, error) {
	from, to = from.UTC(), to.UTC()
	var prefixes []string
	first := from.Truncate(24 * time.Hour)
	_, legacy := t.LegacyDir()
	if to.Sub(first) <= maxDayPrefixes*24*time.Hour {
		for day := first; day.Before(to); day = day.Add(24 * time.Hour) {
			dayDir := path.Dir(t.Partition(day))
			prefixes = append(prefixes, dayDir+"/")
			if legacy {
				prefixes = append(prefixes, path.Base(dayDir)+"/")
			}
		}
	} else {
		prefixes = []string{t.Dir() + "/"}
		if legacy {
			prefixes = append(prefixes, PartitionDay+"=")
		}
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
	slices.SortFunc(files, func(a, b string) int { return strings.Compare(partitionKey(a), partitionKey(b)) })
	return files, nil
}
