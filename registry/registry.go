// Package registry stores model bundles by name and version and records
// which version serves each stage (staging, prod). A promotion is the
// approval: it is recorded with who made it and when, in the model's
// stages.json and in an append-only audit log.
//
// Layout under a registry root (a directory or s3://bucket/prefix):
//
//	<name>/<version>/manifest.json   the bundle manifest, written last
//	<name>/<version>/<model file>    as the manifest names it
//	<name>/<version>/<baseline>/...  the training baseline, if any
//	<name>/<version>/push-claim.json the claiming push's content digest, written first
//	<name>/stages.json               current version per stage + history
//	<name>/audit.log                 one JSON event per line
//
// Versions are immutable: pushing an existing version again succeeds only
// with identical content. A version exists once its manifest.json does.
package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/leadscore/leadscore/bundle"
)

// Stage names.
const (
	StageStaging = "staging"
	StageProd    = "prod"
)

// Object names inside a model's folder.
const (
	StagesFile = "stages.json"
	AuditFile  = "audit.log"
)

// Actions recorded in the audit log.
const (
	ActionPush     = "push"
	ActionPromote  = "promote"
	ActionRollback = "rollback"
)

// Limits that keep metadata and loops bounded.
const (
	maxMetaBytes   = 64 << 20 // stages.json, audit.log, manifest.json
	maxHistory     = 200      // events kept in stages.json (audit.log keeps all)
	maxPrevious    = 50       // earlier versions a stage can roll back through
	maxCASAttempts = 10       // read-modify-write retries on a conflict
)

// Errors callers may test with errors.Is.
var (
	// ErrVersionExists: the version is already in the registry with other content.
	ErrVersionExists = errors.New("version exists with different content")
	// ErrNotFound: no such model, version or stage.
	ErrNotFound = errors.New("not found")
	// ErrBadBundle: the bundle to push or package is missing or does not load.
	ErrBadBundle = errors.New("bad bundle")
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// CheckName reports whether s is usable as a model name or version: 1 to
// 128 letters, digits, '.', '_' or '-', not starting with a punctuation
// mark.
func CheckName(kind, s string) error {
	if !namePattern.MatchString(s) {
		return fmt.Errorf("%s %q: want 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", kind, s)
	}
	return nil
}

// checkStage accepts the two stages.
func checkStage(stage string) error {
	if stage != StageStaging && stage != StageProd {
		return fmt.Errorf("stage %q: want %s or %s", stage, StageStaging, StageProd)
	}
	return nil
}

// Registry is a model registry over a Store. It is safe for concurrent
// use, also by several processes sharing the store.
type Registry struct {
	store Store
	now   func() time.Time
}

// New returns a registry over store. now stamps events; nil is time.Now.
func New(store Store, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{store: store, now: now}
}

// Store is the registry's backend.
func (r *Registry) Store() Store { return r.store }

// String names the registry's root.
func (r *Registry) String() string { return r.store.String() }

// Event is one line of the audit log and of a stage's history.
type Event struct {
	Time    time.Time `json:"time"`
	Action  string    `json:"action"`
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Stage   string    `json:"stage,omitempty"`
	// From is the stage's version before a promotion or rollback.
	From string `json:"from,omitempty"`
	// By is who pushed, promoted (approved) or rolled back.
	By string `json:"by"`
	// Digest is the pushed content's SHA-256 (see Push).
	Digest string `json:"digest,omitempty"`
	Note   string `json:"note,omitempty"`
}

// StageState is the version a stage serves.
type StageState struct {
	Version    string    `json:"version"`
	PromotedAt time.Time `json:"promoted_at"`
	PromotedBy string    `json:"promoted_by"`
	// Previous lists the versions the stage served before, oldest first:
	// a rollback returns to the last one.
	Previous []string `json:"previous,omitempty"`
}

// Stages is a model's stages.json.
type Stages struct {
	Name   string                 `json:"name"`
	Stages map[string]*StageState `json:"stages"`
	// History holds the latest promotions and rollbacks, oldest first.
	History []Event `json:"history"`
}

// versionKey is the key of a file in a version's folder.
func versionKey(name, version, rel string) string { return name + "/" + version + "/" + rel }

// readSmall reads a metadata object whole, with its tag.
func (r *Registry) readSmall(ctx context.Context, key string) ([]byte, string, error) {
	rc, tag, err := r.store.Get(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, maxMetaBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", key, err)
	}
	if len(data) > maxMetaBytes {
		return nil, "", fmt.Errorf("read %s: larger than %d bytes", key, maxMetaBytes)
	}
	return data, tag, nil
}

// putBytes writes data at key.
func (r *Registry) putBytes(ctx context.Context, key string, data []byte, cond Cond) error {
	return r.store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), cond)
}

// update runs a read-modify-write of key under optimistic concurrency:
// modify gets the current content (nil when absent) and returns the new
// one; a concurrent change makes it start over, at most maxCASAttempts
// times.
func (r *Registry) update(ctx context.Context, key string, modify func([]byte) ([]byte, error)) error {
	for attempt := range maxCASAttempts {
		cur, tag, err := r.readSmall(ctx, key)
		cond := Cond{IfMatch: tag}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			cur, cond = nil, Cond{IfAbsent: true}
		case err != nil:
			return err
		}
		next, err := modify(cur)
		if err != nil {
			return err
		}
		err = r.putBytes(ctx, key, next, cond)
		if !errors.Is(err, ErrConflict) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return fmt.Errorf("update %s: %w %d times in a row", key, ErrConflict, maxCASAttempts)
}

// appendAudit adds e as one line to the model's audit log.
func (r *Registry) appendAudit(ctx context.Context, e Event) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	key := e.Name + "/" + AuditFile
	err = r.update(ctx, key, func(cur []byte) ([]byte, error) {
		out := make([]byte, 0, len(cur)+len(line)+2)
		out = append(out, cur...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, line...)
		return append(out, '\n'), nil
	})
	if err != nil {
		return fmt.Errorf("append to audit log of %s: %w", e.Name, err)
	}
	return nil
}

// Audit returns a model's audit log, oldest first; empty when it has none.
func (r *Registry) Audit(ctx context.Context, name string) ([]Event, error) {
	if err := CheckName("model name", name); err != nil {
		return nil, err
	}
	data, _, err := r.readSmall(ctx, name+"/"+AuditFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Event
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("audit log of %s, line %d: %w", name, i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Stages returns a model's stages.json; a model never promoted has no
// stages (and no error).
func (r *Registry) Stages(ctx context.Context, name string) (*Stages, error) {
	if err := CheckName("model name", name); err != nil {
		return nil, err
	}
	data, _, err := r.readSmall(ctx, name+"/"+StagesFile)
	if errors.Is(err, fs.ErrNotExist) {
		return &Stages{Name: name, Stages: map[string]*StageState{}}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseStages(name, data)
}

// parseStages decodes stages.json.
func parseStages(name string, data []byte) (*Stages, error) {
	st := &Stages{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("%s/%s: %w", name, StagesFile, err)
	}
	if st.Stages == nil {
		st.Stages = map[string]*StageState{}
	}
	st.Name = name
	return st, nil
}

// StageVersion is the version a stage of a model serves.
func (r *Registry) StageVersion(ctx context.Context, name, stage string) (string, error) {
	if err := checkStage(stage); err != nil {
		return "", err
	}
	st, err := r.Stages(ctx, name)
	if err != nil {
		return "", err
	}
	s := st.Stages[stage]
	if s == nil || s.Version == "" {
		return "", fmt.Errorf("%s has no version in %s: %w", name, stage, ErrNotFound)
	}
	return s.Version, nil
}

// HasVersion reports whether a version is in the registry.
func (r *Registry) HasVersion(ctx context.Context, name, version string) (bool, error) {
	if err := CheckName("model name", name); err != nil {
		return false, err
	}
	if err := CheckName("version", version); err != nil {
		return false, err
	}
	rc, _, err := r.store.Get(ctx, versionKey(name, version, bundle.ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_ = rc.Close()
	return true, nil
}

// changeStage updates a model's stages.json with change and appends the
// resulting event to the audit log.
func (r *Registry) changeStage(ctx context.Context, name string, change func(*Stages) (Event, error)) (Event, error) {
	var ev Event
	err := r.update(ctx, name+"/"+StagesFile, func(cur []byte) ([]byte, error) {
		st := &Stages{Name: name, Stages: map[string]*StageState{}}
		if cur != nil {
			var err error
			if st, err = parseStages(name, cur); err != nil {
				return nil, err
			}
		}
		var err error
		if ev, err = change(st); err != nil {
			return nil, err
		}
		st.History = append(st.History, ev)
		if n := len(st.History); n > maxHistory {
			st.History = slices.Clone(st.History[n-maxHistory:])
		}
		out, err := json.MarshalIndent(st, "", "  ")
		return append(out, '\n'), err
	})
	if err != nil {
		return Event{}, err
	}
	if err := r.appendAudit(ctx, ev); err != nil {
		return ev, fmt.Errorf("%s %s %s recorded in %s, but: %w", ev.Action, name, ev.Version, StagesFile, err)
	}
	return ev, nil
}

// Promote makes version the one stage serves; this is the approval, made
// by by (a person or pipeline) with an optional note. Promoting the
// version already serving changes nothing and returns an event with
// From == Version.
func (r *Registry) Promote(ctx context.Context, name, version, stage, by, note string) (Event, error) {
	if err := checkStage(stage); err != nil {
		return Event{}, err
	}
	ok, err := r.HasVersion(ctx, name, version)
	if err != nil {
		return Event{}, err
	}
	if !ok {
		return Event{}, fmt.Errorf("promote %s %s: version %w", name, version, ErrNotFound)
	}
	if cur, err := r.StageVersion(ctx, name, stage); err == nil && cur == version {
		return Event{Action: ActionPromote, Name: name, Version: version, Stage: stage, From: cur, By: by}, nil
	}
	ev, err := r.changeStage(ctx, name, func(st *Stages) (Event, error) {
		now := r.now().UTC()
		ev := Event{Time: now, Action: ActionPromote, Name: name, Version: version, Stage: stage, By: by, Note: note}
		s := st.Stages[stage]
		if s == nil {
			s = &StageState{}
			st.Stages[stage] = s
		}
		if s.Version != "" && s.Version != version {
			ev.From = s.Version
			s.Previous = append(s.Previous, s.Version)
			if n := len(s.Previous); n > maxPrevious {
				s.Previous = slices.Clone(s.Previous[n-maxPrevious:])
			}
		}
		s.Version, s.PromotedAt, s.PromotedBy = version, now, by
		return ev, nil
	})
	if err != nil {
		return ev, fmt.Errorf("promote %s %s to %s: %w", name, version, stage, err)
	}
	return ev, nil
}

// Rollback returns stage to the version it served before the current one.
func (r *Registry) Rollback(ctx context.Context, name, stage, by, note string) (Event, error) {
	if err := checkStage(stage); err != nil {
		return Event{}, err
	}
	if err := CheckName("model name", name); err != nil {
		return Event{}, err
	}
	ev, err := r.changeStage(ctx, name, func(st *Stages) (Event, error) {
		s := st.Stages[stage]
		if s == nil || len(s.Previous) == 0 {
			return Event{}, fmt.Errorf("no earlier version of %s in %s: %w", name, stage, ErrNotFound)
		}
		now := r.now().UTC()
		prev := s.Previous[len(s.Previous)-1]
		ev := Event{Time: now, Action: ActionRollback, Name: name, Version: prev, Stage: stage, From: s.Version, By: by, Note: note}
		s.Previous = s.Previous[:len(s.Previous)-1]
		s.Version, s.PromotedAt, s.PromotedBy = prev, now, by
		return ev, nil
	})
	if err != nil {
		return ev, fmt.Errorf("roll back %s in %s: %w", name, stage, err)
	}
	return ev, nil
}

// VersionInfo is one version in a listing.
type VersionInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Stages the version currently serves, in the order staging, prod.
	Stages []string `json:"stages,omitempty"`
}

// Versions lists the versions of one model, or of every model when name is
// empty, by name and then version (numbers in versions compare by value).
func (r *Registry) Versions(ctx context.Context, name string) ([]VersionInfo, error) {
	prefix := ""
	if name != "" {
		if err := CheckName("model name", name); err != nil {
			return nil, err
		}
		prefix = name + "/"
	}
	keys, err := r.store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []VersionInfo
	stages := map[string]*Stages{}
	for _, k := range keys {
		parts := strings.Split(k, "/")
		if len(parts) != 3 || parts[2] != bundle.ManifestFile {
			continue
		}
		st, ok := stages[parts[0]]
		if !ok {
			if st, err = r.Stages(ctx, parts[0]); err != nil {
				return nil, err
			}
			stages[parts[0]] = st
		}
		v := VersionInfo{Name: parts[0], Version: parts[1]}
		for _, s := range []string{StageStaging, StageProd} {
			if cur := st.Stages[s]; cur != nil && cur.Version == v.Version {
				v.Stages = append(v.Stages, s)
			}
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return versionLess(out[i].Version, out[j].Version)
	})
	return out, nil
}

// versionLess orders versions so that runs of digits compare as numbers:
// 1.9 < 1.10, v2 < v10.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		ra, restA := leadingRun(a)
		rb, restB := leadingRun(b)
		if ra != rb {
			da, db := isDigit(ra[0]), isDigit(rb[0])
			switch {
			case da && db:
				na, nb := strings.TrimLeft(ra, "0"), strings.TrimLeft(rb, "0")
				if len(na) != len(nb) {
					return len(na) < len(nb)
				}
				if na != nb {
					return na < nb
				}
				return ra < rb
			default:
				return ra < rb
			}
		}
		a, b = restA, restB
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// leadingRun splits s after its first run of digits or of non-digits.
func leadingRun(s string) (string, string) {
	d := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == d {
		i++
	}
	return s[:i], s[i:]
}
