package sagemaker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// appendCSV writes rows (row-major, nf values each) as SageMaker's
// built-in XGBoost container reads text/csv: one row per line, values in
// feature order separated by commas, no header, and an empty field for a
// missing (NaN) value. Values are written in the shortest form that reads
// back as the same float32.
func appendCSV(dst []byte, rows []float32, nf int) []byte {
	for i, v := range rows {
		if i > 0 {
			if i%nf == 0 {
				dst = append(dst, '\n')
			} else {
				dst = append(dst, ',')
			}
		}
		if v != v { // NaN: missing
			continue
		}
		dst = strconv.AppendFloat(dst, float64(v), 'g', -1, 32)
	}
	if len(rows) > 0 {
		dst = append(dst, '\n')
	}
	return dst
}

// errResponse marks a response body that does not hold one probability
// per row.
var errResponse = errors.New("unreadable endpoint response")

// parseProbabilities reads n probabilities from an endpoint's response
// into dst. It accepts what XGBoost containers and leadscore answer:
//
//   - text: one value per line, or values separated by commas (the
//     built-in XGBoost container's text/csv answer, in either layout);
//   - JSON: an array of numbers, of one-number arrays, or of objects with
//     "score" or "probability"; or an object holding such an array under
//     "predictions", "probabilities" or "results" (leadscore's /score).
//
// Each value must be a probability in [0, 1].
func parseProbabilities(body []byte, n int, dst []float64) ([]float64, error) {
	dst = dst[:0]
	body = bytes.TrimSpace(body)
	var err error
	if len(body) > 0 && (body[0] == '[' || body[0] == '{') {
		dst, err = parseJSON(body, dst)
	} else {
		dst, err = parseText(body, dst)
	}
	if err != nil {
		return nil, err
	}
	if len(dst) != n {
		return nil, fmt.Errorf("%w: %d values for %d rows", errResponse, len(dst), n)
	}
	for i, p := range dst {
		if !(p >= 0 && p <= 1) {
			return nil, fmt.Errorf("%w: value %d is %v, not a probability", errResponse, i, p)
		}
	}
	return dst, nil
}

// parseText reads values separated by newlines or commas; blank lines are
// skipped, an empty field between commas is an error.
func parseText(body []byte, dst []float64) ([]float64, error) {
	for line := range bytes.SplitSeq(body, []byte{'\n'}) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		for field := range bytes.SplitSeq(line, []byte{','}) {
			field = bytes.TrimSpace(field)
			f, err := strconv.ParseFloat(string(field), 64)
			if err != nil {
				return nil, fmt.Errorf("%w: value %d: %q is not a number", errResponse, len(dst), truncate(field))
			}
			dst = append(dst, f)
		}
	}
	return dst, nil
}

// parseJSON reads the JSON layouts parseProbabilities accepts.
func parseJSON(body []byte, dst []float64) ([]float64, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("%w: %w", errResponse, err)
	}
	if obj, ok := v.(map[string]any); ok {
		found := false
		for _, key := range []string{"predictions", "probabilities", "results"} {
			if v, found = obj[key]; found {
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: a JSON object without predictions, probabilities or results", errResponse)
		}
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: the predictions are not a JSON array", errResponse)
	}
	for i, item := range list {
		f, ok := jsonProbability(item)
		if !ok {
			return nil, fmt.Errorf("%w: prediction %d is not a number, [number] or {\"score\"|\"probability\": number}", errResponse, i)
		}
		dst = append(dst, f)
	}
	return dst, nil
}

func jsonProbability(item any) (float64, bool) {
	switch x := item.(type) {
	case float64:
		return x, true
	case []any:
		if len(x) == 1 {
			f, ok := x[0].(float64)
			return f, ok
		}
	case map[string]any:
		for _, key := range []string{"probability", "score"} {
			if f, ok := x[key].(float64); ok {
				return f, true
			}
		}
	}
	return 0, false
}

// truncate shortens a field quoted in an error message.
func truncate(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "..."
	}
	return string(b)
}

// logit is the margin (log-odds) of a probability, clamped away from 0 and
// 1 so that it stays finite.
func logit(p float64) float64 {
	const eps = 1e-15
	p = math.Min(math.Max(p, eps), 1-eps)
	return math.Log(p) - math.Log1p(-p)
}
