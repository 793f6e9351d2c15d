package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/leadscore/leadscore/bundle"
)

// maxBundleFiles bounds the files of one bundle (manifest, model and the
// baseline folder).
const maxBundleFiles = 1000

// source is a bundle on local disk, read for pushing or packaging.
type source struct {
	manifest bundle.Manifest
	files    []sourceFile // sorted by rel; manifest.json included
}

// sourceFile is one file of a source bundle.
type sourceFile struct {
	rel  string // slash path inside the bundle
	path string // file on disk, or "" when data holds the content
	data []byte
	size int64
	hash string // hex SHA-256
}

// open returns the file's content for reading from the start.
func (f *sourceFile) open() (io.ReadSeekCloser, error) {
	if f.path == "" {
		return nopCloser{bytes.NewReader(f.data)}, nil
	}
	return os.Open(f.path)
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// readSource reads the bundle at src (a bundle directory, or a bare model
// file that gets a generated manifest) after checking that it loads. A
// non-empty name or version replaces the manifest's, and the manifest is
// rewritten when anything in it changed.
func readSource(src, name, version string) (*source, error) {
	s, err := readSourceFiles(src, name, version)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadBundle, err)
	}
	return s, nil
}

// readSourceFiles is readSource without the error marking.
func readSourceFiles(src, name, version string) (*source, error) {
	if _, err := bundle.Load(src); err != nil {
		return nil, err
	}
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	var m *bundle.Manifest
	var raw []byte
	dir := src
	if st.IsDir() {
		if raw, err = os.ReadFile(filepath.Join(src, bundle.ManifestFile)); err != nil { // #nosec G304 -- the user names the bundle
			return nil, err
		}
		if m, err = bundle.ParseManifest(raw); err != nil {
			return nil, err
		}
	} else {
		dir = filepath.Dir(src)
		base := filepath.Base(src)
		m = &bundle.Manifest{Model: base}
		raw = nil // generated below
	}
	orig := *m
	if m.Name == "" {
		m.Name = strings.TrimSuffix(path.Base(m.Model), path.Ext(m.Model))
	}
	if name != "" {
		m.Name = name
	}
	if version != "" {
		m.Version = version
	}
	if raw == nil || m.Name != orig.Name || m.Version != orig.Version {
		if raw, err = renderManifest(m); err != nil {
			return nil, err
		}
	}
	s := &source{manifest: *m}
	s.files = append(s.files, sourceFile{rel: bundle.ManifestFile, data: raw, size: int64(len(raw))})
	s.files = append(s.files, sourceFile{rel: m.Model, path: filepath.Join(dir, filepath.FromSlash(m.Model))})
	if m.Baseline != "" {
		if err := s.addTree(dir, m.Baseline); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
	}
	sort.Slice(s.files, func(i, j int) bool { return s.files[i].rel < s.files[j].rel })
	for i := range s.files {
		f := &s.files[i]
		if i > 0 && s.files[i-1].rel == f.rel {
			return nil, fmt.Errorf("%s is listed twice", f.rel)
		}
		if err := f.hashFile(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// renderManifest writes a manifest as the registry stores it.
func renderManifest(m *bundle.Manifest) ([]byte, error) {
	if m.Tiers == (bundle.Manifest{}).Tiers {
		m.Tiers = bundle.DefaultTiers
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return append(raw, '\n'), nil
}

// setVersion rewrites the source's manifest with another version.
func (s *source) setVersion(version string) error {
	s.manifest.Version = version
	raw, err := renderManifest(&s.manifest)
	if err != nil {
		return err
	}
	for i := range s.files {
		if f := &s.files[i]; f.rel == bundle.ManifestFile {
			f.data, f.size = raw, int64(len(raw))
			return f.hashFile()
		}
	}
	return fmt.Errorf("%s missing", bundle.ManifestFile)
}

// bundleFile reports whether the entry at p of a walk from root is a file
// of a bundle: a regular file, not hidden. For a hidden folder err is
// filepath.SkipDir.
func bundleFile(p, root string, e fs.DirEntry) (ok bool, err error) {
	if strings.HasPrefix(e.Name(), ".") && p != root {
		if e.IsDir() {
			return false, filepath.SkipDir
		}
		return false, nil
	}
	return e.Type().IsRegular(), nil
}

// addTree adds the regular files under dir/rel (or the file dir/rel),
// skipping dotfiles.
func (s *source) addTree(dir, rel string) error {
	root := filepath.Join(dir, filepath.FromSlash(rel))
	// #nosec G703 -- the user names the bundle to push; its files are read, not written
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ok, err := bundleFile(p, root, e); !ok {
			return err
		}
		r, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if len(s.files) >= maxBundleFiles {
			return fmt.Errorf("more than %d files", maxBundleFiles)
		}
		s.files = append(s.files, sourceFile{rel: filepath.ToSlash(r), path: p})
		return nil
	})
}

// hashFile fills size and hash.
func (f *sourceFile) hashFile() error {
	r, err := f.open()
	if err != nil {
		return err
	}
	defer func() { _ = r.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Errorf("read %s: %w", f.rel, err)
	}
	f.size, f.hash = n, hex.EncodeToString(h.Sum(nil))
	return nil
}

// digest is the SHA-256 of the bundle's file list in sha256sum's format
// ("<hex>  <path>\n", sorted by path): the same content gives the same
// digest wherever it is stored.
func digest(hashes map[string]string) string {
	names := make([]string, 0, len(hashes))
	for n := range hashes {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		_, _ = fmt.Fprintf(h, "%s  %s\n", hashes[n], n)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// digest of the source bundle.
func (s *source) digest() string {
	m := make(map[string]string, len(s.files))
	for _, f := range s.files {
		m[f.rel] = f.hash
	}
	return digest(m)
}
