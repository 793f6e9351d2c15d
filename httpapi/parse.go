package httpapi

import (
	"math"
	"net/http"
)

// batch is the parsed rows of one request, reused across requests.
type batch struct {
	// rows holds n*nf values row-major, NaN for missing.
	rows []float32
	// ids holds each row's id as its raw JSON token (a string with its
	// quotes, or a number), pointing into the request body; nil when the
	// row had none.
	ids [][]byte
	// hasIDs reports whether any row had an id.
	hasIDs bool
	n      int
	// seen marks named features already given for the current lead.
	seen []bool
}

// reset prepares b for a request against a model with nf features.
func (b *batch) reset(nf int) {
	b.rows = b.rows[:0]
	b.ids = b.ids[:0]
	b.hasIDs = false
	b.n = 0
	if cap(b.seen) < nf {
		b.seen = make([]bool, nf)
	}
	b.seen = b.seen[:nf]
}

// addRow appends a row of nf values, all NaN, and returns it.
func (b *batch) addRow(nf int) []float32 {
	start := len(b.rows)
	if cap(b.rows)-start < nf {
		grown := make([]float32, start, 2*cap(b.rows)+nf)
		copy(grown, b.rows)
		b.rows = grown
	}
	b.rows = b.rows[:start+nf]
	row := b.rows[start:]
	nan := float32(math.NaN())
	for i := range row {
		row[i] = nan
	}
	b.ids = append(b.ids, nil)
	b.n++
	return row
}

// schema is what the parsers need to know about the model.
type schema struct {
	names []string
	index map[string]int
}

func (sc *schema) nf() int { return len(sc.names) }

// feature names column j for error messages ("" past the last feature).
func (sc *schema) feature(j int) string {
	if j >= 0 && j < len(sc.names) {
		return sc.names[j]
	}
	return ""
}

// batchParser reads the JSON request bodies of /score and /invocations.
type batchParser struct {
	s       scanner
	sc      *schema
	maxRows int
	out     *batch
}

// parseScoreBody parses a /score body into out: a JSON array of rows, or an
// object with "leads" or "instances" holding such an array. Each element of
// the array is a row (an array of numbers and nulls, in the model's feature
// order) or a lead object {"id": ..., "features": {name: value} or [...]}.
// More than maxRows rows is an error.
func parseScoreBody(body []byte, sc *schema, maxRows int, out *batch) *apiError {
	out.reset(sc.nf())
	p := batchParser{s: scanner{b: body}, sc: sc, maxRows: maxRows, out: out}
	switch p.s.peek() {
	case '[':
		if err := p.elements(); err != nil {
			return err
		}
	case '{':
		if err := p.wrapper(); err != nil {
			return err
		}
	case 0:
		return newError(http.StatusBadRequest, codeMissingBody, "empty body: send a JSON array of rows, or {\"leads\": [...]} or {\"instances\": [...]}")
	default:
		return newError(http.StatusBadRequest, codeBadRequest, "body must be a JSON array of rows, or an object with \"leads\" or \"instances\"")
	}
	if err := p.s.end(); err != nil {
		return err
	}
	if out.n == 0 {
		return newError(http.StatusUnprocessableEntity, codeEmptyBatch, "no rows to score")
	}
	return nil
}

// wrapper parses {"leads": [...]} or {"instances": [...]}.
func (p *batchParser) wrapper() *apiError {
	p.s.i++ // '{'
	found := false
	if p.s.peek() == '}' {
		p.s.i++
	} else {
		for {
			raw, esc, err := p.s.key()
			if err != nil {
				return err
			}
			if !keyIs(raw, esc, "leads") && !keyIs(raw, esc, "instances") {
				return newError(http.StatusBadRequest, codeUnknownField, "unknown field %q: want \"leads\" or \"instances\"", keyString(raw, esc))
			}
			if found {
				return newError(http.StatusBadRequest, codeBadRequest, "give one of \"leads\" or \"instances\", once")
			}
			found = true
			if p.s.peek() != '[' {
				return newError(http.StatusBadRequest, codeBadRequest, "%q must be an array", keyString(raw, esc))
			}
			if err := p.elements(); err != nil {
				return err
			}
			more, err := p.s.next('}', "',' or '}' in an object")
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	if !found {
		return newError(http.StatusBadRequest, codeBadRequest, "object must have \"leads\" or \"instances\"")
	}
	return nil
}

// elements parses an array of rows or lead objects.
func (p *batchParser) elements() *apiError {
	p.s.i++ // '['
	if p.s.peek() == ']' {
		p.s.i++
		return nil
	}
	nf := p.sc.nf()
	for {
		rowIdx := p.out.n
		if rowIdx >= p.maxRows {
			return newError(http.StatusRequestEntityTooLarge, codeBatchTooLarge, "more than %d rows in one request: split the batch", p.maxRows)
		}
		switch p.s.peek() {
		case '[':
			if err := p.row(p.out.addRow(nf), rowIdx); err != nil {
				return err
			}
		case '{':
			if err := p.lead(p.out.addRow(nf), rowIdx); err != nil {
				return err
			}
		case 0:
			return p.s.syntax("a row")
		default:
			if err := p.s.skip(0); err != nil {
				return err
			}
			return rowError(http.StatusUnprocessableEntity, codeBadRequest, rowIdx, "", "row %d must be an array of %d numbers or a lead object", rowIdx, nf)
		}
		more, err := p.s.next(']', "',' or ']' after a row")
		if err != nil || !more {
			return err
		}
	}
}

// row parses an array of exactly nf values into dst.
func (p *batchParser) row(dst []float32, rowIdx int) *apiError {
	if p.fastRow(dst) {
		return nil
	}
	return p.slowRow(dst, rowIdx)
}

// fastRow parses a well-formed row of exactly len(dst) numbers and nulls in
// one tight loop. On anything else (an error to report, or an unusual
// number) it leaves the scanner where it was and returns false, and
// slowRow parses the row again with full checks and messages.
func (p *batchParser) fastRow(dst []float32) bool {
	b := p.s.b
	i := p.s.i + 1 // past '['
	for j := range dst {
		for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
			i++
		}
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c >= '0' && c <= '9' || c == '-':
			f, n, ok := parseNumber(b[i:])
			v := float32(f)
			if !ok || math.IsInf(float64(v), 0) {
				return false
			}
			dst[j] = v
			i += n
		case c == 'n' && i+4 <= len(b) && b[i+1] == 'u' && b[i+2] == 'l' && b[i+3] == 'l':
			dst[j] = float32(math.NaN())
			i += 4
		default:
			return false
		}
		for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
			i++
		}
		if i >= len(b) {
			return false
		}
		want := byte(',')
		if j == len(dst)-1 {
			want = ']'
		}
		if b[i] != want {
			return false
		}
		i++
	}
	if len(dst) == 0 {
		return false
	}
	p.s.i = i
	return true
}

// slowRow parses a row value by value, reporting the first problem.
func (p *batchParser) slowRow(dst []float32, rowIdx int) *apiError {
	p.s.i++ // '['
	nf := len(dst)
	j := 0
	if p.s.peek() == ']' {
		p.s.i++
	} else {
		for {
			var v float32
			if err := p.value(&v, rowIdx, j); err != nil {
				return err
			}
			if j < nf {
				dst[j] = v
			}
			j++
			more, err := p.s.next(']', "',' or ']' in a row")
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	if j != nf {
		return rowError(http.StatusUnprocessableEntity, codeFeatureCount, rowIdx, "", "row %d has %d features, want %d", rowIdx, j, nf)
	}
	return nil
}

// value parses one feature value: a finite number, or null for missing.
func (p *batchParser) value(dst *float32, rowIdx, col int) *apiError {
	return readValue(&p.s, dst, rowIdx, p.sc.feature(col))
}

// readValue parses one feature value at s: a number that is finite as a
// float32, or null (stored as NaN). Anything else is a 422 naming the row
// and feature, except broken JSON which is a 400.
func readValue(s *scanner, dst *float32, rowIdx int, feature string) *apiError {
	c := s.peek()
	switch {
	case c == '-' || c >= '0' && c <= '9':
		if c == '-' && s.i+1 < len(s.b) && s.b[s.i+1] == 'I' {
			return notFinite(rowIdx, feature, "-Infinity")
		}
		f, n, ok := parseNumber(s.b[s.i:])
		if !ok {
			s.i += n
			return s.syntax("a number")
		}
		s.i += n
		v := float32(f)
		if math.IsInf(float64(v), 0) {
			return rowError(http.StatusUnprocessableEntity, codeInvalidValue, rowIdx, feature,
				"feature %s of row %d is out of range: values must be finite 32-bit floats", quoteName(feature), rowIdx)
		}
		*dst = v
		return nil
	case c == 'n':
		if s.literal("null") {
			*dst = float32(math.NaN())
			return nil
		}
	case c == 'N':
		return notFinite(rowIdx, feature, "NaN")
	case c == 'I':
		return notFinite(rowIdx, feature, "Infinity")
	case c == '"':
		if _, _, err := s.str(); err != nil {
			return err
		}
		return rowError(http.StatusUnprocessableEntity, codeInvalidValue, rowIdx, feature,
			"feature %s of row %d is a string: send a number, or null for missing", quoteName(feature), rowIdx)
	case c == 't' || c == 'f' || c == '[' || c == '{':
		if err := s.skip(0); err != nil {
			return err
		}
		return rowError(http.StatusUnprocessableEntity, codeInvalidValue, rowIdx, feature,
			"feature %s of row %d is not a number: send a number, or null for missing", quoteName(feature), rowIdx)
	}
	return s.syntax("a number or null")
}

func notFinite(rowIdx int, feature, lit string) *apiError {
	return rowError(http.StatusUnprocessableEntity, codeInvalidValue, rowIdx, feature,
		"feature %s of row %d is %s: values must be finite numbers, or null for missing", quoteName(feature), rowIdx, lit)
}

// quoteName renders a feature name for a message; an unnamed column (past
// the model's last feature) reads as "(extra)".
func quoteName(name string) string {
	if name == "" {
		return "(extra)"
	}
	return `"` + name + `"`
}

// lead parses {"id": ..., "features": {...} | [...]} into dst.
func (p *batchParser) lead(dst []float32, rowIdx int) *apiError {
	p.s.i++ // '{'
	hasFeatures := false
	if p.s.peek() == '}' {
		p.s.i++
	} else {
		for {
			raw, esc, err := p.s.key()
			if err != nil {
				return err
			}
			switch {
			case keyIs(raw, esc, "features"):
				if hasFeatures {
					return rowError(http.StatusBadRequest, codeBadRequest, rowIdx, "", "row %d gives \"features\" twice", rowIdx)
				}
				hasFeatures = true
				switch p.s.peek() {
				case '{':
					err = p.named(dst, rowIdx)
				case '[':
					err = p.row(dst, rowIdx)
				default:
					if err := p.s.skip(0); err != nil {
						return err
					}
					err = rowError(http.StatusUnprocessableEntity, codeBadRequest, rowIdx, "", "row %d: \"features\" must be an object of name: value or an array of values", rowIdx)
				}
				if err != nil {
					return err
				}
			case keyIs(raw, esc, "id"):
				switch c := p.s.peek(); {
				case c == '"' || c == '-' || c >= '0' && c <= '9':
					start := p.s.i
					if err := p.s.skip(0); err != nil {
						return err
					}
					p.out.ids[rowIdx] = p.s.b[start:p.s.i]
					p.out.hasIDs = true
				case c == 'n' && p.s.literal("null"):
				default:
					if err := p.s.skip(0); err != nil {
						return err
					}
					return rowError(http.StatusUnprocessableEntity, codeBadRequest, rowIdx, "", "row %d: \"id\" must be a string or a number", rowIdx)
				}
			default:
				return rowError(http.StatusBadRequest, codeUnknownField, rowIdx, "", "row %d: unknown field %q: a lead has \"id\" and \"features\"", rowIdx, keyString(raw, esc))
			}
			more, err := p.s.next('}', "',' or '}' in a lead")
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	if !hasFeatures {
		return rowError(http.StatusUnprocessableEntity, codeFeatureMissing, rowIdx, "", "row %d has no \"features\"", rowIdx)
	}
	return nil
}

// named parses {"feature name": value, ...} into dst. An absent name is a
// missing value; an unknown or repeated name is an error.
func (p *batchParser) named(dst []float32, rowIdx int) *apiError {
	p.s.i++ // '{'
	if p.s.peek() == '}' {
		p.s.i++
		return nil
	}
	seen := p.out.seen
	clear(seen)
	for {
		raw, esc, err := p.s.key()
		if err != nil {
			return err
		}
		var j int
		var ok bool
		if esc {
			j, ok = p.sc.index[unescape(raw)]
		} else {
			j, ok = p.sc.index[string(raw)]
		}
		if !ok {
			name := keyString(raw, esc)
			return rowError(http.StatusUnprocessableEntity, codeUnknownFeature, rowIdx, name, "row %d: unknown feature %q", rowIdx, name)
		}
		if seen[j] {
			return rowError(http.StatusUnprocessableEntity, codeDuplicateFeature, rowIdx, p.sc.names[j], "row %d gives feature %q twice", rowIdx, p.sc.names[j])
		}
		seen[j] = true
		if err := p.value(&dst[j], rowIdx, j); err != nil {
			return err
		}
		more, err := p.s.next('}', "',' or '}' in features")
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}
