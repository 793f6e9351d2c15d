package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/leadscore/leadscore/bundle"
)

// untar reads a model.tar.gz into name -> content, checking every entry
// sits at or under the archive root with fixed owners and times.
func untar(t *testing.T, data []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	out := map[string]string{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.ModTime.Unix() != 0 {
			t.Errorf("%s: uid %d gid %d mtime %v", hdr.Name, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
		if hdr.Typeflag == tar.TypeDir {
			out[hdr.Name] = "<dir>"
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[hdr.Name] = string(b)
	}
	return out
}

func TestPackage(t *testing.T) {
	src := makeBundle(t, "lead", "4", `{"stats":true}`)
	var a, b bytes.Buffer
	if err := Package(&a, src); err != nil {
		t.Fatal(err)
	}
	if err := Package(&b, src); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two packages of the same bundle differ")
	}
	files := untar(t, a.Bytes())
	var names []string
	for n := range files {
		names = append(names, n)
	}
	want := []string{"baseline/", "baseline/statistics.json", "manifest.json", "model.json"}
	slices.Sort(names)
	if !reflect.DeepEqual(names, want) {
		t.Errorf("entries %q, want %q", names, want)
	}
	model, err := os.ReadFile(modelFixture)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(src, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if files["model.json"] != string(model) || files["manifest.json"] != string(manifest) || files["baseline/statistics.json"] != `{"stats":true}` {
		t.Error("archive content differs from the bundle")
	}

	// A bare model file gets a manifest, and the unpacked archive is a
	// bundle, as SageMaker's /opt/ml/model will be.
	var c bytes.Buffer
	if err := Package(&c, modelFixture); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range untar(t, c.Bytes()) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bd, err := bundle.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if bd.Info().Name != "model" {
		t.Errorf("bare model packaged as %q", bd.Info().Name)
	}

	if err := Package(io.Discard, filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrBadBundle) {
		t.Errorf("package of a missing bundle: %v", err)
	}
}
