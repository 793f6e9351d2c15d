package httpapi

import (
	"encoding/json"
	"net/http"
	"unicode/utf8"
)

// scanner walks a JSON document held in memory. It is the hand-written
// reader behind every request parser: it validates as it goes, never
// allocates on the success path, and reports where the document went wrong.
type scanner struct {
	b []byte
	i int
}

// maxDepth bounds nesting in values the parsers skip, so a hostile body
// cannot exhaust the stack.
const maxDepth = 64

func (s *scanner) skipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.skipWS()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// syntax reports malformed JSON at the current offset.
func (s *scanner) syntax(want string) *apiError {
	if s.i >= len(s.b) {
		return newError(http.StatusBadRequest, codeBadJSON, "invalid JSON: unexpected end of body, want %s", want)
	}
	return newError(http.StatusBadRequest, codeBadJSON, "invalid JSON at byte %d: want %s", s.i, want)
}

// expect consumes c (after white space) or fails.
func (s *scanner) expect(c byte, want string) *apiError {
	if s.peek() != c {
		return s.syntax(want)
	}
	s.i++
	return nil
}

// end checks that only white space remains.
func (s *scanner) end() *apiError {
	if s.peek() != 0 || s.i < len(s.b) {
		return s.syntax("end of body")
	}
	return nil
}

// literal consumes the keyword lit (null, true, false) at s.i.
func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// str scans the string starting at s.i (a '"') and returns its bytes
// without the quotes, and whether it contains escapes. The contents are
// checked: control characters, bad escapes and invalid UTF-8 are errors.
func (s *scanner) str() (raw []byte, escaped bool, err *apiError) {
	start := s.i + 1
	high := false
	for i := start; i < len(s.b); i++ {
		c := s.b[i]
		switch {
		case c == '"':
			s.i = i + 1
			raw = s.b[start:i]
			if high && !utf8.Valid(raw) {
				return nil, false, newError(http.StatusBadRequest, codeBadJSON, "invalid JSON at byte %d: string is not valid UTF-8", start-1)
			}
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(s.b) {
				s.i = i + 1
				return nil, false, s.syntax("escape sequence")
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 >= len(s.b) || !isHex(s.b[i+2]) || !isHex(s.b[i+3]) || !isHex(s.b[i+4]) || !isHex(s.b[i+5]) {
					s.i = i
					return nil, false, s.syntax(`\u followed by four hex digits`)
				}
				i += 5
			default:
				s.i = i
				return nil, false, s.syntax("a valid escape sequence")
			}
		case c < 0x20:
			s.i = i
			return nil, false, s.syntax("no control characters in strings")
		case c >= 0x80:
			high = true
		}
	}
	s.i = len(s.b)
	return nil, false, s.syntax(`closing '"'`)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unescape returns the value of a JSON string's contents that contain
// escapes. It is the rare path and may allocate.
func unescape(raw []byte) string {
	q := make([]byte, 0, len(raw)+2)
	q = append(q, '"')
	q = append(q, raw...)
	q = append(q, '"')
	var out string
	if err := json.Unmarshal(q, &out); err != nil {
		return string(raw) // unreachable: str already validated raw
	}
	return out
}

// key reads an object key and the ':' after it.
func (s *scanner) key() (raw []byte, escaped bool, err *apiError) {
	if s.peek() != '"' {
		return nil, false, s.syntax("an object key")
	}
	raw, escaped, err = s.str()
	if err != nil {
		return nil, false, err
	}
	if err := s.expect(':', "':' after an object key"); err != nil {
		return nil, false, err
	}
	return raw, escaped, nil
}

// keyIs reports whether a key read by key equals name.
func keyIs(raw []byte, escaped bool, name string) bool {
	if escaped {
		return unescape(raw) == name
	}
	return string(raw) == name
}

// keyString returns a key read by key as a string.
func keyString(raw []byte, escaped bool) string {
	if escaped {
		return unescape(raw)
	}
	return string(raw)
}

// next consumes ',' (reporting more) or the closing byte (reporting done)
// after an element of an array or object.
func (s *scanner) next(closing byte, want string) (more bool, err *apiError) {
	switch s.peek() {
	case ',':
		s.i++
		return true, nil
	case closing:
		s.i++
		return false, nil
	}
	return false, s.syntax(want)
}

// skip consumes one JSON value of any kind, validating it.
func (s *scanner) skip(depth int) *apiError {
	if depth > maxDepth {
		return newError(http.StatusBadRequest, codeBadJSON, "invalid JSON at byte %d: nested deeper than %d", s.i, maxDepth)
	}
	switch c := s.peek(); {
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		n, ok := scanNumber(s.b[s.i:])
		if !ok {
			return s.syntax("a number")
		}
		s.i += n
		return nil
	case c == 'n':
		if s.literal("null") {
			return nil
		}
	case c == 'N':
		if s.literal("NaN") { // Python's and pandas' missing value
			return nil
		}
	case c == 't':
		if s.literal("true") {
			return nil
		}
	case c == 'f':
		if s.literal("false") {
			return nil
		}
	case c == '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			more, err := s.next(']', "',' or ']' in an array")
			if err != nil || !more {
				return err
			}
		}
	case c == '{':
		s.i++
		if s.peek() == '}' {
			s.i++
			return nil
		}
		for {
			if _, _, err := s.key(); err != nil {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			more, err := s.next('}', "',' or '}' in an object")
			if err != nil || !more {
				return err
			}
		}
	}
	return s.syntax("a JSON value")
}

// scanNumber returns the length of the JSON number at the start of b, and
// false when b does not start with one.
func scanNumber(b []byte) (int, bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return i, false
		}
	}
	return i, true
}
