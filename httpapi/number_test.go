package httpapi

import (
	"math"
	"math/rand/v2"
	"strconv"
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
