package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

// fuzzSchema is a three-feature model for the parser fuzz targets.
var fuzzSchema = schema{names: []string{"a", "b", "c"}, index: map[string]int{"a": 0, "b": 1, "c": 2}}

// checkParsed asserts the invariants every successful parse keeps.
func checkParsed(t *testing.T, b *batch, maxRows int) {
	t.Helper()
	nf := fuzzSchema.nf()
	if b.n < 1 || b.n > maxRows || len(b.rows) != b.n*nf || len(b.ids) != b.n {
		t.Fatalf("n=%d rows=%d ids=%d", b.n, len(b.rows), len(b.ids))
	}
	for i, v := range b.rows {
		if math.IsInf(float64(v), 0) {
			t.Fatalf("value %d is infinite", i)
		}
	}
	for i, id := range b.ids {
		if id != nil && !json.Valid(id) {
			t.Fatalf("id %d %q is not JSON", i, id)
		}
	}
}

// checkFailure asserts a parse error is a well-formed client error.
func checkFailure(t *testing.T, e *apiError) {
	t.Helper()
	if e.Status < 400 || e.Status >= 500 || e.Code == "" || e.Message == "" {
		t.Fatalf("bad error %+v", e)
	}
	if !json.Valid(appendError(nil, e)) {
		t.Fatalf("error %+v encodes to invalid JSON", e)
	}
}

// expectedRows decodes a /score body with encoding/json and lays it out as
// the parser should have; ok is false when it cannot (the parser accepted
// something encoding/json does not understand the same way).
func expectedRows(body []byte) (rows []float32, ids []json.RawMessage, ok bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, nil, false
	}
	if m, isObj := v.(map[string]any); isObj {
		if cols, isSplit := m["columns"].([]any); isSplit {
			return splitRows(m, cols)
		}
		v = m["leads"]
		if v == nil {
			v = m["instances"]
		}
	}
	elems, isArr := v.([]any)
	if !isArr {
		return nil, nil, false
	}
	num := func(x any) (float32, bool) {
		if x == nil {
			return float32(math.NaN()), true
		}
		n, isNum := x.(json.Number)
		if !isNum {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil && !math.IsInf(f, 0) {
			return 0, false
		}
		return float32(f), true
	}
	nan := float32(math.NaN())
	for _, e := range elems {
		row := []float32{nan, nan, nan}
		feats := e
		var id json.RawMessage
		if obj, isObj := e.(map[string]any); isObj {
			feats = obj["features"]
			if feats == nil { // a pandas record: the object is the features
				rec := map[string]any{}
				for k, x := range obj {
					if k != "id" {
						rec[k] = x
					}
				}
				feats = rec
			}
			switch x := obj["id"].(type) {
			case string:
				id, _ = json.Marshal(x)
			case json.Number:
				id = json.RawMessage(x)
			}
		}
		switch f := feats.(type) {
		case []any:
			if len(f) != 3 {
				return nil, nil, false
			}
			for j, x := range f {
				if row[j], ok = num(x); !ok {
					return nil, nil, false
				}
			}
		case map[string]any:
			for name, x := range f {
				j, known := fuzzSchema.index[name]
				if !known {
					return nil, nil, false
				}
				if row[j], ok = num(x); !ok {
					return nil, nil, false
				}
			}
		default:
			return nil, nil, false
		}
		rows = append(rows, row...)
		ids = append(ids, id)
	}
	return rows, ids, true
}

// splitRows is expectedRows for pandas' split orientation.
func splitRows(m map[string]any, cols []any) (rows []float32, ids []json.RawMessage, ok bool) {
	data, isArr := m["data"].([]any)
	if !isArr {
		return nil, nil, false
	}
	idx := make([]int, len(cols))
	for k, c := range cols {
		name, isStr := c.(string)
		j, known := fuzzSchema.index[name]
		if !isStr || !known {
			return nil, nil, false
		}
		idx[k] = j
	}
	index, hasIndex := m["index"].([]any)
	nan := float32(math.NaN())
	for i, r := range data {
		vals, isArr := r.([]any)
		if !isArr || len(vals) != len(cols) {
			return nil, nil, false
		}
		row := []float32{nan, nan, nan}
		for k, x := range vals {
			if x == nil {
				continue
			}
			n, isNum := x.(json.Number)
			if !isNum {
				return nil, nil, false
			}
			f, err := strconv.ParseFloat(string(n), 64)
			if err != nil && !math.IsInf(f, 0) {
				return nil, nil, false
			}
			row[idx[k]] = float32(f)
		}
		rows = append(rows, row...)
		var id json.RawMessage
		if hasIndex && i < len(index) {
			switch x := index[i].(type) {
			case string:
				id, _ = json.Marshal(x)
			case json.Number:
				id = json.RawMessage(x)
			}
		}
		ids = append(ids, id)
	}
	return rows, ids, true
}

// nanToNull replaces each bare NaN token outside strings by null, so that
// encoding/json (which has no NaN) can read a body the way leadscore does.
func nanToNull(body []byte) []byte {
	out := make([]byte, 0, len(body)+8)
	inStr, esc := false, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == 'N' && i+3 <= len(body) && string(body[i:i+3]) == "NaN":
			out = append(out, "null"...)
			i += 2
			continue
		}
		out = append(out, c)
	}
	return out
}

// sameFloat32 compares treating NaN as equal to NaN and -0 as distinct.
func sameFloat32(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
}

// fuzzScoreBody parses body and, when it is accepted, checks it against
// encoding/json.
func fuzzScoreBody(t *testing.T, body []byte) {
	const maxRows = 50
	var b batch
	if e := parseScoreBody(body, &fuzzSchema, maxRows, &b); e != nil {
		checkFailure(t, e)
		return
	}
	checkParsed(t, &b, maxRows)
	body = nanToNull(body) // bare NaN is missing, as null
	if !json.Valid(body) {
		t.Fatalf("accepted invalid JSON %q", body)
	}
	rows, ids, ok := expectedRows(body)
	if !ok {
		t.Fatalf("accepted %q, which encoding/json reads differently", body)
	}
	if len(rows) != len(b.rows) {
		t.Fatalf("%d values, encoding/json has %d", len(b.rows), len(rows))
	}
	for i := range rows {
		if !sameFloat32(rows[i], b.rows[i]) {
			t.Fatalf("value %d = %v, encoding/json has %v", i, b.rows[i], rows[i])
		}
	}
	for i := range ids {
		if ids[i] == nil {
			continue
		}
		var want, got any
		_ = json.Unmarshal(ids[i], &want)
		if err := json.Unmarshal(b.ids[i], &got); err != nil || want != got {
			t.Fatalf("id %d = %s, want %s", i, b.ids[i], ids[i])
		}
	}
}

func FuzzParseRows(f *testing.F) {
	for _, s := range []string{
		`[[1,2,3]]`, `[[1.5e3,-0.25,null],[0,0,0]]`, `[[1,2]]`, `[[NaN,1,2]]`, `[[1e400,1,1]]`,
		`[["1",2,3]]`, `[[1,2,3],]`, `[]`, ` [ [ 0 , -0 , 0.0000001 ] ] `, `[[123456789012345678901234567890,1,1]]`,
		`[[1,2,3]`, `[[-Infinity,1,1]]`, `[[true,1,1]]`, `[[1,2,3,4]]`, `[1,2,3]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { fuzzScoreBody(t, body) })
}

func FuzzParseLeads(f *testing.F) {
	for _, s := range []string{
		`{"id":"x","features":{"a":1,"c":2}}`, `{"features":{"b":null}},{"id":7,"features":[1,2,3]}`,
		`{"id":"\u00e9\n","features":{"\u0061":1}}`, `{"features":{"z":1}}`, `{"features":{"a":1,"a":2}}`,
		`{"id":{},"features":{}}`, `{"features":{"a":"1"}}`, `{"other":1}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, leads []byte) {
		fuzzScoreBody(t, append(append([]byte(`{"leads":[`), leads...), "]}"...))
	})
}

func FuzzParseInstances(f *testing.F) {
	for _, s := range []string{`[[1,2,3]]`, `[[null,null,null],[4,5,6]]`, `[{"features":[1,2,3]}]`, `[[1,2]]`, `{}`, `[[1,2,3e38]]`, `[[1,2,3.5e38]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, inst []byte) {
		fuzzScoreBody(t, append(append([]byte(`{"instances":`), inst...), '}'))
	})
}

func FuzzParseCSV(f *testing.F) {
	for _, s := range []string{"1,2,3\n", "1,,3\r\n\n4,5,6", " 1 , 2 ,3", "1,2", "1,nan,3", "1,2,inf", "a,b,c", "1e39,1,1", ".5,1.,+2", ",,\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const maxRows = 50
		var b batch
		if e := parseCSV(body, &fuzzSchema, maxRows, &b); e != nil {
			checkFailure(t, e)
			return
		}
		checkParsed(t, &b, maxRows)
		var want []float32
		for _, line := range strings.Split(string(body), "\n") {
			line = strings.TrimSuffix(line, "\r")
			if strings.TrimSpace(line) == "" {
				continue
			}
			for _, field := range strings.Split(line, ",") {
				field = strings.TrimSpace(field)
				if field == "" {
					want = append(want, float32(math.NaN()))
					continue
				}
				v, err := strconv.ParseFloat(field, 64)
				if err == nil && math.IsNaN(v) {
					want = append(want, float32(math.NaN())) // nan is missing
					continue
				}
				if err != nil || math.IsInf(float64(float32(v)), 0) {
					t.Fatalf("accepted field %q", field)
				}
				want = append(want, float32(v))
			}
		}
		if len(want) != len(b.rows) {
			t.Fatalf("%d values, want %d", len(b.rows), len(want))
		}
		for i := range want {
			if !sameFloat32(want[i], b.rows[i]) {
				t.Fatalf("value %d = %v, want %v", i, b.rows[i], want[i])
			}
		}
	})
}

func FuzzParseV2(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}`,
		`{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[[1,2,3],[4,5,null]]}],"parameters":{"k":[{}]}}`,
		`{"inputs":[{"shape":[3],"datatype":"FP64","data":[1,2,3]}],"outputs":[{"name":"tier"}]}`,
		`{"inputs":[{"shape":[1,3],"datatype":"BOOL","data":[true,false,null]}]}`,
		`{"inputs":[{"shape":[1,3],"datatype":"FP16","data":[0.1,NaN,65504]}]}`,
		`{"inputs":[{"shape":[1,3],"datatype":"INT8","data":[1,2,3]}]}`,
		`{"inputs":[{"shape":[2,3],"datatype":"FP32","data":[1,2,3]}]}`,
		`{"inputs":[]}`, `{"inputs":[{"data":[1,[2]]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const maxRows = 50
		var b batch
		var parsed v2Request
		e := parseV2Infer(body, &fuzzSchema, maxRows, &b, &parsed)
		id := parsed.id
		if e != nil {
			checkFailure(t, e)
			return
		}
		checkParsed(t, &b, maxRows)
		body = nanToNull(body)
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if id != nil {
			var s string
			if err := json.Unmarshal(id, &s); err != nil {
				t.Fatalf("id %q: %v", id, err)
			}
		}
		var req struct {
			Inputs []struct {
				Datatype string          `json:"datatype"`
				Data     json.RawMessage `json:"data"`
			} `json:"inputs"`
		}
		if err := json.Unmarshal(body, &req); err != nil || len(req.Inputs) != 1 {
			t.Fatalf("accepted %q, which encoding/json reads differently (%v)", body, err)
		}
		if dt := req.Inputs[0].Datatype; dt != "FP32" && dt != "FP64" {
			return // other datatypes: TestV2Datatypes checks the conversions
		}
		var nested [][]*float64
		var flat []*float64
		var want []*float64
		if json.Unmarshal(req.Inputs[0].Data, &flat) == nil {
			want = flat
		} else if json.Unmarshal(req.Inputs[0].Data, &nested) == nil {
			for _, r := range nested {
				want = append(want, r...)
			}
		} else {
			t.Fatalf("data %s is neither flat nor nested", req.Inputs[0].Data)
		}
		if len(want) != len(b.rows) {
			t.Fatalf("%d values, want %d", len(b.rows), len(want))
		}
		for i, w := range want {
			wv := float32(math.NaN())
			if w != nil {
				wv = float32(*w)
			}
			if !sameFloat32(wv, b.rows[i]) {
				t.Fatalf("value %d = %v, want %v", i, b.rows[i], wv)
			}
		}
	})
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1", "12.5", "1e22", "1e23", "123456789012345", "1234567890123456", "0.000001", "1e-22", "1e-23",
		"9007199254740993", "2.2250738585072014e-308", "1.7976931348623157e308", "1e400", "01", "1.", "-", ".5", "1e", "4.9e-324"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		f, n, ok := parseNumber([]byte(s))
		ln, lok := scanNumber([]byte(s))
		if ok != lok || ok && n != ln {
			t.Fatalf("parseNumber(%q) used %d ok=%v; scanNumber %d ok=%v", s, n, ok, ln, lok)
		}
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s[:n], 64)
		if err != nil && !math.IsInf(want, 0) {
			t.Fatalf("strconv rejects %q: %v", s[:n], err)
		}
		if math.Float64bits(f) != math.Float64bits(want) {
			t.Fatalf("parseNumber(%q) = %v, strconv %v", s[:n], f, want)
		}
		if !json.Valid([]byte(s[:n])) {
			t.Fatalf("%q is not a JSON number", s[:n])
		}
		checkParseNumber(t, s) // inside a row too: the word-at-a-time path
	})
}

// FuzzParseNumberDigits builds numbers from fuzzed parts (an integer part,
// leading zeros, 0-20 fraction digits taken from a 64-bit value, an
// optional exponent) and checks parseNumber, alone and inside a row,
// against strconv and parseNumberCareful, and the row parser's float32
// against float32(strconv.ParseFloat(s, 64)) or its out-of-range 422.
// Byte-level fuzzing rarely makes the 16-20 digit mantissas, halfway
// points and float32 edges this reaches.
func FuzzParseNumberDigits(f *testing.F) {
	f.Add(false, uint64(4), uint8(0), uint64(7699966430664), uint8(15), false, int16(0))
	f.Add(false, uint64(0), uint8(0), uint64(38040000200271606), uint8(17), false, int16(0))
	f.Add(true, uint64(0), uint8(0), uint64(0), uint8(1), false, int16(0))                  // -0.0
	f.Add(false, uint64(1), uint8(0), uint64(596046448), uint8(16), false, int16(0))        // 1.0000000596046448
	f.Add(false, uint64(3), uint8(0), uint64(4028235677973366), uint8(16), true, int16(38)) // float32 max's tie
	f.Add(false, uint64(1), uint8(0), uint64(401298464324817), uint8(15), true, int16(-45)) // smallest subnormal
	f.Add(false, uint64(9007199254740993), uint8(0), uint64(0), uint8(1), false, int16(0))  // float64 tie
	f.Add(false, uint64(0), uint8(30), uint64(12345678901234567890), uint8(20), false, int16(0))
	f.Fuzz(func(t *testing.T, neg bool, ip uint64, lead uint8, frac uint64, fracLen uint8, hasExp bool, exp int16) {
		var sb strings.Builder
		if neg {
			sb.WriteByte('-')
		}
		sb.WriteString(strconv.FormatUint(ip%1e12, 10))
		if fl, lz := int(fracLen%21), int(lead%40); fl > 0 || lz > 0 {
			sb.WriteByte('.')
			sb.WriteString(strings.Repeat("0", lz))
			d := strconv.FormatUint(frac, 10)
			if len(d) > fl {
				d = d[:fl]
			}
			sb.WriteString(strings.Repeat("0", fl-len(d)))
			sb.WriteString(d)
		}
		if hasExp {
			sb.WriteString("e" + strconv.Itoa(int(exp%400)))
		}
		s := sb.String()
		checkParseNumber(t, s)
		want64, err := strconv.ParseFloat(s, 64)
		if err != nil && !math.IsInf(want64, 0) {
			t.Fatalf("built %q, which strconv rejects: %v", s, err)
		}
		want := float32(want64)
		var b batch
		aerr := parseScoreBody([]byte("[["+s+", 1.0, 2.0],["+s+","+s+","+s+"]]"), &fuzzSchema, 10, &b)
		if math.IsInf(float64(want), 0) {
			if aerr == nil || aerr.Code != codeInvalidValue || aerr.Feature != "a" {
				t.Fatalf("%s: %v, want a 422 %s for feature a", s, aerr, codeInvalidValue)
			}
			return
		}
		if aerr != nil {
			t.Fatalf("%s: %v", s, aerr)
		}
		for _, i := range []int{0, 3, 4, 5} {
			if math.Float32bits(b.rows[i]) != math.Float32bits(want) {
				t.Fatalf("%s: value %d = %v, want float32(strconv) %v", s, i, b.rows[i], want)
			}
		}
	})
}
