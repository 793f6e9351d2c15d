package httpapi

import (
	"strconv"
	"strings"
	"testing"

	"github.com/leadscore/leadscore/internal/cputime"
)

// benchNumbers are realistic feature values as JSON numbers: the demo
// leads' values (float32 values printed as float64, what most clients
// send: 16-17 significant digits, and small integers written 1.0), and the
// same values rounded to 4 decimals (what a client that formats its own
// numbers sends). Each is a slice of a row from the number to the row's
// end, as the parser sees numbers inside a request body.
func benchNumbers() (long, short [][]byte) {
	suffixes := func(row string) (vals [][]byte) {
		b := []byte(row)
		for i := 1; i < len(b); i++ {
			if c := b[i-1]; (c == '[' || c == ' ') && (b[i] == '-' || b[i] >= '0' && b[i] <= '9') {
				vals = append(vals, b[i:])
			}
		}
		return vals
	}
	for _, row := range demoRows {
		long = append(long, suffixes(row)...)
		var sb strings.Builder
		sb.WriteByte('[')
		for f := range strings.SplitSeq(strings.Trim(row, "[]"), ",") {
			f = strings.TrimSpace(f)
			if f == "null" {
				continue
			}
			if sb.Len() > 1 {
				sb.WriteString(", ")
			}
			v, _ := strconv.ParseFloat(f, 64)
			sb.WriteString(strconv.FormatFloat(v, 'f', 4, 64))
		}
		sb.WriteByte(']')
		short = append(short, suffixes(sb.String())...)
	}
	return long, short
}

// scanNumberLen is the length of the JSON number at the start of b, the
// syntax scan a strconv-based parser needs before calling ParseFloat.
func scanNumberLen(b []byte) int {
	i := 0
	for i < len(b) {
		switch c := b[i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			i++
		default:
			return i
		}
	}
	return i
}

// parseNumberStrconv is the alternative to parseNumber: scan, then
// strconv.ParseFloat.
func parseNumberStrconv(b []byte) (float64, int, bool) {
	n := scanNumberLen(b)
	f, err := strconv.ParseFloat(string(b[:n]), 64)
	return f, n, err == nil
}

var sinkFloat float64

// BenchmarkParseNumber compares parseNumber ("ours") with
// parseNumberCareful (its digit-at-a-time fallback, the parser before
// December 2026's SWAR fraction) and strconv.ParseFloat (after the same
// syntax scan) on realistic feature values; ns/op is per number. The row
// parser's own shortcuts ("1.0") are not in it: BenchmarkParseRows100 is
// the figure per number of a body.
// Run: go test ./httpapi -run '^$' -bench ParseNumber -count 5
func BenchmarkParseNumber(b *testing.B) {
	long, short := benchNumbers()
	for _, set := range []struct {
		name string
		vals [][]byte
	}{{"float32-as-float64", long}, {"4-decimals", short}} {
		for _, p := range []struct {
			name  string
			parse func([]byte) (float64, int, bool)
		}{{"ours", parseNumber}, {"careful", parseNumberCareful}, {"strconv", parseNumberStrconv}} {
			b.Run(set.name+"/"+p.name, func(b *testing.B) {
				for i := range set.vals {
					want, _ := strconv.ParseFloat(string(set.vals[i][:scanNumberLen(set.vals[i])]), 64)
					if got, _, ok := p.parse(set.vals[i]); !ok || got != want {
						b.Fatalf("%s: %v, want %v", set.vals[i], got, want)
					}
				}
				var s float64
				i := 0
				c0 := cputime.Process()
				for b.Loop() {
					f, _, _ := p.parse(set.vals[i])
					s += f
					i++
					if i == len(set.vals) {
						i = 0
					}
				}
				b.ReportMetric(float64((cputime.Process()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
				sinkFloat = s
			})
		}
	}
}
