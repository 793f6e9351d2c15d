package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/xgboost"
)

// RefPrefix starts a model reference; see ParseRef.
const RefPrefix = "registry:"

// Ref names the version a stage of a model serves:
// registry:<root>#<name>@<stage>, where root is a directory or
// s3://bucket/prefix. Example: registry:s3://models/prod#lead-demo@prod.
type Ref struct {
	Root  string
	Name  string
	Stage string
}

// IsRef reports whether s is a registry reference rather than a path.
func IsRef(s string) bool { return strings.HasPrefix(s, RefPrefix) }

// ParseRef parses registry:<root>#<name>@<stage>.
func ParseRef(s string) (Ref, error) {
	rest, ok := strings.CutPrefix(s, RefPrefix)
	if !ok {
		return Ref{}, fmt.Errorf("model reference %q: want %s<root>#<name>@<stage>", s, RefPrefix)
	}
	i := strings.LastIndexByte(rest, '#')
	if i < 0 {
		return Ref{}, fmt.Errorf("model reference %q: missing #<name>@<stage>", s)
	}
	root, sel := rest[:i], rest[i+1:]
	name, stage, ok := strings.Cut(sel, "@")
	if !ok {
		return Ref{}, fmt.Errorf("model reference %q: missing @<stage> after the name", s)
	}
	if root == "" {
		return Ref{}, fmt.Errorf("model reference %q: empty registry root", s)
	}
	if err := CheckName("model name", name); err != nil {
		return Ref{}, fmt.Errorf("model reference %q: %w", s, err)
	}
	if err := checkStage(stage); err != nil {
		return Ref{}, fmt.Errorf("model reference %q: %w", s, err)
	}
	return Ref{Root: root, Name: name, Stage: stage}, nil
}

// String is the reference in the form ParseRef reads.
func (r Ref) String() string { return RefPrefix + r.Root + "#" + r.Name + "@" + r.Stage }

// Options configure opening a registry root and fetching from it.
type Options struct {
	// S3 configures s3:// roots.
	S3 S3Config
	// CacheDir is where bundles fetched from a remote (S3) registry are
	// kept, one folder per version; empty is the user cache directory
	// ($XDG_CACHE_HOME or ~/.cache)/leadscore/registry. Local registries
	// are read in place.
	CacheDir string
	// Logger receives Watch's poll failures; nil discards them.
	Logger *slog.Logger
	// WatchInterval is how often Follower.Watch polls the stage; zero is
	// DefaultWatchInterval.
	WatchInterval time.Duration
	// Now stamps events; nil is time.Now.
	Now func() time.Time
}

// Environment variables read by OptionsFromEnv.
const (
	EnvCacheDir    = "LEADSCORE_REGISTRY_CACHE"
	EnvS3Region    = "LEADSCORE_S3_REGION"
	EnvS3Endpoint  = "LEADSCORE_S3_ENDPOINT"
	EnvS3PathStyle = "LEADSCORE_S3_PATH_STYLE"
)

// OptionsFromEnv reads the registry settings from the environment
// (getenv is os.Getenv or a test's map): LEADSCORE_REGISTRY_CACHE,
// LEADSCORE_S3_REGION, LEADSCORE_S3_ENDPOINT and LEADSCORE_S3_PATH_STYLE
// (true/false). Credentials come from the AWS SDK's default chain
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, IRSA, roles).
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	o := Options{
		CacheDir: getenv(EnvCacheDir),
		S3:       S3Config{Region: getenv(EnvS3Region), Endpoint: getenv(EnvS3Endpoint)},
	}
	if v := getenv(EnvS3PathStyle); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("%s=%q: want true or false", EnvS3PathStyle, v)
		}
		o.S3.PathStyle = b
	}
	return o, nil
}

// Open returns the registry at root: s3://bucket/prefix, or a directory
// (optionally written file://DIR).
func Open(ctx context.Context, root string, opts Options) (*Registry, error) {
	if rest, ok := strings.CutPrefix(root, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		st, err := NewS3Store(ctx, bucket, prefix, opts.S3)
		if err != nil {
			return nil, fmt.Errorf("open registry %s: %w", root, err)
		}
		return New(st, opts.Now), nil
	}
	if strings.Contains(root, "://") && !strings.HasPrefix(root, "file://") {
		return nil, fmt.Errorf("open registry %s: want a directory or s3://bucket/prefix", root)
	}
	dir := strings.TrimPrefix(root, "file://")
	if dir == "" {
		return nil, errors.New("open registry: empty root")
	}
	return New(NewDirStore(dir), opts.Now), nil
}

// Resolve finds the version ref's stage serves and returns a local
// directory holding that bundle: the version's folder itself for a local
// registry, or a fetched copy in the cache for S3 (fetched once per
// version; versions are immutable).
func Resolve(ctx context.Context, ref string, opts Options) (dir, version string, err error) {
	rf, err := ParseRef(ref)
	if err != nil {
		return "", "", err
	}
	reg, err := Open(ctx, rf.Root, opts)
	if err != nil {
		return "", "", err
	}
	version, err = reg.StageVersion(ctx, rf.Name, rf.Stage)
	if err != nil {
		return "", "", fmt.Errorf("resolve %s: %w", ref, err)
	}
	dir, err = reg.Fetch(ctx, rf.Name, version, opts.CacheDir)
	if err != nil {
		return "", "", fmt.Errorf("resolve %s: %w", ref, err)
	}
	return dir, version, nil
}

// localStore is a store whose objects are files: fetching is not needed.
type localStore interface {
	Path(key string) string
}

// Fetch returns a local directory holding a version's bundle. For a local
// registry it is the version's folder; otherwise the files are downloaded
// into a temporary folder under cacheDir and renamed into place, so a
// cached version is always complete.
func (r *Registry) Fetch(ctx context.Context, name, version, cacheDir string) (string, error) {
	files, _, err := r.versionFiles(ctx, name, version)
	if err != nil {
		return "", err
	}
	if ls, ok := r.store.(localStore); ok {
		return filepath.Dir(ls.Path(versionKey(name, version, bundle.ManifestFile))), nil
	}
	if cacheDir == "" {
		if cacheDir, err = os.UserCacheDir(); err != nil {
			cacheDir = os.TempDir()
		}
		cacheDir = filepath.Join(cacheDir, "leadscore", "registry")
	}
	sum := sha256.Sum256([]byte(r.store.String()))
	parent := filepath.Join(cacheDir, hex.EncodeToString(sum[:8]), name)
	final := filepath.Join(parent, version)
	if _, err := os.Stat(filepath.Join(final, bundle.ManifestFile)); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return "", fmt.Errorf("fetch %s %s: %w", name, version, err)
	}
	tmp, err := os.MkdirTemp(parent, ".fetch-"+version+"-*")
	if err != nil {
		return "", fmt.Errorf("fetch %s %s: %w", name, version, err)
	}
	defer func() { _ = os.RemoveAll(tmp) }() // gone once renamed
	for _, rel := range files {
		if err := r.download(ctx, versionKey(name, version, rel), filepath.Join(tmp, filepath.FromSlash(rel))); err != nil {
			return "", fmt.Errorf("fetch %s %s: %w", name, version, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another process may have fetched the same version meanwhile.
		if _, serr := os.Stat(filepath.Join(final, bundle.ManifestFile)); serr == nil {
			return final, nil
		}
		return "", fmt.Errorf("fetch %s %s: %w", name, version, err)
	}
	return final, nil
}

// download copies one object into a new file at dst.
func (r *Registry) download(ctx context.Context, key, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	rc, _, err := r.store.Get(ctx, key)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) // #nosec G304 -- dst is inside our cache folder
	if err != nil {
		return err
	}
	limit := int64(xgboost.MaxModelBytes) + 1
	n, err := io.Copy(f, io.LimitReader(rc, limit))
	if err == nil && n == limit {
		err = fmt.Errorf("%s is larger than %d bytes", key, xgboost.MaxModelBytes)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	return nil
}

// Watch polls the version ref's stage serves every interval and, when it
// differs from loaded (the version already being served; "" to be told the
// current one at once), fetches it and calls fn with its directory and
// version, from Watch's goroutine. A failed poll or fetch is logged and
// retried at the next tick; a stage left empty keeps the current model.
// Watch returns when ctx is done (nil), or at once for a bad reference or
// interval.
func Watch(ctx context.Context, ref string, loaded string, interval time.Duration, opts Options, fn func(dir, version string)) error {
	rf, err := ParseRef(ref)
	if err != nil {
		return err
	}
	if interval <= 0 {
		return fmt.Errorf("watch %s: interval must be positive", ref)
	}
	reg, err := Open(ctx, rf.Root, opts)
	if err != nil {
		return err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		if ctx.Err() != nil {
			return nil
		}
		v, err := reg.StageVersion(ctx, rf.Name, rf.Stage)
		if err == nil && v != loaded {
			var dir string
			if dir, err = reg.Fetch(ctx, rf.Name, v, opts.CacheDir); err == nil {
				loaded = v
				fn(dir, v)
			}
		}
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			log.Warn("registry watch failed; retrying", "ref", ref, "error", err.Error())
			failing = true
		case err == nil && failing:
			log.Info("registry watch recovered", "ref", ref)
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
