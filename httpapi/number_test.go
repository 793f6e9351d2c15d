package httpapi

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestPowers128(t *testing.T) {
	// Entries of strconv's own table (internal/strconv/pow10tab.go, there
	// as {high, low}) for a few powers.
	want := map[int][2]uint64{
		0:   {0x0000000000000000, 0x8000000000000000},
		1:   {0x0000000000000000, 0xA000000000000000},
		-1:  {0xCCCCCCCCCCCCCCCC, 0xCCCCCCCCCCCCCCCC},
		28:  {0x4000000000000000, 0x813f3978f8940984},
		40:  {0x5dcfab0800000000, 0xeb194f8e1ae525fd},
		-40: {0x2323ac4b3b3da015, 0x8b61313bbabce2c6},
	}
	for q, w := range want {
		if got := powers128[q-minPow10]; got != w {
			t.Errorf("10^%d: %#x, want %#x", q, got, w)
		}
	}
}

func TestParseNumberMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(s string) {
		t.Helper()
		got, n, ok := parseNumber([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		if !ok || n != len(s) || (err != nil && !math.IsInf(want, 0)) {
			t.Fatalf("parseNumber(%q) = %v, %d, %v (strconv %v)", s, got, n, ok, err)
		}
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseNumber(%q) = %v, strconv %v", s, got, want)
		}
	}
	for _, s := range []string{"0", "-0", "-0.0", "1", "0.1", "0.000001", "123456789012345678", "1234567890123456789",
		"12345678901234567890", "9007199254740993", "9007199254740992", "4.007699966430664", "0.38040000200271606",
		"1e22", "1e23", "1e-22", "1e-23", "1e40", "1e-40", "1e41", "1e-41", "1e308", "1.7976931348623157e308",
		"1e309", "4.9e-324", "2.2250738585072014e-308", "1e-400", "-1e400", "0.1e1", "123.456e-7", "7e0000000000000000000001",
		"0.00000000000000000000000000000000000000000001", "3.4028234663852886e+38", "3.4028235677973366e+38"} {
		check(s)
	}
	for i := 0; i < 300000; i++ {
		var s string
		switch i % 6 {
		case 0: // a float32 printed as float64, as clients send them
			f := float64(math.Float32frombits(rng.Uint32()))
			if math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			s = strconv.FormatFloat(f, 'g', -1, 64)
		case 1:
			s = strconv.FormatFloat(math.Float64frombits(rng.Uint64()), 'e', rng.IntN(20), 64)
		case 2:
			s = strconv.FormatFloat(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(30)-15)), 'f', rng.IntN(20), 64)
		case 3:
			s = strconv.FormatFloat(rng.Float64()*1000, 'g', rng.IntN(19)+1, 64)
		case 4: // 17-19 random digits with a random exponent
			s = strconv.FormatUint(rng.Uint64()%1e19, 10) + "e" + strconv.Itoa(rng.IntN(100)-60)
		case 5:
			s = strconv.FormatFloat(float64(float32(rng.Float64()*100)), 'g', -1, 64)
		}
		if s == "NaN" || s == "+Inf" || s == "-Inf" {
			continue
		}
		check(s)
	}
}

// numberContexts are what can follow a number in a body: parseNumber takes
// its word-at-a-time path only with bytes to spare after the number, so
// each test number is parsed alone and inside a longer row.
var numberContexts = []string{"", "]", ",", " , 1.0]", ", 0.0, 4.007699966430664, 1.0, 2.0, 0.38040000200271606]"}

// checkParseNumber checks parseNumber on s (then each context) against
// parseNumberCareful, bit for bit with the same length and verdict, and,
// when s is a number, against strconv.ParseFloat.
func checkParseNumber(t *testing.T, s string) {
	t.Helper()
	for _, tail := range numberContexts {
		b := []byte(s + tail)
		got, n, ok := parseNumber(b)
		want, wn, wok := parseNumberCareful(b)
		if math.Float64bits(got) != math.Float64bits(want) || n != wn || ok != wok {
			t.Fatalf("parseNumber(%q) = %v, %d, %v; parseNumberCareful %v, %d, %v", b, got, n, ok, want, wn, wok)
		}
		if !ok {
			continue
		}
		sf, err := strconv.ParseFloat(string(b[:n]), 64)
		if err != nil && !math.IsInf(sf, 0) {
			t.Fatalf("parseNumber(%q) accepted %q, strconv: %v", b, b[:n], err)
		}
		if math.Float64bits(got) != math.Float64bits(sf) {
			t.Fatalf("parseNumber(%q) = %v, strconv %v", b, got, sf)
		}
	}
}

func TestParseNumberFastPaths(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "0.0", "-0.0", "0.000", "1.0", "9.0", "70.0", "124.0", "1.00", "1.0e1", "1.0E-1", "2.0e", "01.0", "1.",
		"-", "-.5", ".5", "1e5", "12345678", "1234567.5", "12345678.5", "0.12345678", "0.1234567890123456789",
		"0.12345678901234567890", "0.0000000000000000001", "0.00000000000000000000000012", "1.2345678901234567",
		"12.345678901234567", "123.45678901234567", "1234567890123456789", "12345678901234567890", "9.999999999999999999",
		"4.007699966430664", "45.15330123901367", "0.38040000200271606", "0.09730000048875809", "1.2125999927520752",
		"3.4028234663852886e+38", "3.4028235677973366e+38", "340282346638528859811704183484516925440.0",
		"1.401298464324817e-45", "0.000000000000000000000000000000000000000000001401298464324817",
		"9007199254740993", "9007199254740993.0", "9007199254740992.5", "0.9007199254740993", "1.0000000596046448",
		"2.2250738585072014e-308", "1e-400", "1e400", "1.2.3", "1..0", "1.0.0", "00", "-01", "1x", "1.5x",
		"1e-05", "9.999999747378752e-06", "1.5E+3", "2e0000", "2e00000", "2e9999", "2e10000", "1e-", "1e+", "1E22",
		"1e23", "123456789e-30", "-0e5", "0.0e-0", "1.0e-22", "1.0e-23", "9007199254740993e0", "1e0x", "1.5e+-3",
	} {
		checkParseNumber(t, s)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	for range 100000 {
		// Random digit strings: 0-8 integer digits, 0-22 fraction digits
		// (16-20 significant digits most often), leading zeros, signs.
		s := ""
		if rng.IntN(4) == 0 {
			s = "-"
		}
		if ni := rng.IntN(9); ni == 0 {
			s += "0"
		} else {
			s += string(byte('1'+rng.IntN(9))) + digits(ni-1)
		}
		if rng.IntN(8) != 0 {
			s += "." + strings.Repeat("0", rng.IntN(3)*rng.IntN(8)) + digits(rng.IntN(23))
		}
		if rng.IntN(8) == 0 {
			s += "e" + strconv.Itoa(rng.IntN(90)-45)
		}
		checkParseNumber(t, s)
	}
}

// TestParseRowRounding checks values at the edges of float32 rounding
// through the whole row parser: a value is strconv.ParseFloat(s, 64)
// converted to float32, so a decimal just above a float32 halfway point
// that rounds to the halfway float64 ties to even (1.0000000596046448 is
// 1, not 1.0000001). The expected bits were computed by Python (float(s)
// then numpy.float32), not by the code under test.
func TestParseRowRounding(t *testing.T) {
	sc := schema{names: []string{"x", "y"}, index: map[string]int{"x": 0, "y": 1}}
	for _, c := range []struct {
		in   string
		bits uint32 // want, when ok
		ok   bool
	}{
		{"1.0000000596046448", 0x3f800000, true}, // float64 1+2^-24: a float32 tie, to even
		{"1.0000000596046449", 0x3f800001, true}, // just above the tie
		{"0.50000005960464477539", 0x3f000001, true},
		{"0.5000000298023224", 0x3f000000, true},
		{"0.1", 0x3dcccccd, true},
		{"16777217", 0x4b800000, true}, // 2^24+1: a tie, to even
		{"16777217.0", 0x4b800000, true},
		{"16777219.0", 0x4b800002, true},
		{"-0.0", 0x80000000, true},
		{"-0", 0x80000000, true},
		{"0.0", 0, true},
		{"2.0", 0x40000000, true},
		{"-7.0", 0xc0e00000, true},
		{"3.4028234663852886e+38", 0x7f7fffff, true}, // float32 max
		{"3.4028235677973362e+38", 0x7f7fffff, true}, // just below the tie with 2^128
		{"3.4028235677973366e+38", 0, false},         // the tie: rounds to +Inf, refused
		{"1.401298464324817e-45", 0x1, true},         // the smallest subnormal
		{"0.000000000000000000000000000000000000000000001", 0x1, true},
		{"7.006492321624085e-46", 0x0, true}, // half of it: a tie, to even (0)
		{"7.006492321624087e-46", 0x1, true},
		{"1.1754942106924411e-38", 0x7fffff, true}, // the largest subnormal
		{"1.1754943508222875e-38", 0x800000, true}, // the smallest normal
		{"9007199254740993", 0x5a000000, true},
		{"9007199254740993.0", 0x5a000000, true},
		{"9007199254740995", 0x5a000000, true},
		{"0.30000001192092896", 0x3e99999a, true},
		{"4.007699966430664", 0x40803f14, true},
		{"45.15330123901367", 0x42349cfb, true},
		{"0.38040000200271606", 0x3ec2c3ca, true},
		{"123456789012345678", 0x5bdb4da6, true},
		{"1234567890.1234567891", 0x4e932c06, true},
		{"9.999999747378752e-06", 0x3727c5ac, true}, // Python's repr of a small float32
		{"1e-05", 0x3727c5ac, true},
		{"1.5E+3", 0x44bb8000, true},
		{"1e-45", 0x1, true},
		{"7.0064923e-46", 0x0, true},
		{"1.17549435e-38", 0x800000, true},
		{"3.4028235e38", 0x7f7fffff, true},
		{"3.4028236e38", 0, false},
	} {
		for _, body := range []string{"[[" + c.in + ", 1.0]]", "[[1.0, " + c.in + "]]", "[[" + c.in + ",1.0],[1.0,1.0],[1.0,1.0],[1.0,1.0]]"} {
			var b batch
			err := parseScoreBody([]byte(body), &sc, 10, &b)
			if !c.ok {
				if err == nil || err.Status != 422 || err.Code != codeInvalidValue {
					t.Errorf("%s: %v, want a 422 %s", body, err, codeInvalidValue)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			v := b.rows[0]
			if strings.HasPrefix(body, "[[1.0, ") {
				v = b.rows[1]
			}
			if math.Float32bits(v) != c.bits {
				t.Errorf("%s: %#x (%v), want %#x", body, math.Float32bits(v), v, c.bits)
			}
		}
	}
}
