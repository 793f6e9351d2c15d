package capture

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const (
	journalDir = "_journal"
	lockName   = "lock"
)

var errLocked = errors.New("locked")

// ErrDirInUse reports that another Writer (another process, usually a
// second leadscore serve) holds the capture directory.
var ErrDirInUse = errors.New("in use by another writer")

// syncDir fsyncs a directory of root so that renames and removals in it
// are durable.
func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// listSegments returns the journal segment names in Dir/_journal, oldest
// first.
func listSegments(root *os.Root) ([]string, error) {
	entries, err := fs.ReadDir(root.FS(), journalDir)
	if err != nil {
		return nil, fmt.Errorf("list journal: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), segmentExt) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// segmentPath is the root-relative path of a generation's segment.
func segmentPath(id string) string { return filepath.Join(journalDir, id+segmentExt) }

const segmentExt = ".wal"

// outcomeSegmentPath is the root-relative path of an outcome segment.
func outcomeSegmentPath(id string) string { return filepath.Join(journalDir, id+outcomeSegExt) }
