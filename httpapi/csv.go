package httpapi

import (
	"bytes"
	"math"
	"net/http"
	"strconv"

	"github.com/leadscore/leadscore"
)

// parseCSV parses a text/csv body the way SageMaker's built-in XGBoost
// container reads one: one row per line, values separated by commas in the
// model's feature order, no header and no label column. An empty field or
// nan is a missing value; blank lines are skipped; "\r\n" line ends are accepted.
// More than maxRows rows is an error.
func parseCSV(body []byte, sc *schema, maxRows int, out *batch) *apiError {
	nf := sc.nf()
	out.reset(nf)
	line := 0
	for len(body) > 0 {
		var ln []byte
		if k := bytes.IndexByte(body, '\n'); k >= 0 {
			ln, body = body[:k], body[k+1:]
		} else {
			ln, body = body, nil
		}
		line++
		if len(ln) > 0 && ln[len(ln)-1] == '\r' {
			ln = ln[:len(ln)-1]
		}
		if len(bytes.TrimSpace(ln)) == 0 {
			continue
		}
		rowIdx := out.n
		if rowIdx >= maxRows {
			return newError(http.StatusRequestEntityTooLarge, codeBatchTooLarge, "more than %d rows in one request: split the batch", maxRows)
		}
		row := out.addRow(nf)
		j := 0
		for {
			var field []byte
			k := bytes.IndexByte(ln, ',')
			if k >= 0 {
				field, ln = ln[:k], ln[k+1:]
			} else {
				field = ln
			}
			if j < nf {
				v, err := csvValue(field, rowIdx, sc.feature(j), line)
				if err != nil {
					return err
				}
				row[j] = v
			}
			j++
			if k < 0 {
				break
			}
		}
		if j != nf {
			return rowError(http.StatusUnprocessableEntity, codeFeatureCount, rowIdx, "", "row %d (line %d) has %d values, want %d", rowIdx, line, j, nf)
		}
	}
	if out.n == 0 {
		return newError(http.StatusUnprocessableEntity, codeEmptyBatch, "no rows to score")
	}
	return nil
}

// csvValue parses one CSV field: empty or nan (any case) means missing;
// otherwise a number finite as a float32.
func csvValue(field []byte, rowIdx int, feature string, line int) (float32, *apiError) {
	field = bytes.TrimSpace(field)
	if len(field) == 0 {
		return float32(math.NaN()), nil
	}
	f, n, ok := parseNumber(field)
	if !ok || n != len(field) {
		// Not JSON number syntax: accept what strconv accepts ("1.", ".5",
		// "+2", "1E5") but never NaN or infinities.
		var err error
		f, err = strconv.ParseFloat(string(field), 64)
		if err != nil && !math.IsInf(f, 0) {
			return 0, rowError(http.StatusUnprocessableEntity, codeInvalidValue, rowIdx, feature,
				"feature %s of row %d (line %d) is not a number: send a number, or an empty field for missing", quoteName(feature), rowIdx, line)
		}
	}
	v := float32(f)
	if v != v {
		return v, nil // "nan", as Python's float() reads it: missing
	}
	if math.IsInf(float64(v), 0) {
		return 0, rowError(http.StatusUnprocessableEntity, codeInvalidValue, rowIdx, feature,
			"feature %s of row %d (line %d) is not finite: values must be finite 32-bit floats, or empty for missing", quoteName(feature), rowIdx, line)
	}
	return v, nil
}

// appendCSV writes one probability per line, as SageMaker's XGBoost
// container answers text/csv.
func appendCSV(dst []byte, results []leadscore.Result) []byte {
	for i := range results {
		dst = strconv.AppendFloat(dst, results[i].Probability, 'g', -1, 64)
		dst = append(dst, '\n')
	}
	return dst
}
