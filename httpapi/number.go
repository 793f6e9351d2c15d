package httpapi

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// Number parsing is the hot loop of every request (50 numbers a lead), so
// parseNumber converts the common cases itself and leaves only the rare
// ones to strconv.ParseFloat. Every result is bit-for-bit what
// strconv.ParseFloat(s, 64) returns (FuzzParseNumber and
// FuzzParseNumberDigits check this):
//
//   - up to 19 significant digits and an exponent of at most four digits
//     (what clients send): the fraction read eight and four digits at a
//     time (parseNumber), then, for a power of ten up to 22, one exact
//     IEEE multiply or divide when the mantissa is at most 2^53 (Clinger's
//     fast path, as strconv's own), else for a power of ten in [-40, 40]
//     the Eisel-Lemire algorithm, as in strconv, over a small table;
//   - longer mantissas or exponents: the same conversions after a
//     digit-at-a-time scan (parseNumberCareful);
//   - anything else, or the rare case Eisel-Lemire cannot decide: strconv.
//
// Eisel-Lemire matters: float32 values printed as float64 (what most
// clients send, e.g. 0.38040000200271606) have 16 or 17 digits.
//
// Why not just strconv.ParseFloat: BenchmarkParseNumber measures the three
// on the demo leads' values (December 2026, 2 shared cores at load 7-9,
// medians of 3 alternated runs, CPU time): 10.2 ns a number for
// float32-as-float64 values against 12.0 for parseNumberCareful alone and
// 32.3 for strconv, 8.8 against 10.4 and 32.7 for 4-decimal values. In a
// body, with the row parser's shortcut for "1.0" (fastRow),
// BenchmarkParseRows100 gives 6.5 CPU ns a number, 13.5 before these
// changes. docs/architecture.md has the commands.

// pow10 holds the powers of ten exactly representable as float64.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// Powers of ten covered by the Eisel-Lemire table.
const (
	minPow10 = -40
	maxPow10 = 40
)

// powers128[q-minPow10] is 10^q's 128-bit mantissa, normalized so its top
// bit is set and rounded down, as {low, high} 64-bit halves.
var powers128 = makePowers128()

func makePowers128() (t [maxPow10 - minPow10 + 1][2]uint64) {
	mask := new(big.Int).SetUint64(math.MaxUint64)
	for q := minPow10; q <= maxPow10; q++ {
		five := new(big.Int).Exp(big.NewInt(5), big.NewInt(int64(abs(q))), nil)
		n := five.BitLen()
		m := new(big.Int)
		if q >= 0 {
			// 10^q = 5^q * 2^q: the mantissa is 5^q's, shifted to 128 bits.
			if n <= 128 {
				m.Lsh(five, uint(128-n))
			} else {
				m.Rsh(five, uint(n-128))
			}
		} else {
			// floor(2^(127+n) / 5^-q) lies in [2^127, 2^128).
			m.Lsh(big.NewInt(1), uint(127+n))
			m.Quo(m, five)
		}
		t[q-minPow10][0] = new(big.Int).And(m, mask).Uint64()
		t[q-minPow10][1] = new(big.Int).Rsh(m, 64).Uint64()
	}
	return t
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// parseNumberCareful is parseNumber's digit-at-a-time path: it takes any
// number, at any length, and every input parseNumber's fast scan declines
// (more than 19 significant digits, bad syntax, the end of the buffer
// inside a number). Its results, including n on failure, which error
// messages use as a byte offset, are parseNumber's contract.
func parseNumberCareful(b []byte) (f float64, n int, ok bool) {
	i := 0
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	var mant uint64
	digits := 0 // significant digits in mant
	exp := 0
	exact := true // every significant digit fitted in mant
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if digits < 19 {
				mant = mant*10 + uint64(b[i]-'0')
				digits++
			} else {
				exact = false
				exp++
			}
		}
	default:
		return 0, i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			c := b[i] - '0'
			switch {
			case mant == 0 && c == 0:
				exp-- // a leading zero: not a significant digit
			case digits < 19:
				mant = mant*10 + uint64(c)
				digits++
				exp--
			default:
				exact = false
			}
		}
		if i == d {
			return 0, i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		d := i
		e := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if e < 100000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if i == d {
			return 0, i, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if exact {
		if mant == 0 {
			if neg {
				return math.Copysign(0, -1), i, true
			}
			return 0, i, true
		}
		for exp < 0 && mant%10 == 0 {
			mant /= 10 // "70.0" is 70: no division below
			exp++
		}
		if mant <= 1<<53 && exp >= -22 && exp <= 22 {
			// mant and 10^|exp| are exact, so one operation rounds
			// correctly.
			f = float64(mant)
			if exp >= 0 {
				f *= pow10[exp]
			} else {
				f /= pow10[-exp]
			}
			if neg {
				f = -f
			}
			return f, i, true
		}
		if f, ok := eiselLemire64(mant, exp, neg); ok {
			return f, i, true
		}
	}
	f, err := strconv.ParseFloat(string(b[:i]), 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, i, false // unreachable: b[:i] is valid number syntax
	}
	return f, i, true
}

// eiselLemire64 returns man * 10^exp10 correctly rounded, or ok=false when
// it cannot tell (then strconv decides). It is strconv's algorithm (Daniel
// Lemire, "Number Parsing at a Gigabyte per Second", 2021) over the small
// table above; man is not zero.
func eiselLemire64(man uint64, exp10 int, neg bool) (f float64, ok bool) {
	if exp10 < minPow10 || exp10 > maxPow10 {
		return 0, false
	}
	pow := &powers128[exp10-minPow10]
	// Normalization.
	clz := bits.LeadingZeros64(man)
	man <<= uint(clz)
	const float64ExponentBias = 1023
	// 217706*exp10>>16 is floor(exp10 * log2(10)); with exp10 in
	// [-40, 40] the sum is positive, so the conversion is exact.
	retExp2 := uint64(217706*exp10>>16+64+float64ExponentBias) - uint64(clz) //nolint:gosec // G115: positive, see above
	// Multiplication.
	xHi, xLo := bits.Mul64(man, pow[1])
	// Wider approximation.
	if xHi&0x1FF == 0x1FF && xLo+man < man {
		yHi, yLo := bits.Mul64(man, pow[0])
		mergedHi, mergedLo := xHi, xLo+yHi
		if mergedLo < xLo {
			mergedHi++
		}
		if mergedHi&0x1FF == 0x1FF && mergedLo+1 == 0 && yLo+man < man {
			return 0, false
		}
		xHi, xLo = mergedHi, mergedLo
	}
	// Shifting to 54 bits.
	msb := xHi >> 63
	retMantissa := xHi >> (msb + 9)
	retExp2 -= 1 ^ msb
	// Half-way ambiguity.
	if xLo == 0 && xHi&0x1FF == 0 && retMantissa&3 == 1 {
		return 0, false
	}
	// From 54 to 53 bits.
	retMantissa += retMantissa & 1
	retMantissa >>= 1
	if retMantissa>>53 > 0 {
		retMantissa >>= 1
		retExp2++
	}
	// Subnormal, infinite or NaN results are left to strconv.
	if retExp2-1 >= 0x7FF-1 {
		return 0, false
	}
	retBits := retExp2<<52 | retMantissa&(1<<52-1)
	if neg {
		retBits |= 1 << 63
	}
	return math.Float64frombits(retBits), true
}

// parseNumber parses the JSON number at the start of b into a float64 and
// returns how many bytes it used; ok is false when b does not start with a
// valid JSON number. Overflow yields ±Inf, underflow ±0.
//
// It takes the numbers clients send (at most 19 significant digits, an
// exponent of at most four digits) in one pass: the integer part a digit
// at a time (it is short), the fraction eight and four digits at a time
// while they last (SWAR: nonDigits8, parseEight; float32 values printed as
// float64 have 15-17 fraction digits), without the per-digit bookkeeping
// of parseNumberCareful. Everything else (longer mantissas or exponents,
// syntax errors) goes to parseNumberCareful, whose results, including n on
// failure (error messages use it as a byte offset), are the contract:
// TestParseNumberFastPaths, FuzzParseNumber and FuzzParseNumberDigits
// check the two against each other and against strconv.
func parseNumber(b []byte) (f float64, n int, ok bool) {
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		i = 1
	}
	var mant uint64
	start := i // first significant digit
	switch {
	case i < len(b) && b[i] == '0':
		i++
		start = i
	case i < len(b) && b[i]-'1' < 9:
		for ; i < len(b) && b[i]-'0' < 10; i++ {
			mant = mant*10 + uint64(b[i]-'0')
		}
	default:
		return parseNumberCareful(b)
	}
	nd := i - start // significant digits so far
	exp := 0
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		if mant == 0 {
			for i < len(b) && b[i] == '0' {
				i++ // leading zeros: not significant
			}
		}
		f := i
		// Eight, then four digits at a time (SWAR) while they last:
		// float32 values printed as float64 have 15-17 fraction digits.
		for len(b)-i >= 8 {
			v := binary.LittleEndian.Uint64(b[i:])
			if nonDigits8(v) != 0 {
				break
			}
			mant = mant*1e8 + parseEight(v)
			i += 8
		}
		if len(b)-i >= 4 {
			if v := binary.LittleEndian.Uint32(b[i:]); nonDigits4(v) == 0 {
				mant = mant*1e4 + parseFour(v)
				i += 4
			}
		}
		for ; i < len(b) && b[i]-'0' < 10; i++ {
			mant = mant*10 + uint64(b[i]-'0')
		}
		if i == d {
			return parseNumberCareful(b) // "1."
		}
		nd += i - f
		exp = d - i
	}
	if nd > 19 {
		return parseNumberCareful(b) // mant overflowed
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		// An exponent of up to four digits (Python writes 1e-05 and
		// 9.999999747378752e-06); longer ones, rare and perhaps hostile,
		// are the careful parser's.
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		d, e := i, 0
		for ; i < len(b) && b[i]-'0' < 10 && i-d < 4; i++ {
			e = e*10 + int(b[i]-'0')
		}
		if i == d || i < len(b) && b[i]-'0' < 10 {
			return parseNumberCareful(b)
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	// The same ending as parseNumberCareful's, written out again: as a
	// shared function (not inlined: cost 152) it made BenchmarkParseNumber
	// 1.1 ns a number slower (9.4 -> 10.5 CPU ns) and BenchmarkParseRows100
	// 6.1 -> 6.8 (3 alternated runs each, load 0.6, 2026-12-07).
	if mant == 0 {
		if neg {
			return math.Copysign(0, -1), i, true
		}
		return 0, i, true
	}
	if mant <= 1<<53 && exp >= -22 && exp <= 22 {
		// mant and 10^|exp| are exact, so one operation rounds correctly.
		f = float64(mant)
		if exp >= 0 {
			f *= pow10[exp]
		} else {
			f /= pow10[-exp]
		}
		if neg {
			f = -f
		}
		return f, i, true
	}
	if f, ok := eiselLemire64(mant, exp, neg); ok {
		return f, i, true
	}
	return parseNumberCareful(b)
}

// nonDigits8 is zero when the eight bytes of v are all ASCII digits: a
// byte c is not one when c+0x46 or c-0x30 sets its top bit (the carry or
// borrow of a non-digit byte can only flag more bytes, never hide one).
func nonDigits8(v uint64) uint64 {
	return ((v + 0x4646464646464646) | (v - 0x3030303030303030)) & 0x8080808080808080
}

// nonDigits4 is nonDigits8 for four bytes.
func nonDigits4(v uint32) uint32 {
	return ((v + 0x46464646) | (v - 0x30303030)) & 0x80808080
}

// parseEight returns the value of the eight ASCII digits in v, the first
// in the lowest byte (Lemire's three-multiply SWAR conversion, as in
// fast_float's parse_eight_digits_unrolled).
func parseEight(v uint64) uint64 {
	const mask = 0x000000FF000000FF
	const mul1 = 100 + 1000000<<32
	const mul2 = 1 + 10000<<32
	v -= 0x3030303030303030
	v = v*10 + v>>8 // pairs of digits in bytes 0, 2, 4, 6
	return ((v&mask)*mul1 + (v>>16&mask)*mul2) >> 32
}

// parseFour returns the value of the four ASCII digits in v, the first in
// the lowest byte.
func parseFour(v uint32) uint64 {
	v -= 0x30303030
	v = v*10 + v>>8 // pairs of digits in bytes 0 and 2
	return uint64(v&0xFF)*100 + uint64(v>>16&0xFF)
}
