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
	// dtype is the datatype of the V2 tensor being read.
	dtype v2DType
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

// wrapper parses {"leads": [...]} or {"instances": [...]}, or a pandas
// split orientation {"columns": [...], "index": [...], "data": [[...]]}.
func (p *batchParser) wrapper() *apiError {
	start := p.s.i
	if sp, err := p.splitKeys(); err != nil {
		return err
	} else if sp.found {
		return p.split(sp)
	}
	p.s.i = start
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
				return newError(http.StatusBadRequest, codeUnknownField, "unknown field %q: want \"leads\" or \"instances\" (or pandas' split orientation: \"columns\", \"index\", \"data\")", keyString(raw, esc))
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
		case c-'0' < 10 && i+3 < len(b) && b[i+1] == '.' && b[i+2] == '0' && b[i+3]-'0' >= 10 && b[i+3]|0x20 != 'e':
			// "0.0", "1.0", ...: a third of the values clients send
			// (Python prints integer-valued floats so), exact as they are.
			dst[j] = float32(c - '0')
			i += 3
		case c >= '0' && c <= '9' || c == '-':
			f, n, ok := parseNumber(b[i:])
			v := float32(f)
			if !ok || math.Float32bits(v)&0x7F800000 == 0x7F800000 {
				return false // bad syntax, or ±Inf as a float32 (parseNumber gives no NaN)
			}
			dst[j] = v
			i += n
		case c == 'n' && i+4 <= len(b) && b[i+1] == 'u' && b[i+2] == 'l' && b[i+3] == 'l':
			dst[j] = float32(math.NaN())
			i += 4
		case c == 'N' && i+3 <= len(b) && b[i+1] == 'a' && b[i+2] == 'N':
			dst[j] = float32(math.NaN()) // Python's json.dumps writes NaN for missing
			i += 3
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
// float32, or null or the bare token NaN (Python's json.dumps, pandas) for
// missing, stored as NaN. Infinity is refused, as XGBoost refuses it. Anything else is a 422 naming the row
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
		if s.literal("NaN") {
			*dst = float32(math.NaN()) // as Python's json.dumps writes a missing value
			return nil
		}
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
		"feature %s of row %d is %s: values must be finite numbers, or null (or NaN) for missing", quoteName(feature), rowIdx, lit)
}

// quoteName renders a feature name for a message; an unnamed column (past
// the model's last feature) reads as "(extra)".
func quoteName(name string) string {
	if name == "" {
		return "(extra)"
	}
	return `"` + name + `"`
}

// lead parses one lead object into dst: {"id": ..., "features": {...} |
// [...]}, or a pandas records row {"feature name": value, ...} (what
// DataFrame.to_json(orient="records") writes), where an "id" key that is
// not a feature of the model is the lead's id.
func (p *batchParser) lead(dst []float32, rowIdx int) *apiError {
	p.s.i++ // '{'
	hasFeatures, records := false, false
	seen := p.out.seen
	clear(seen)
	if p.s.peek() == '}' {
		p.s.i++
	} else {
		for {
			raw, esc, err := p.s.key()
			if err != nil {
				return err
			}
			j, isFeature := p.featureIndex(raw, esc)
			switch {
			case isFeature:
				if hasFeatures {
					return rowError(http.StatusBadRequest, codeBadRequest, rowIdx, "", "row %d mixes \"features\" with feature names: give one or the other", rowIdx)
				}
				records = true
				if seen[j] {
					return rowError(http.StatusUnprocessableEntity, codeDuplicateFeature, rowIdx, p.sc.names[j], "row %d gives feature %q twice", rowIdx, p.sc.names[j])
				}
				seen[j] = true
				if err := p.value(&dst[j], rowIdx, j); err != nil {
					return err
				}
			case keyIs(raw, esc, "features"):
				if hasFeatures {
					return rowError(http.StatusBadRequest, codeBadRequest, rowIdx, "", "row %d gives \"features\" twice", rowIdx)
				}
				if records {
					return rowError(http.StatusBadRequest, codeBadRequest, rowIdx, "", "row %d mixes \"features\" with feature names: give one or the other", rowIdx)
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
				if err := p.rowID(rowIdx); err != nil {
					return err
				}
			default:
				name := keyString(raw, esc)
				return rowError(http.StatusUnprocessableEntity, codeUnknownFeature, rowIdx, name,
					"row %d: unknown feature %q (a lead is {\"id\", \"features\"} or a pandas record of feature names)", rowIdx, name)
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
	if !hasFeatures && !records {
		return rowError(http.StatusUnprocessableEntity, codeFeatureMissing, rowIdx, "", "row %d has no \"features\"", rowIdx)
	}
	return nil
}

// featureIndex looks a JSON key up among the model's feature names.
func (p *batchParser) featureIndex(raw []byte, esc bool) (int, bool) {
	if esc {
		j, ok := p.sc.index[unescape(raw)]
		return j, ok
	}
	j, ok := p.sc.index[string(raw)]
	return j, ok
}

// rowID reads a lead's id (a string or a number; null means none) into
// the batch.
func (p *batchParser) rowID(rowIdx int) *apiError {
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

// splitBody is where the parts of a pandas split-orientation body start
// (-1: absent) and where the object ends.
type splitBody struct {
	found                bool
	columns, index, data int
	end                  int
}

// splitKeys scans the top-level object for pandas' split orientation
// (DataFrame.to_json(orient="split")). found is false when the object has
// none of its keys, and the caller parses it again as a wrapper.
func (p *batchParser) splitKeys() (splitBody, *apiError) {
	sp := splitBody{columns: -1, index: -1, data: -1}
	s := &p.s
	s.i++ // '{'
	if s.peek() == '}' {
		s.i++
		return sp, nil
	}
	other := ""
	for {
		raw, esc, err := s.key()
		if err != nil {
			return sp, err
		}
		pos := s.peekPos()
		switch {
		case !sp.found && (keyIs(raw, esc, "leads") || keyIs(raw, esc, "instances")):
			return sp, nil // a wrapper: parsed (and its values checked) by the caller
		case keyIs(raw, esc, "columns"):
			sp.columns, sp.found = pos, true
		case keyIs(raw, esc, "index"):
			sp.index, sp.found = pos, true
		case keyIs(raw, esc, "data"):
			sp.data, sp.found = pos, true
		default:
			if other == "" {
				other = keyString(raw, esc)
			}
		}
		if err := s.skip(0); err != nil {
			return sp, err
		}
		more, err := s.next('}', "',' or '}' in an object")
		if err != nil {
			return sp, err
		}
		if !more {
			break
		}
	}
	sp.end = s.i
	if sp.found && other != "" {
		return sp, newError(http.StatusBadRequest, codeUnknownField, "unknown field %q in a pandas split body: want \"columns\", \"index\" and \"data\"", other)
	}
	return sp, nil
}

// peekPos skips white space and returns the offset of the next byte.
func (s *scanner) peekPos() int {
	s.skipWS()
	return s.i
}

// split parses a pandas split-orientation body: "columns" names the
// features (any order, any subset: absent ones are missing), each row of
// "data" holds one value per column, and "index", when given, holds each
// row's id.
func (p *batchParser) split(sp splitBody) *apiError {
	s := &p.s
	if sp.columns < 0 || sp.data < 0 {
		return newError(http.StatusBadRequest, codeBadRequest, "a pandas split body needs \"columns\" and \"data\"")
	}
	s.i = sp.columns
	if s.peek() != '[' {
		return newError(http.StatusBadRequest, codeBadRequest, "\"columns\" must be an array of feature names")
	}
	s.i++
	var cols []int
	seen := p.out.seen
	clear(seen)
	if s.peek() == ']' {
		s.i++
	} else {
		for {
			if s.peek() != '"' {
				return newError(http.StatusBadRequest, codeBadRequest, "\"columns\" must be an array of feature names")
			}
			raw, esc, err := s.str()
			if err != nil {
				return err
			}
			j, ok := p.featureIndex(raw, esc)
			if !ok {
				name := keyString(raw, esc)
				return newError(http.StatusUnprocessableEntity, codeUnknownFeature, "column %q is not a feature of the model", name).withFeature(name)
			}
			if seen[j] {
				return newError(http.StatusUnprocessableEntity, codeDuplicateFeature, "column %q appears twice", p.sc.names[j]).withFeature(p.sc.names[j])
			}
			seen[j] = true
			cols = append(cols, j)
			more, err := s.next(']', "',' or ']' in columns")
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	s.i = sp.data
	if s.peek() != '[' {
		return newError(http.StatusBadRequest, codeBadRequest, "\"data\" must be an array of rows")
	}
	s.i++
	nf := p.sc.nf()
	if s.peek() == ']' {
		s.i++
	} else {
		for {
			rowIdx := p.out.n
			if rowIdx >= p.maxRows {
				return newError(http.StatusRequestEntityTooLarge, codeBatchTooLarge, "more than %d rows in one request: split the batch", p.maxRows)
			}
			if s.peek() != '[' {
				if err := s.skip(0); err != nil {
					return err
				}
				return rowError(http.StatusUnprocessableEntity, codeBadRequest, rowIdx, "", "row %d of \"data\" must be an array of %d values", rowIdx, len(cols))
			}
			s.i++
			dst := p.out.addRow(nf)
			k := 0
			if s.peek() == ']' {
				s.i++
			} else {
				for {
					var v float32
					feature := ""
					if k < len(cols) {
						feature = p.sc.names[cols[k]]
					}
					if err := readValue(s, &v, rowIdx, feature); err != nil {
						return err
					}
					if k < len(cols) {
						dst[cols[k]] = v
					}
					k++
					more, err := s.next(']', "',' or ']' in a row")
					if err != nil {
						return err
					}
					if !more {
						break
					}
				}
			}
			if k != len(cols) {
				return rowError(http.StatusUnprocessableEntity, codeFeatureCount, rowIdx, "", "row %d has %d values for %d columns", rowIdx, k, len(cols))
			}
			more, err := s.next(']', "',' or ']' after a row")
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	if sp.index >= 0 {
		s.i = sp.index
		if s.peek() != '[' {
			return newError(http.StatusBadRequest, codeBadRequest, "\"index\" must be an array of row ids")
		}
		s.i++
		k := 0
		if s.peek() == ']' {
			s.i++
		} else {
			for {
				if k >= p.out.n {
					return newError(http.StatusBadRequest, codeBadRequest, "\"index\" has more entries than \"data\" has rows (%d)", p.out.n)
				}
				if err := p.rowID(k); err != nil {
					return err
				}
				k++
				more, err := s.next(']', "',' or ']' in index")
				if err != nil {
					return err
				}
				if !more {
					break
				}
			}
		}
		if k != p.out.n {
			return newError(http.StatusBadRequest, codeBadRequest, "\"index\" has %d entries for %d rows of \"data\"", k, p.out.n)
		}
	}
	s.i = sp.end
	return nil
}
