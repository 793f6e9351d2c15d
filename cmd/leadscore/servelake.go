package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore/capture"
	lakes3 "github.com/leadscore/leadscore/lake/s3"
	"github.com/leadscore/leadscore/monitor"
)

// lakeConfig is serve's prediction capture: every scored row to a
// Hive-partitioned Parquet lake, local by default, uploaded to S3 when a
// bucket is given (docs/lake.md).
type lakeConfig struct {
	enabled       bool
	dir           string
	s3URL         string
	s3Region      string
	s3Endpoint    string
	s3PathStyle   bool
	queueDepth    int
	queueWait     time.Duration
	syncInterval  time.Duration
	rollSize      byteSize
	rollAge       time.Duration
	samplePercent float64
	maxLocal      byteSize
}

// addFlags registers the lake flags on fs.
func (l *lakeConfig) addFlags(fs *flag.FlagSet) {
	l.rollSize, l.maxLocal = capture.DefaultRollBytes, capture.DefaultMaxLocalBytes
	fs.BoolVar(&l.enabled, "lake", true, "capture every scored lead to the Parquet data lake")
	fs.StringVar(&l.dir, "lake-dir", capture.DefaultDir, "local lake `dir`; with S3, where the journal and the upload backlog live")
	fs.StringVar(&l.s3URL, "lake-s3-url", "", "upload closed files to `s3://bucket/prefix` (credentials: the AWS default chain)")
	fs.StringVar(&l.s3Region, "s3-region", "", "S3 `region` of the lake's bucket and of an s3:// registry (default AWS_REGION, then us-east-1)")
	fs.StringVar(&l.s3Endpoint, "s3-endpoint", "", "S3-compatible endpoint `URL` (MinIO, Ceph, R2, ...) of the lake and an s3:// registry")
	fs.BoolVar(&l.s3PathStyle, "s3-path-style", false, "address S3 buckets by path (most S3-compatible stores)")
	fs.IntVar(&l.queueDepth, "lake-queue-depth", capture.DefaultQueueDepth, "scored `records` waiting for the journal; a request that finds it full waits (see\n--lake-queue-wait)")
	fs.DurationVar(&l.queueWait, "lake-queue-wait", capture.DefaultQueueWait, "how long a request may wait for room in a full capture queue; meanwhile\n--max-in-flight sheds new requests with 503, so overload is refused rather than\nrecords lost; past it (a stalled disk) records are dropped and counted (0: never wait)")
	fs.DurationVar(&l.syncInterval, "lake-sync-interval", capture.DefaultSyncInterval, "journal group-commit period: the most a crash (SIGKILL) can lose")
	fs.Var(&l.rollSize, "lake-roll-size", "close a Parquet file at about this `size`")
	fs.DurationVar(&l.rollAge, "lake-roll-age", capture.DefaultRollAge, "close files this long after their first record")
	fs.Float64Var(&l.samplePercent, "lake-sample-percent", 100, "share of scored leads captured, in (0, 100]")
	fs.Var(&l.maxLocal, "lake-max-local", "bound on the local journal and upload backlog (`size`); beyond it records are dropped and counted")
}

// queueWait maps the flag's 0 (never wait) to capture's negative.
func queueWait(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// validate checks the lake settings.
func (l *lakeConfig) validate() error {
	switch {
	case !l.enabled:
		return nil
	case l.dir == "":
		return fmt.Errorf("%w: --lake-dir is empty (turn capture off with --lake=false)", errUsage)
	case l.queueWait < 0:
		return fmt.Errorf("%w: --lake-queue-wait must not be negative", errUsage)
	case l.queueDepth < 1 || l.syncInterval <= 0 || l.rollSize < 1 || l.rollAge <= 0 || l.maxLocal < 1:
		return fmt.Errorf("%w: --lake-queue-depth, -sync-interval, -roll-size, -roll-age and -max-local must be positive", errUsage)
	case !(l.samplePercent > 0 && l.samplePercent <= 100):
		return fmt.Errorf("%w: --lake-sample-percent must be in (0, 100]", errUsage)
	}
	if l.s3URL != "" {
		if _, _, err := lakes3.ParseURL(l.s3URL); err != nil {
			return fmt.Errorf("%w: --lake-s3-url: %w", errUsage, err)
		}
	}
	return nil
}

// build starts the capture writer for a model with the given features, or
// returns nil when capture is off. It replays records a crash left in the
// journal before returning.
func (l *lakeConfig) build(ctx context.Context, features []string, reg prometheus.Registerer, log *slog.Logger) (*capture.Writer, error) {
	if !l.enabled {
		return nil, nil
	}
	cfg := capture.Config{
		Dir:           l.dir,
		QueueDepth:    l.queueDepth,
		QueueWait:     queueWait(l.queueWait),
		SyncInterval:  l.syncInterval,
		RollBytes:     int64(l.rollSize),
		RollAge:       l.rollAge,
		SamplePercent: l.samplePercent,
		MaxLocalBytes: int64(l.maxLocal),
	}
	if l.s3URL != "" {
		bucket, prefix, _ := lakes3.ParseURL(l.s3URL) // checked by validate
		up, err := lakes3.New(ctx, lakes3.Config{
			Bucket: bucket, Prefix: prefix, Region: l.s3Region, Endpoint: l.s3Endpoint, PathStyle: l.s3PathStyle,
			AccessKeyID:     os.Getenv("LEADSCORE_LAKE_S3_ACCESS_KEY_ID"),
			SecretAccessKey: os.Getenv("LEADSCORE_LAKE_S3_SECRET_ACCESS_KEY"),
			SessionToken:    os.Getenv("LEADSCORE_LAKE_S3_SESSION_TOKEN"),
		})
		if err != nil {
			return nil, fmt.Errorf("%w: lake S3: %w", errUsage, err)
		}
		cfg.Uploader = up
	}
	w, err := capture.New(cfg, features, reg, log)
	if err != nil {
		return nil, fmt.Errorf("data lake: %w", err)
	}
	return w, nil
}

// lakeViolations describes a failing capture as a monitoring violation,
// or none while it keeps up.
func lakeViolations(st capture.Stats) []monitor.Violation {
	if st.Healthy {
		return nil
	}
	var dropped uint64
	for _, n := range st.Dropped {
		dropped += n
	}
	return []monitor.Violation{{
		FeatureName:         "data_lake",
		ConstraintCheckType: "capture_health_check",
		Description: fmt.Sprintf("capture is failing or falling behind: %d records dropped so far, %d files (%d bytes) waiting for upload, %d upload failures; scoring goes on (see leadscore_capture_* in /metrics)",
			dropped, st.BacklogFiles, st.BacklogBytes, st.UploadFailures),
	}}
}

// watchLake posts capture failures to the alert webhook (with the
// monitor's cool-down, no repeats while the failure lasts) every interval
// until ctx ends.
func watchLake(ctx context.Context, lake *capture.Writer, alert *monitor.Alerter, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := alert.Update(ctx, now, lakeViolations(lake.Stats())); err != nil {
				log.Warn("data lake alert not delivered", "error", err.Error())
			}
		}
	}
}
