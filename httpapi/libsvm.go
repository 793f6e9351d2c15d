package httpapi

import (
	"bytes"
	"net/http"
	"strconv"
)

// parseLibSVM parses a text/libsvm body the way SageMaker's built-in
// XGBoost container reads one: one row per line, tokens separated by
// spaces, each "index:value" token a feature and any other token (the
// label) ignored; features absent from a line are missing. Indices are
// 1-based when none in the request is 0 (the container's rule), otherwise
// 0-based. A value of nan is missing; an index past the model's features,
// an index given twice in a row, a value that is not a finite number, or
// more than maxRows rows is an error. Blank lines are skipped.
func parseLibSVM(body []byte, sc *schema, maxRows int, out *batch) *apiError {
	nf := sc.nf()
	out.reset(nf)
	// First pass: is any index 0? (The container shifts all indices down
	// by one when the smallest index in the request is at least 1.)
	zeroBased := false
	forEachToken(body, func(_ int, tok []byte) bool {
		if k := bytes.IndexByte(tok, ':'); k >= 0 {
			if idx, err := strconv.Atoi(string(bytes.TrimSpace(tok[:k]))); err == nil && idx <= 0 {
				zeroBased = true
				return false
			}
		}
		return true
	})
	line := 0
	for len(body) > 0 {
		var ln []byte
		if k := bytes.IndexByte(body, '\n'); k >= 0 {
			ln, body = body[:k], body[k+1:]
		} else {
			ln, body = body, nil
		}
		line++
		ln = bytes.TrimSpace(ln)
		if len(ln) == 0 {
			continue
		}
		rowIdx := out.n
		if rowIdx >= maxRows {
			return newError(http.StatusRequestEntityTooLarge, codeBatchTooLarge, "more than %d rows in one request: split the batch", maxRows)
		}
		row := out.addRow(nf)
		seen := out.seen
		clear(seen)
		for len(ln) > 0 {
			var tok []byte
			if k := bytes.IndexAny(ln, " \t"); k >= 0 {
				tok, ln = ln[:k], ln[k+1:]
			} else {
				tok, ln = ln, nil
			}
			k := bytes.IndexByte(tok, ':')
			if k < 0 {
				continue // the label, or an empty token between two spaces
			}
			idx, err := strconv.Atoi(string(tok[:k]))
			if err != nil || idx < 0 {
				return rowError(http.StatusUnprocessableEntity, codeInvalidValue, rowIdx, "",
					"row %d (line %d): %q is not index:value with a whole, non-negative index", rowIdx, line, tok)
			}
			if !zeroBased {
				idx--
			}
			if idx >= nf {
				return rowError(http.StatusUnprocessableEntity, codeFeatureCount, rowIdx, "",
					"row %d (line %d): feature index %s is past the model's %d features", rowIdx, line, tok[:k], nf)
			}
			if seen[idx] {
				return rowError(http.StatusUnprocessableEntity, codeDuplicateFeature, rowIdx, sc.names[idx],
					"row %d (line %d) gives feature %q twice", rowIdx, line, sc.names[idx])
			}
			seen[idx] = true
			val := tok[k+1:]
			if j := bytes.IndexByte(val, ':'); j >= 0 {
				val = val[:j] // "i:v:w" reads as v, as the container splits it
			}
			v, aerr := csvValue(val, rowIdx, sc.names[idx], line)
			if aerr != nil {
				return aerr
			}
			row[idx] = v
		}
	}
	if out.n == 0 {
		return newError(http.StatusUnprocessableEntity, codeEmptyBatch, "no rows to score")
	}
	return nil
}

// forEachToken calls fn with each space-separated token of body and its
// line number, until fn returns false.
func forEachToken(body []byte, fn func(line int, tok []byte) bool) {
	line := 1
	start := -1
	for i := 0; i <= len(body); i++ {
		if i == len(body) || body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r' {
			if start >= 0 {
				if !fn(line, body[start:i]) {
					return
				}
				start = -1
			}
			if i < len(body) && body[i] == '\n' {
				line++
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
}
