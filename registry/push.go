package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/leadscore/leadscore/bundle"
)

// PushOptions are the optional settings of Push.
type PushOptions struct {
	// Name replaces the manifest's model name.
	Name string
	// Version replaces the manifest's version. With neither, the version
	// is "sha-" and the first 12 hex digits of the content digest, so
	// pushing the same files twice is a no-op.
	Version string
	// By is who pushes, for the audit log.
	By string
	// Note goes to the audit log.
	Note string
}

// Push stores the bundle at src (a bundle directory or a bare model file)
// as a new version. The bundle must load. Its files are uploaded first and
// manifest.json last, so a version is visible only once complete. Pushing
// a version that exists succeeds, changing nothing (created is false), if
// the content is identical, and fails with ErrVersionExists otherwise.
//
// Before any file is written, the push claims the version: it creates
// <name>/<version>/push-claim.json holding its content digest, only if
// absent. A concurrent push of other content finds the claim and fails with
// ErrVersionExists without writing anything, so a version never holds one
// push's model beside another's manifest; pushes of identical content share
// the claim (they write the same bytes), and a push of that content can
// finish what a crashed one began.
func (r *Registry) Push(ctx context.Context, src string, opts PushOptions) (ev Event, created bool, err error) {
	s, err := readSource(src, opts.Name, opts.Version)
	if err != nil {
		return Event{}, false, fmt.Errorf("push %s: %w", src, err)
	}
	if s.manifest.Version == "" {
		if err := s.setVersion("sha-" + contentDigest(s)[:12]); err != nil {
			return Event{}, false, fmt.Errorf("push %s: %w", src, err)
		}
	}
	name, version := s.manifest.Name, s.manifest.Version
	if err := CheckName("model name", name); err != nil {
		return Event{}, false, fmt.Errorf("push %s: %w", src, err)
	}
	if err := CheckName("version", version); err != nil {
		return Event{}, false, fmt.Errorf("push %s: %w", src, err)
	}
	for _, f := range s.files {
		if f.rel == ClaimFile || strings.HasPrefix(f.rel, ClaimFile+"/") {
			return Event{}, false, fmt.Errorf("push %s: %s is a name the registry keeps for itself", src, ClaimFile)
		}
	}
	ev = Event{Action: ActionPush, Name: name, Version: version, By: opts.By, Digest: s.digest(), Note: opts.Note}
	same, err := r.sameAsStored(ctx, s)
	switch {
	case err != nil:
		return ev, false, err
	case same:
		return ev, false, nil
	}
	if err := r.claim(ctx, s); err != nil {
		return ev, false, err
	}
	for _, f := range s.files {
		if f.rel == bundle.ManifestFile {
			continue
		}
		if err := r.putFile(ctx, versionKey(name, version, f.rel), &f, Cond{}); err != nil {
			return ev, false, fmt.Errorf("push %s %s: %w", name, version, err)
		}
	}
	for i := range s.files {
		if s.files[i].rel != bundle.ManifestFile {
			continue
		}
		err := r.putFile(ctx, versionKey(name, version, bundle.ManifestFile), &s.files[i], Cond{IfAbsent: true})
		if errors.Is(err, ErrConflict) {
			// Pushed concurrently: fine if it is the same content.
			if same, cerr := r.sameAsStored(ctx, s); cerr == nil && same {
				return ev, false, nil
			}
			return ev, false, fmt.Errorf("push %s %s: %w", name, version, ErrVersionExists)
		}
		if err != nil {
			return ev, false, fmt.Errorf("push %s %s: %w", name, version, err)
		}
	}
	ev.Time = r.now().UTC()
	if err := r.appendAudit(ctx, ev); err != nil {
		return ev, true, fmt.Errorf("pushed %s %s, but: %w", name, version, err)
	}
	return ev, true, nil
}

// ClaimFile is the object, in a version's folder, by which a push claims
// the version before writing its files: {"digest": ...} of the content.
// It is not part of the version (Fetch and the digests leave it out).
const ClaimFile = "push-claim.json"

// pushClaim is the content of ClaimFile.
type pushClaim struct {
	Digest string    `json:"digest"`
	Time   time.Time `json:"time"`
}

// claim makes s's push the only one that may write its version's files:
// it creates the claim object if absent, and otherwise accepts a claim of
// the same content (a concurrent or crashed push of the same bundle). A
// claim of other content means another push got there first:
// ErrVersionExists, whether or not that push has finished.
func (r *Registry) claim(ctx context.Context, s *source) error {
	name, version := s.manifest.Name, s.manifest.Version
	key := versionKey(name, version, ClaimFile)
	raw, err := json.Marshal(pushClaim{Digest: s.digest(), Time: r.now().UTC()})
	if err != nil {
		return err
	}
	err = r.store.Put(ctx, key, bytes.NewReader(raw), int64(len(raw)), Cond{IfAbsent: true})
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrConflict) {
		return fmt.Errorf("push %s %s: claim the version: %w", name, version, err)
	}
	held, _, err := r.readSmall(ctx, key)
	if err != nil {
		return fmt.Errorf("push %s %s: read the version's claim: %w", name, version, err)
	}
	var c pushClaim
	if err := json.Unmarshal(held, &c); err != nil {
		return fmt.Errorf("push %s %s: the version's claim %s is unreadable: %w", name, version, key, err)
	}
	if c.Digest == s.digest() {
		return nil
	}
	return fmt.Errorf("push %s %s to %s: %w: another push of other content (%s, %s) claimed it; versions are immutable: push a new version",
		name, version, r.store, ErrVersionExists, c.Digest, c.Time.Format(time.RFC3339))
}

// contentDigest is the digest of a source without its manifest, so that it
// does not depend on the version written into the manifest.
func contentDigest(s *source) string {
	m := make(map[string]string, len(s.files))
	for _, f := range s.files {
		if f.rel != bundle.ManifestFile {
			m[f.rel] = f.hash
		}
	}
	return strings.TrimPrefix(digest(m), "sha256:")
}

// putFile uploads one source file.
func (r *Registry) putFile(ctx context.Context, key string, f *sourceFile, cond Cond) error {
	rd, err := f.open()
	if err != nil {
		return err
	}
	defer func() { _ = rd.Close() }()
	return r.store.Put(ctx, key, rd, f.size, cond)
}

// sameAsStored reports whether s's version is stored with identical
// content; it is an ErrVersionExists error when stored with other content.
func (r *Registry) sameAsStored(ctx context.Context, s *source) (bool, error) {
	name, version := s.manifest.Name, s.manifest.Version
	ok, err := r.HasVersion(ctx, name, version)
	if err != nil || !ok {
		return false, err
	}
	stored, err := r.versionHashes(ctx, name, version)
	if err != nil {
		return false, err
	}
	if digest(stored) != s.digest() {
		return false, fmt.Errorf("push %s %s to %s: %w (versions are immutable: push a new version)", name, version, r.store, ErrVersionExists)
	}
	return true, nil
}

// versionFiles lists the files of a stored version: its manifest, the
// model file and the baseline folder the manifest names. Files a failed
// earlier push may have left beside them are not part of the version.
func (r *Registry) versionFiles(ctx context.Context, name, version string) ([]string, *bundle.Manifest, error) {
	raw, _, err := r.readSmall(ctx, versionKey(name, version, bundle.ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s %s: version %w", name, version, ErrNotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := bundle.ParseManifest(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", name, version, err)
	}
	files := []string{bundle.ManifestFile, m.Model}
	if m.Baseline != "" {
		prefix := versionKey(name, version, m.Baseline)
		keys, err := r.store.List(ctx, prefix)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range keys {
			rel := strings.TrimPrefix(k, versionKey(name, version, ""))
			if k == prefix || strings.HasPrefix(k, prefix+"/") {
				files = append(files, rel)
			}
		}
	}
	for _, rel := range files {
		// A key written behind the registry's back must not lead a fetch
		// out of its folder.
		if err := checkKey(rel); err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", name, version, err)
		}
	}
	if len(files) > maxBundleFiles {
		return nil, nil, fmt.Errorf("%s %s: more than %d files", name, version, maxBundleFiles)
	}
	return files, m, nil
}

// versionHashes reads a stored version and hashes each of its files.
func (r *Registry) versionHashes(ctx context.Context, name, version string) (map[string]string, error) {
	files, _, err := r.versionFiles(ctx, name, version)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(files))
	for _, rel := range files {
		rc, _, err := r.store.Get(ctx, versionKey(name, version, rel))
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		_ = rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s %s %s: %w", name, version, rel, err)
		}
		out[rel] = hex.EncodeToString(h.Sum(nil))
	}
	return out, nil
}
