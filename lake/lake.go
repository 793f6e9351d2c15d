// Package lake is the one definition of the capture lake's format: the
// column names of prediction and ground-truth files, the Parquet schema of
// each, the folder of each table and its Hive partition path
// (dt=YYYY-MM-DD/hour=HH, UTC), and the Store through which a lake kept
// outside the local file system is read.
//
// capture writes this format and monitor reads it; both import this
// package, so a change here changes the writer and the readers together.
// Keys and paths are lake-relative with forward slashes; callers on the
// local file system convert them with filepath.FromSlash.
package lake

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Columns of a prediction file, besides the features.
const (
	ColEventTime    = "event_time"
	ColRequestID    = "request_id"
	ColInferenceID  = "inference_id"
	ColLeadID       = "lead_id"
	ColModelName    = "model_name"
	ColModelVersion = "model_version"
	ColMargin       = "margin"
	ColProbability  = "probability"
	ColTier         = "tier"
	ColLatencyMS    = "latency_ms"
	// ColVariant names the variant that scored the row (null with a
	// single model); ColRole says whether it was the live answer or a
	// shadow score (RoleLive, RoleShadow). A shadow row shares its
	// inference_id with the live one.
	ColVariant = "variant"
	ColRole    = "role"
)

// Values of ColRole.
const (
	RoleLive   = "live"
	RoleShadow = "shadow"
)

// ColConverted is the outcome column of a ground-truth file, which also
// has ColEventTime, ColInferenceID and ColLeadID.
const ColConverted = "converted"

// The Hive partition keys: the UTC day and hour of the event time.
const (
	PartitionDay  = "dt"
	PartitionHour = "hour"
)

// FileExt ends the name of every data file of the lake.
const FileExt = ".parquet"

// LeadColumns are the fixed columns before the features of a prediction
// file, in file order; TailColumns the fixed columns after them.
var (
	LeadColumns = [...]string{ColEventTime, ColRequestID, ColInferenceID, ColLeadID, ColModelName, ColModelVersion}
	TailColumns = [...]string{ColMargin, ColProbability, ColTier, ColLatencyMS, ColVariant, ColRole}
)

// Reserved reports whether name may not be a feature name: it is a fixed
// column of a prediction file or a partition key.
func Reserved(name string) bool {
	for _, c := range LeadColumns {
		if c == name {
			return true
		}
	}
	for _, c := range TailColumns {
		if c == name {
			return true
		}
	}
	return name == PartitionDay || name == PartitionHour
}

// Table is one kind of data the lake holds, each under its own folder.
type Table int

const (
	// Predictions are the scored requests, one row per prediction.
	Predictions Table = iota
	// GroundTruth are the outcomes posted to POST /v1/feedback.
	GroundTruth
)

// PredictionsDir and GroundTruthDir are the lake folders (and S3 key
// prefixes) of Predictions and GroundTruth: sibling roots, so a glob or a
// table over one never meets the other's schema.
const (
	PredictionsDir = "predictions"
	GroundTruthDir = "groundtruth"
)

// String names the table.
func (t Table) String() string {
	if t == GroundTruth {
		return "groundtruth"
	}
	return "predictions"
}

// Dir is the table's folder relative to the lake root, with forward
// slashes.
func (t Table) Dir() string {
	if t == GroundTruth {
		return GroundTruthDir
	}
	return PredictionsDir
}

// LegacyDir is where the table's files lived before the sibling roots:
// predictions at the lake root itself (ok true, dir ""); ground truth
// never moved. Readers list both, so a lake written by an older leadscore
// reads whole; `leadscore lake migrate` moves the old files.
func (t Table) LegacyDir() (dir string, ok bool) {
	return "", t == Predictions
}

// Partition is the lake-relative folder of the hour partition of at in
// table t, like groundtruth/dt=2025-06-01/hour=12.
func (t Table) Partition(at time.Time) string {
	at = at.UTC()
	p := fmt.Sprintf("%s=%s/%s=%02d", PartitionDay, at.Format(time.DateOnly), PartitionHour, at.Hour())
	if d := t.Dir(); d != "" {
		return d + "/" + p
	}
	return p
}

// PartitionStart is the start of the hour partition holding the data file
// at the lake-relative key (like dt=2025-06-01/hour=12/part-x.parquet);
// false when key is not a data file of table t.
// A prediction file of the legacy layout (dt=... at the lake root) counts.
func (t Table) PartitionStart(key string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(key, t.Dir()+"/")
	if !ok {
		if _, legacy := t.LegacyDir(); !legacy || !strings.HasPrefix(key, PartitionDay+"=") {
			return time.Time{}, false
		}
		rest = key
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || !IsDataFile(parts[2]) {
		return time.Time{}, false
	}
	day, ok := ParseDayDir(parts[0])
	if !ok {
		return time.Time{}, false
	}
	hour, ok := ParseHourDir(parts[1])
	if !ok {
		return time.Time{}, false
	}
	return day.Add(time.Duration(hour) * time.Hour), true
}

// ParseDayDir parses a day partition folder name, dt=YYYY-MM-DD.
func ParseDayDir(name string) (time.Time, bool) {
	v, ok := strings.CutPrefix(name, PartitionDay+"=")
	if !ok {
		return time.Time{}, false
	}
	day, err := time.Parse(time.DateOnly, v)
	return day, err == nil
}

// ParseHourDir parses an hour partition folder name, hour=HH (00 to 23).
func ParseHourDir(name string) (int, bool) {
	v, ok := strings.CutPrefix(name, PartitionHour+"=")
	if !ok {
		return 0, false
	}
	h, err := strconv.Atoi(v)
	return h, err == nil && h >= 0 && h <= 23
}

// IsDataFile reports whether a file name is a data file of the lake: a
// Parquet file that is neither hidden (a file being written, .NAME.tmp)
// nor internal (_NAME).
func IsDataFile(name string) bool {
	return strings.HasSuffix(name, FileExt) && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_")
}
