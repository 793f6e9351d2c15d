// Package report renders a comparison of variants (variant.Report) as a
// self-contained HTML page: no scripts, styles or images from elsewhere,
// so it can be mailed or archived as one file, like `leadscore monitor`'s.
package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"time"

	"github.com/leadscore/leadscore/variant"
)

//go:embed page.html.tmpl
var pageTemplate string

// Meta describes where a report came from.
type Meta struct {
	Lake      string
	From, To  time.Time
	Rows      int64
	Files     int
	Generated time.Time
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"num": func(n variant.Num, digits int) string {
		f := float64(n)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "–"
		}
		return fmt.Sprintf("%.*f", digits, f)
	},
	"pct": func(n variant.Num) string {
		f := float64(n)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "–"
		}
		return fmt.Sprintf("%.1f%%", 100*f)
	},
	"width": func(n variant.Num) string {
		f := float64(n)
		if math.IsNaN(f) || f < 0 {
			f = 0
		}
		return fmt.Sprintf("%.1f", math.Min(f, 1)*100)
	},
	"tier": func(i int) int { return i + 1 },
	"shade": func(c variant.Confusion, i, j int) string {
		var row int64
		for _, v := range c[i] {
			row += v
		}
		if row == 0 {
			return "0"
		}
		return fmt.Sprintf("%.2f", float64(c[i][j])/float64(row))
	},
	"verdictClass": func(v string) string {
		switch v {
		case variant.Better:
			return "better"
		case variant.Worse:
			return "worse"
		}
		return "neutral"
	},
	// ciBar places the AUC difference and its interval on a -0.1..+0.1
	// scale (clamped), as percentages of the bar's width.
	"ciBar": func(a *variant.AUCJSON) map[string]string {
		pos := func(x variant.Num) float64 {
			return math.Max(0, math.Min(100, 50+float64(x)*500))
		}
		lo, hi := pos(a.CI95[0]), pos(a.CI95[1])
		return map[string]string{"left": fmt.Sprintf("%.1f", lo), "width": fmt.Sprintf("%.1f", math.Max(hi-lo, 0.5)),
			"mid": fmt.Sprintf("%.1f", pos(a.Difference))}
	},
}).Parse(pageTemplate))

// Write renders r as an HTML page.
func Write(w io.Writer, r *variant.Report, m Meta) error {
	return page.Execute(w, struct {
		R *variant.Report
		M Meta
	}{r, m})
}
