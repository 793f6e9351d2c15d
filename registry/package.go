package registry

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"time"
)

// Package writes the bundle at src (a bundle directory, or a bare model
// file that gets a generated manifest) to w as a SageMaker model.tar.gz:
// the bundle's files at the archive root, so that SageMaker unpacks
// manifest.json and the model into /opt/ml/model. The bundle must load.
// The archive is reproducible: entries sorted, fixed times and owners.
func Package(w io.Writer, src string) error {
	s, err := readSource(src, "", "")
	if err != nil {
		return fmt.Errorf("package %s: %w", src, err)
	}
	zw := gzip.NewWriter(w) // no name or time in the header
	tw := tar.NewWriter(zw)
	epoch := time.Unix(0, 0).UTC()
	dirs := map[string]bool{}
	for i := range s.files {
		f := &s.files[i]
		for _, d := range parents(f.rel) {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("package %s: %w", src, err)
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.rel, Mode: 0o644, Size: f.size, ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("package %s: %w", src, err)
		}
		if err := copyFile(tw, f); err != nil {
			return fmt.Errorf("package %s: %w", src, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("package %s: %w", src, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("package %s: %w", src, err)
	}
	return nil
}

// copyFile writes a source file's content (exactly its hashed size) to w.
func copyFile(w io.Writer, f *sourceFile) error {
	r, err := f.open()
	if err != nil {
		return err
	}
	defer func() { _ = r.Close() }()
	n, err := io.Copy(w, io.LimitReader(r, f.size))
	if err == nil && n != f.size {
		err = fmt.Errorf("%s changed while packaging", f.rel)
	}
	return err
}

// parents lists the folders of a slash path, outermost first: a/b/c gives
// a, a/b.
func parents(rel string) []string {
	var out []string
	for i := range len(rel) {
		if rel[i] == '/' {
			out = append(out, rel[:i])
		}
	}
	return out
}
