package monitor

import "encoding/json"

// File names of a baseline directory and of a monitoring run's output.
const (
	// StatisticsFile holds per-feature statistics (Model Monitor schema).
	StatisticsFile = "statistics.json"
	// ConstraintsFile holds the constraints checked against (Model Monitor
	// schema).
	ConstraintsFile = "constraints.json"
	// ScoresFile is leadscore's own addition: the distribution of the
	// model's probability and tiers on the baseline data, and the model's
	// quality there when the data had labels.
	ScoresFile = "scores.json"
	// ViolationsFile lists the violated constraints of a run (Model Monitor
	// schema).
	ViolationsFile = "constraint_violations.json"
)

// Inferred types of a feature, as Model Monitor names them.
const (
	TypeIntegral   = "Integral"
	TypeFractional = "Fractional"
)

// Constraint check types of a Violation. The first five are Model
// Monitor's; out_of_range_check is leadscore's.
const (
	CheckDataType     = "data_type_check"
	CheckCompleteness = "completeness_check"
	CheckDrift        = "baseline_drift_check"
	CheckMissingCol   = "missing_column_check"
	CheckExtraCol     = "extra_column_check"
	CheckOutOfRange   = "out_of_range_check"
)

// Comparison methods of the distribution constraints.
const (
	// MethodRobust flags drift when the distance exceeds the threshold and
	// also the Kolmogorov-Smirnov critical value at significance 0.01 for
	// the two sample sizes, so a small window does not alarm on noise.
	MethodRobust = "Robust"
	// MethodSimple flags drift whenever the distance exceeds the threshold.
	MethodSimple = "Simple"
)

// Statistics is a statistics.json file: per-feature statistics of a
// dataset in SageMaker Model Monitor's schema.
type Statistics struct {
	Version  float64             `json:"version"`
	Dataset  Dataset             `json:"dataset"`
	Features []FeatureStatistics `json:"features"`
}

// Dataset describes the whole dataset.
type Dataset struct {
	ItemCount int64 `json:"item_count"`
}

// FeatureStatistics are the statistics of one feature. Only numerical
// features are produced; string statistics read from a Model Monitor file
// are kept as they are and not checked.
type FeatureStatistics struct {
	Name                string               `json:"name"`
	InferredType        string               `json:"inferred_type"`
	NumericalStatistics *NumericalStatistics `json:"numerical_statistics,omitempty"`
	StringStatistics    json.RawMessage      `json:"string_statistics,omitempty"`
}

// NumericalStatistics summarise a numeric feature's present values. The
// standard deviation is the population one (divided by the count).
type NumericalStatistics struct {
	Common       CommonStatistics `json:"common"`
	Mean         float64          `json:"mean"`
	Sum          float64          `json:"sum"`
	StdDev       float64          `json:"std_dev"`
	Min          float64          `json:"min"`
	Max          float64          `json:"max"`
	Distribution Distribution     `json:"distribution"`
}

// CommonStatistics count present and missing values.
type CommonStatistics struct {
	NumPresent int64 `json:"num_present"`
	NumMissing int64 `json:"num_missing"`
}

// Distribution is a feature's distribution.
type Distribution struct {
	KLL KLL `json:"kll"`
}

// KLL is the distribution as a histogram (buckets) and a KLL quantile
// sketch.
type KLL struct {
	Buckets []Bucket     `json:"buckets"`
	Sketch  SketchValues `json:"sketch"`
}

// Bucket is one histogram bar: values in [LowerBound, UpperBound), the
// last bucket including its upper bound.
type Bucket struct {
	LowerBound float64 `json:"lower_bound"`
	UpperBound float64 `json:"upper_bound"`
	Count      float64 `json:"count"`
}

// SketchValues is a serialised KLL sketch: Data[h] holds the items of level
// h, each standing for 2^h values.
type SketchValues struct {
	Parameters SketchParameters `json:"parameters"`
	Data       [][]float64      `json:"data"`
}

// SketchParameters are the sketch's size parameters.
type SketchParameters struct {
	C float64 `json:"c"`
	K float64 `json:"k"`
}

// Constraints is a constraints.json file in Model Monitor's schema.
type Constraints struct {
	Version          float64              `json:"version"`
	Features         []FeatureConstraints `json:"features"`
	MonitoringConfig MonitoringConfig     `json:"monitoring_config"`
}

// FeatureConstraints are one feature's constraints. Completeness is the
// share of rows where the feature is present; nil means not checked.
type FeatureConstraints struct {
	Name           string          `json:"name"`
	InferredType   string          `json:"inferred_type"`
	Completeness   *float64        `json:"completeness,omitempty"`
	NumConstraints *NumConstraints `json:"num_constraints,omitempty"`
}

// NumConstraints are constraints on a numeric feature's values.
type NumConstraints struct {
	IsNonNegative bool `json:"is_non_negative"`
}

// MonitoringConfig tunes the checks.
type MonitoringConfig struct {
	EvaluateConstraints     string                  `json:"evaluate_constraints,omitempty"`
	EmitMetrics             string                  `json:"emit_metrics,omitempty"`
	DatatypeCheckThreshold  float64                 `json:"datatype_check_threshold"`
	DomainContentThreshold  float64                 `json:"domain_content_threshold"`
	DistributionConstraints DistributionConstraints `json:"distribution_constraints"`
}

// DistributionConstraints tune the baseline drift check.
type DistributionConstraints struct {
	PerformComparison              string  `json:"perform_comparison,omitempty"`
	ComparisonThreshold            float64 `json:"comparison_threshold"`
	ComparisonMethod               string  `json:"comparison_method,omitempty"`
	CategoricalComparisonThreshold float64 `json:"categorical_comparison_threshold,omitempty"`
	CategoricalDriftMethod         string  `json:"categorical_drift_method,omitempty"`
}

// Violation is one violated constraint, an entry of a
// constraint_violations.json file.
type Violation struct {
	FeatureName         string `json:"feature_name"`
	ConstraintCheckType string `json:"constraint_check_type"`
	Description         string `json:"description"`
	// Facet, FacetValue and MetricName locate a bias_drift_check violation
	// as Clarify's bias drift violations do (FeatureName is the facet).
	Facet      string `json:"facet,omitempty"`
	FacetValue string `json:"facet_value,omitempty"`
	MetricName string `json:"metric_name,omitempty"`
	// Label names the explained output of a
	// feature_attribution_drift_check violation (MetricName is "shap").
	Label string `json:"label,omitempty"`
}

// Violations is a constraint_violations.json file. Violations is never nil,
// so it encodes as [] when nothing is violated.
type Violations struct {
	Violations []Violation `json:"violations"`
}

// Scores is a scores.json file, leadscore's addition to a baseline: the
// model's outputs on the baseline data.
type Scores struct {
	Version float64  `json:"version"`
	Model   ModelRef `json:"model"`
	Dataset Dataset  `json:"dataset"`
	// Probability are the statistics of the predicted probability, in the
	// same schema as a feature's.
	Probability FeatureStatistics `json:"probability"`
	Tiers       TierBaseline      `json:"tiers"`
	// Label is the label column the quality figures come from; empty when
	// the data had none.
	Label                       string                       `json:"label,omitempty"`
	BinaryClassificationMetrics *BinaryClassificationMetrics `json:"binary_classification_metrics,omitempty"`
}

// ModelRef names a model.
type ModelRef struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

// TierBaseline is the tier distribution of the baseline data.
type TierBaseline struct {
	// Cutoffs are the probability cut-offs of tiers 2..5.
	Cutoffs      []float64 `json:"cutoffs"`
	Distribution []TierRow `json:"distribution"`
}

// TierRow describes one tier (1 lowest to 5 highest) in a dataset or a
// window. Conversion figures count only rows with a known outcome.
type TierRow struct {
	Tier           int     `json:"tier"`
	LowerBound     float64 `json:"lower_bound"`
	UpperBound     float64 `json:"upper_bound"`
	Count          int64   `json:"count"`
	Share          float64 `json:"share"`
	Labeled        int64   `json:"labeled,omitempty"`
	Conversions    int64   `json:"conversions,omitempty"`
	ConversionRate Float   `json:"conversion_rate"`
}

// Metric is one model quality figure as Model Monitor writes it; the
// standard deviation is NaN when there were fewer than 200 labelled rows.
type Metric struct {
	Value             Float `json:"value"`
	StandardDeviation Float `json:"standard_deviation"`
}

// ROCCurve is the receiver operating characteristic curve.
type ROCCurve struct {
	FalsePositiveRates []float64 `json:"false_positive_rates"`
	TruePositiveRates  []float64 `json:"true_positive_rates"`
}

// PRCurve is the precision-recall curve.
type PRCurve struct {
	Precisions []float64 `json:"precisions"`
	Recalls    []float64 `json:"recalls"`
}

// BinaryClassificationMetrics are Model Monitor's model quality metrics of
// a binary classifier. ConfusionMatrix[actual][predicted] counts rows;
// the thresholded metrics use the probability threshold of the run, and
// the "best constant classifier" is the one predicting every row positive.
type BinaryClassificationMetrics struct {
	ConfusionMatrix                 map[string]map[string]int64 `json:"confusion_matrix"`
	Recall                          Metric                      `json:"recall"`
	Precision                       Metric                      `json:"precision"`
	Accuracy                        Metric                      `json:"accuracy"`
	RecallBestConstantClassifier    Metric                      `json:"recall_best_constant_classifier"`
	PrecisionBestConstantClassifier Metric                      `json:"precision_best_constant_classifier"`
	AccuracyBestConstantClassifier  Metric                      `json:"accuracy_best_constant_classifier"`
	TruePositiveRate                Metric                      `json:"true_positive_rate"`
	TrueNegativeRate                Metric                      `json:"true_negative_rate"`
	FalsePositiveRate               Metric                      `json:"false_positive_rate"`
	FalseNegativeRate               Metric                      `json:"false_negative_rate"`
	ROCCurve                        ROCCurve                    `json:"receiver_operating_characteristic_curve"`
	PRCurve                         PRCurve                     `json:"precision_recall_curve"`
	AUC                             Metric                      `json:"auc"`
	F05                             Metric                      `json:"f0_5"`
	F1                              Metric                      `json:"f1"`
	F2                              Metric                      `json:"f2"`
	F05BestConstantClassifier       Metric                      `json:"f0_5_best_constant_classifier"`
	F1BestConstantClassifier        Metric                      `json:"f1_best_constant_classifier"`
	F2BestConstantClassifier        Metric                      `json:"f2_best_constant_classifier"`
}

// newViolation is a violation of a feature's check.
func newViolation(feature, check, desc string) Violation {
	return Violation{FeatureName: feature, ConstraintCheckType: check, Description: desc}
}
