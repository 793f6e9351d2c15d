package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/registry"
)

// modelSource is where a served model comes from: a registry stage
// (registry:ROOT#NAME@STAGE, resolved, fetched and followed), a bundle
// directory or model file, or the embedded demo (the empty path).
type modelSource struct {
	load leadscore.Loader
	// watcher reports changes to reload on; nil when the source is not
	// watched (the demo, or an interval of zero).
	watcher bundle.Watcher
	// describe names the source for the log and the console: the path,
	// "embedded demo", or REF version V for the version followed now.
	describe func() string
}

// openModelSource opens the source at path, watched every interval (zero:
// never). A registry reference is resolved here, so a bad one fails the
// start; registryOptions gives its settings.
func openModelSource(ctx context.Context, path string, interval time.Duration,
	registryOptions func() (registry.Options, error), log *slog.Logger) (*modelSource, error) {
	if registry.IsRef(path) {
		opts, err := registryOptions()
		if err != nil {
			return nil, err
		}
		opts.Logger, opts.WatchInterval = log, interval
		f, err := registry.Follow(ctx, path, opts)
		if err != nil {
			return nil, fmt.Errorf("%w: model %s: %w", errInput, path, err)
		}
		src := &modelSource{load: f.Loader(), describe: func() string { return f.Ref() + " version " + f.Version() }}
		if interval > 0 {
			src.watcher = f
		}
		return src, nil
	}
	src := &modelSource{load: bundle.Loader(path), describe: func() string { return path }}
	switch {
	case path == "":
		src.describe = func() string { return "embedded demo" }
	case interval > 0:
		// Before the first load, so that a change made while it loads is
		// seen.
		src.watcher = bundle.NewFileWatcher(path, interval, log)
	}
	return src, nil
}

// watch reloads through reload each time the source changes, until ctx is
// done; it returns at once for a source that is not watched.
func (s *modelSource) watch(ctx context.Context, reload func(ctx context.Context, reason string) error) {
	if s.watcher == nil {
		return
	}
	_ = s.watcher.Watch(ctx, func(reason string) { _ = reload(ctx, reason) }) // Reload logs the outcome
}

// registryOptions are the settings of a registry model source: the
// LEADSCORE_REGISTRY_* and LEADSCORE_S3_* environment, with the lake's S3
// region, endpoint and path style when those are set.
func (c *serveConfig) registryOptions() (registry.Options, error) {
	opts, err := registry.OptionsFromEnv(os.Getenv)
	if err != nil {
		return opts, fmt.Errorf("%w: %w", errUsage, err)
	}
	if c.lake.s3Region != "" {
		opts.S3.Region = c.lake.s3Region
	}
	if c.lake.s3Endpoint != "" {
		opts.S3.Endpoint = c.lake.s3Endpoint
	}
	opts.S3.PathStyle = opts.S3.PathStyle || c.lake.s3PathStyle
	return opts, nil
}
