package xgboost

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// kind is the type of a decoded document value.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray   // mixed array in arr
	kindNumbers // array of numbers (and booleans) in nums
	kindObject
)

// value is a decoded JSON or UBJSON value. Arrays of numbers, which make up
// almost all of a model, are kept as []float64 rather than one value each.
type value struct {
	kind kind
	num  float64
	str  string
	arr  []value
	nums []float64
	obj  []member
}

type member struct {
	key string
	val value
}

// get returns the member named key, or a null value.
func (v *value) get(key string) *value {
	for i := range v.obj {
		if v.obj[i].key == key {
			return &v.obj[i].val
		}
	}
	return &nullValue
}

var nullValue value

// path walks nested objects.
func (v *value) path(keys ...string) *value {
	for _, k := range keys {
		v = v.get(k)
	}
	return v
}

// maxNesting bounds document depth so a hostile file cannot exhaust the
// stack; XGBoost models nest about eight levels deep.
const maxNesting = 64

var errNesting = errors.New("document nested too deeply")

// jsonDecoder parses XGBoost's JSON, which unlike encoding/json's accepts
// the bare NaN, Infinity and -Infinity tokens XGBoost writes.
type jsonDecoder struct {
	data []byte
	pos  int
}

func decodeJSON(data []byte) (value, error) {
	d := &jsonDecoder{data: data}
	v, err := d.value(0)
	if err != nil {
		return value{}, fmt.Errorf("json at byte %d: %w", d.pos, err)
	}
	d.space()
	if d.pos != len(d.data) {
		return value{}, fmt.Errorf("json at byte %d: unexpected data after the document", d.pos)
	}
	return v, nil
}

func (d *jsonDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) (value, error) {
	if depth > maxNesting {
		return value{}, errNesting
	}
	d.space()
	if d.pos >= len(d.data) {
		return value{}, errUnexpectedEnd
	}
	switch d.data[d.pos] {
	case '{':
		return d.object(depth)
	case '[':
		return d.array(depth)
	case '"':
		s, err := d.string()
		return value{kind: kindString, str: s}, err
	case 't', 'f', 'n':
		return d.literal()
	default:
		n, err := d.number()
		return value{kind: kindNumber, num: n}, err
	}
}

var errUnexpectedEnd = errors.New("unexpected end of data")

func (d *jsonDecoder) literal() (value, error) {
	for _, l := range []struct {
		text string
		v    value
	}{
		{"true", value{kind: kindBool, num: 1}},
		{"false", value{kind: kindBool}},
		{"null", value{kind: kindNull}},
	} {
		if len(d.data)-d.pos >= len(l.text) && string(d.data[d.pos:d.pos+len(l.text)]) == l.text {
			d.pos += len(l.text)
			return l.v, nil
		}
	}
	return value{}, fmt.Errorf("invalid literal")
}

// number parses a JSON number or one of NaN, Infinity, -Infinity.
func (d *jsonDecoder) number() (float64, error) {
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' ||
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			d.pos++
			continue
		}
		break
	}
	tok := string(d.data[start:d.pos])
	switch tok {
	case "NaN", "-NaN", "nan", "-nan":
		return math.NaN(), nil
	case "Infinity", "inf":
		return math.Inf(1), nil
	case "-Infinity", "-inf":
		return math.Inf(-1), nil
	case "":
		return 0, fmt.Errorf("unexpected character %q", d.data[start])
	}
	v, err := strconv.ParseFloat(tok, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("invalid number %q", tok)
	}
	return v, nil
}

func (d *jsonDecoder) string() (string, error) {
	start := d.pos
	d.pos++
	escaped := false
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case '\\':
			escaped = true
			d.pos += 2
			continue
		case '"':
			d.pos++
			raw := d.data[start:d.pos]
			if !escaped {
				return string(raw[1 : len(raw)-1]), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", fmt.Errorf("invalid string: %w", err)
			}
			return s, nil
		}
		d.pos++
	}
	return "", errUnexpectedEnd
}

func (d *jsonDecoder) array(depth int) (value, error) {
	d.pos++
	v := value{kind: kindNumbers}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return v, nil
	}
	for {
		e, err := d.value(depth + 1)
		if err != nil {
			return value{}, err
		}
		v.add(e)
		d.space()
		if d.pos >= len(d.data) {
			return value{}, errUnexpectedEnd
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return v, nil
		default:
			return value{}, fmt.Errorf("expected , or ] in array")
		}
	}
}

// add appends e to array v, keeping numbers packed while it can.
func (v *value) add(e value) {
	if v.kind == kindNumbers {
		if e.kind == kindNumber || e.kind == kindBool {
			v.nums = append(v.nums, e.num)
			return
		}
		v.kind = kindArray
		v.arr = make([]value, len(v.nums), len(v.nums)+1)
		for i, n := range v.nums {
			v.arr[i] = value{kind: kindNumber, num: n}
		}
		v.nums = nil
	}
	v.arr = append(v.arr, e)
}

func (d *jsonDecoder) object(depth int) (value, error) {
	d.pos++
	v := value{kind: kindObject}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return v, nil
	}
	for {
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return value{}, fmt.Errorf("expected a member name")
		}
		key, err := d.string()
		if err != nil {
			return value{}, err
		}
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return value{}, fmt.Errorf("expected : after %q", key)
		}
		d.pos++
		e, err := d.value(depth + 1)
		if err != nil {
			return value{}, err
		}
		v.obj = append(v.obj, member{key, e})
		d.space()
		if d.pos >= len(d.data) {
			return value{}, errUnexpectedEnd
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return v, nil
		default:
			return value{}, fmt.Errorf("expected , or } in object")
		}
	}
}

// ubjDecoder parses Universal Binary JSON (big-endian) as XGBoost writes
// it, including strongly typed, counted arrays.
type ubjDecoder struct {
	data []byte
	pos  int
}

func decodeUBJSON(data []byte) (value, error) {
	d := &ubjDecoder{data: data}
	v, err := d.value(0)
	if err != nil {
		return value{}, fmt.Errorf("ubjson at byte %d: %w", d.pos, err)
	}
	return v, nil
}

func (d *ubjDecoder) need(n int) ([]byte, error) {
	if n < 0 || len(d.data)-d.pos < n {
		return nil, errUnexpectedEnd
	}
	b := d.data[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *ubjDecoder) marker() (byte, error) {
	for {
		b, err := d.need(1)
		if err != nil {
			return 0, err
		}
		if b[0] != 'N' { // no-op
			return b[0], nil
		}
	}
}

func (d *ubjDecoder) value(depth int) (value, error) {
	m, err := d.marker()
	if err != nil {
		return value{}, err
	}
	return d.typed(m, depth)
}

// typed decodes a value whose type marker m was already read.
func (d *ubjDecoder) typed(m byte, depth int) (value, error) {
	if depth > maxNesting {
		return value{}, errNesting
	}
	switch m {
	case 'Z':
		return value{kind: kindNull}, nil
	case 'T':
		return value{kind: kindBool, num: 1}, nil
	case 'F':
		return value{kind: kindBool}, nil
	case 'S', 'H':
		s, err := d.str()
		if err != nil {
			return value{}, err
		}
		if m == 'H' {
			n, err := strconv.ParseFloat(s, 64)
			return value{kind: kindNumber, num: n}, err
		}
		return value{kind: kindString, str: s}, nil
	case 'C':
		b, err := d.need(1)
		if err != nil {
			return value{}, err
		}
		return value{kind: kindString, str: string(b)}, nil
	case '[':
		return d.array(depth)
	case '{':
		return d.object(depth)
	}
	n, err := d.num(m)
	return value{kind: kindNumber, num: n}, err
}

// num decodes a number of type m.
func (d *ubjDecoder) num(m byte) (float64, error) {
	var size int
	switch m {
	case 'i', 'U':
		size = 1
	case 'I':
		size = 2
	case 'l', 'd':
		size = 4
	case 'L', 'D':
		size = 8
	default:
		return 0, fmt.Errorf("unknown type marker %q", m)
	}
	b, err := d.need(size)
	if err != nil {
		return 0, err
	}
	switch m {
	case 'i':
		return float64(int8(b[0])), nil
	case 'U':
		return float64(b[0]), nil
	case 'I':
		return float64(int16(binary.BigEndian.Uint16(b))), nil
	case 'l':
		return float64(int32(binary.BigEndian.Uint32(b))), nil
	case 'L':
		return float64(int64(binary.BigEndian.Uint64(b))), nil
	case 'd':
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
	default:
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	}
}

// count reads a length: an integer value with its own type marker.
func (d *ubjDecoder) count() (int, error) {
	m, err := d.marker()
	if err != nil {
		return 0, err
	}
	switch m {
	case 'i', 'U', 'I', 'l', 'L':
	default:
		return 0, fmt.Errorf("length has type %q, want an integer", m)
	}
	n, err := d.num(m)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > float64(len(d.data)) {
		return 0, fmt.Errorf("length %v exceeds the data", n)
	}
	return int(n), nil
}

func (d *ubjDecoder) str() (string, error) {
	n, err := d.count()
	if err != nil {
		return "", err
	}
	b, err := d.need(n)
	return string(b), err
}

// container reads the optional $type and #count of an array or object.
func (d *ubjDecoder) container() (typ byte, n int, err error) {
	n = -1
	if d.pos < len(d.data) && d.data[d.pos] == '$' {
		d.pos++
		b, err := d.need(1)
		if err != nil {
			return 0, 0, err
		}
		typ = b[0]
		if d.pos >= len(d.data) || d.data[d.pos] != '#' {
			return 0, 0, errors.New("typed container without a count")
		}
	}
	if d.pos < len(d.data) && d.data[d.pos] == '#' {
		d.pos++
		if n, err = d.count(); err != nil {
			return 0, 0, err
		}
	}
	return typ, n, nil
}

// elemSize is the smallest encoding of one element of type typ, used to
// reject counts that cannot fit in the remaining data before allocating.
func elemSize(typ byte) int {
	switch typ {
	case 'I':
		return 2
	case 'l', 'd':
		return 4
	case 'L', 'D':
		return 8
	case 'Z', 'T', 'F', 'N':
		return 0
	}
	return 1
}

func (d *ubjDecoder) array(depth int) (value, error) {
	typ, n, err := d.container()
	if err != nil {
		return value{}, err
	}
	v := value{kind: kindNumbers}
	if n >= 0 {
		if sz := elemSize(typ); sz == 0 && n > 1<<20 || n*sz > len(d.data)-d.pos {
			return value{}, fmt.Errorf("array of %d elements exceeds the data", n)
		}
		if typ != 0 {
			switch typ {
			case 'i', 'U', 'I', 'l', 'L', 'd', 'D':
				v.nums = make([]float64, n)
				for i := range v.nums {
					if v.nums[i], err = d.num(typ); err != nil {
						return value{}, err
					}
				}
				return v, nil
			}
		}
		for i := 0; i < n; i++ {
			var e value
			if typ != 0 {
				e, err = d.typed(typ, depth+1)
			} else {
				e, err = d.value(depth + 1)
			}
			if err != nil {
				return value{}, err
			}
			v.add(e)
		}
		return v, nil
	}
	for {
		m, err := d.marker()
		if err != nil {
			return value{}, err
		}
		if m == ']' {
			return v, nil
		}
		e, err := d.typed(m, depth+1)
		if err != nil {
			return value{}, err
		}
		v.add(e)
	}
}

func (d *ubjDecoder) object(depth int) (value, error) {
	typ, n, err := d.container()
	if err != nil {
		return value{}, err
	}
	v := value{kind: kindObject}
	for i := 0; n < 0 || i < n; i++ {
		if n < 0 {
			if d.pos < len(d.data) && d.data[d.pos] == '}' {
				d.pos++
				return v, nil
			}
		}
		key, err := d.str()
		if err != nil {
			return value{}, err
		}
		var e value
		if typ != 0 {
			e, err = d.typed(typ, depth+1)
		} else {
			e, err = d.value(depth + 1)
		}
		if err != nil {
			return value{}, err
		}
		v.obj = append(v.obj, member{key, e})
	}
	return v, nil
}
