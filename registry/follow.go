package registry

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
)

// Follower tracks the bundle a registry stage serves, for a server that
// loads the model from Dir (Loader) and reloads it when Watch reports a
// promotion or rollback. It implements bundle.Watcher and is safe for
// concurrent use.
type Follower struct {
	ref  string
	opts Options
	cur  atomic.Pointer[followed]
}

var _ bundle.Watcher = (*Follower)(nil)

// DefaultWatchInterval is how often Watch polls the stage when
// Options.WatchInterval is zero.
const DefaultWatchInterval = 10 * time.Second

// followed is one resolved version.
type followed struct{ dir, version string }

// Follow resolves ref (registry:<root>#<name>@<stage>) once, fetching the
// promoted bundle as Resolve does.
func Follow(ctx context.Context, ref string, opts Options) (*Follower, error) {
	dir, version, err := Resolve(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	f := &Follower{ref: ref, opts: opts}
	f.cur.Store(&followed{dir: dir, version: version})
	return f, nil
}

// Dir is the local directory of the bundle the stage serves, as of the
// last change Watch saw.
func (f *Follower) Dir() string { return f.cur.Load().dir }

// Version is the version the stage serves, as of the last change Watch saw.
func (f *Follower) Version() string { return f.cur.Load().version }

// Ref is the followed reference.
func (f *Follower) Ref() string { return f.ref }

// Loader loads the bundle of the version followed, as of the last change
// Watch saw.
func (f *Follower) Loader() leadscore.Loader {
	return func() (leadscore.Scorer, error) { return bundle.Load(f.Dir()) }
}

// Watch polls the stage every Options.WatchInterval until ctx is done; on
// a change it fetches the new version, updates Dir and Version, then calls
// onChange with "registry: VERSION" (from Watch's goroutine) so the caller
// can reload from Dir.
func (f *Follower) Watch(ctx context.Context, onChange func(reason string)) error {
	interval := f.opts.WatchInterval
	if interval == 0 {
		interval = DefaultWatchInterval
	}
	return Watch(ctx, f.ref, f.Version(), interval, f.opts, func(dir, version string) {
		f.cur.Store(&followed{dir: dir, version: version})
		onChange("registry: " + version)
	})
}
