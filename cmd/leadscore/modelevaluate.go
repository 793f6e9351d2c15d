package main

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"text/tabwriter"

	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/evaluation"
	"github.com/leadscore/leadscore/forest"
	"github.com/leadscore/leadscore/registry"
)

const evaluateUsage = `Usage: leadscore model evaluate --candidate BUNDLE --against BUNDLE|registry:ROOT#NAME@STAGE --data FILE [flags]

Scores the labelled leads of --data with the candidate and the current model
and compares them: AUC, log loss, precision and recall at each tier cut-off,
conversion and lift per tier, calibration (expected calibration error and a
reliability table), and tier stability (the share of leads whose tier
changes). Prints a table (or --json) and writes an HTML report with --html.

The gate before 'model promote': the exit status is 3 when the candidate's
AUC is lower than the current model's by more than --max-regression.
Without --against the candidate is only measured.
`

// evaluateJSON is what `model evaluate --json` prints.
type evaluateJSON struct {
	Data      string              `json:"data"`
	Candidate evaluation.Report   `json:"candidate"`
	Current   *evaluation.Report  `json:"current,omitempty"`
	Verdict   *evaluation.Verdict `json:"verdict,omitempty"`
}

func runModelEvaluate(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("model evaluate", evaluateUsage, stdout, stderr)
	var rf registryFlags
	rf.add(fs.FlagSet)
	candidate := fs.String("candidate", "", "candidate bundle `directory` (required)")
	against := fs.String("against", "", "current model: a bundle `directory` or registry:ROOT#NAME@STAGE")
	data := fs.String("data", "", "labelled data `file`: CSV with a header or Parquet (required)")
	format := fs.String("format", "", "data format: csv or parquet (default: from the file extension)")
	label := fs.String("label", "converted", "label `column` (1 converted, 0 not, empty unknown), or a 0-based index for CSV without a header")
	maxReg := fs.Float64("max-regression", 0.01, "largest drop in AUC (absolute, e.g. 0.01) the candidate may have")
	htmlOut := fs.String("html", "", "write an HTML report to this `file`")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *candidate == "" || *data == "" {
		return fmt.Errorf("%w: leadscore model evaluate needs --candidate BUNDLE and --data FILE", errUsage)
	}
	if *label == "" {
		return fmt.Errorf("%w: model evaluate needs a --label column", errUsage)
	}
	if !(*maxReg >= 0) {
		return fmt.Errorf("%w: --max-regression must not be negative", errUsage)
	}
	cand, err := bundle.Load(*candidate)
	if err != nil {
		return fmt.Errorf("%w: candidate: %v", errInput, err)
	}
	candProbs, labels, rows, err := scoreLabelled(cand.Forest(), *data, *format, *label)
	if err != nil {
		return err
	}
	cm := cand.Manifest()
	res := evaluateJSON{Data: *data, Candidate: evaluation.Evaluate(cm.Name, cm.Version, candProbs, labels, cm.Tiers)}
	if *against != "" {
		dir := *against
		if registry.IsRef(dir) {
			ctx, stop := commandContext()
			defer stop()
			o, err := rf.options()
			if err != nil {
				return err
			}
			if dir, _, err = registry.Resolve(ctx, dir, o); err != nil {
				return fmt.Errorf("--against %s: %w", *against, err)
			}
		}
		cur, err := bundle.Load(dir)
		if err != nil {
			return fmt.Errorf("%w: --against: %v", errInput, err)
		}
		curProbs, curLabels, curRows, err := scoreLabelled(cur.Forest(), *data, *format, *label)
		if err != nil {
			return err
		}
		if curRows != rows || len(curLabels) != len(labels) {
			return fmt.Errorf("%w: the two models read %d and %d rows of %s", errInput, rows, curRows, *data)
		}
		um := cur.Manifest()
		report := evaluation.Evaluate(um.Name, um.Version, curProbs, labels, um.Tiers)
		v := evaluation.Compare(res.Candidate, report, evaluation.TierStability(candProbs, cm.Tiers, curProbs, um.Tiers), *maxReg)
		res.Current, res.Verdict = &report, &v
	}
	if *htmlOut != "" {
		view := struct {
			evaluateJSON
			Reports []evaluation.Report
		}{res, []evaluation.Report{res.Candidate}}
		if res.Current != nil {
			view.Reports = append(view.Reports, *res.Current)
		}
		if err := writeFileAtomic(*htmlOut, func(w io.Writer) error { return evaluateHTML.Execute(w, view) }); err != nil {
			return err
		}
	}
	if *asJSON {
		err = writeJSON(stdout, sanitize(res))
	} else {
		err = printEvaluation(stdout, res)
	}
	if err != nil {
		return err
	}
	if res.Verdict != nil && !res.Verdict.Pass {
		return fmt.Errorf("%w: %s", errCheck, res.Verdict.Reason)
	}
	return nil
}

// scoreLabelled reads the labelled data for a model and scores it.
func scoreLabelled(f *forest.Forest, data, format, label string) ([]float32, []float64, int, error) {
	ld, err := readLabelled(data, format, label, f)
	if err != nil {
		return nil, nil, 0, err
	}
	probs := make([]float32, ld.table.Rows)
	if err := f.Predict(ld.table.Values, probs); err != nil {
		return nil, nil, 0, fmt.Errorf("score %s: %w", data, err)
	}
	return probs, ld.labels, ld.table.Rows, nil
}

// sanitize turns NaN figures (AUC of one class) into JSON-safe zeros.
func sanitize(r evaluateJSON) evaluateJSON {
	fix := func(rep *evaluation.Report) {
		if math.IsNaN(rep.AUC) {
			rep.AUC = 0
		}
		if math.IsNaN(rep.LogLoss) {
			rep.LogLoss = 0
		}
	}
	fix(&r.Candidate)
	if r.Current != nil {
		c := *r.Current
		fix(&c)
		r.Current = &c
	}
	if r.Verdict != nil {
		v := *r.Verdict
		for _, p := range []*float64{&v.AUCChange, &v.LogLossChange, &v.TierChanged} {
			if math.IsNaN(*p) {
				*p = 0
			}
		}
		r.Verdict = &v
	}
	return r
}

func printEvaluation(w io.Writer, res evaluateJSON) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	reports := []evaluation.Report{res.Candidate}
	head := "\tcandidate " + res.Candidate.Model + " " + res.Candidate.Version
	if res.Current != nil {
		reports = append(reports, *res.Current)
		head += "\tcurrent " + res.Current.Model + " " + res.Current.Version
	}
	_, _ = fmt.Fprintf(tw, "%d rows of %s, %d labelled, %d converted (%.1f%%)\n", res.Candidate.Rows, res.Data,
		res.Candidate.Labelled, res.Candidate.Conversions, 100*res.Candidate.BaseRate)
	_, _ = fmt.Fprintln(tw, head)
	line := func(name string, f func(evaluation.Report) string) {
		_, _ = fmt.Fprint(tw, name)
		for _, r := range reports {
			_, _ = fmt.Fprint(tw, "\t"+f(r))
		}
		_, _ = fmt.Fprintln(tw)
	}
	line("AUC", func(r evaluation.Report) string { return fmt.Sprintf("%.4f", r.AUC) })
	line("log loss", func(r evaluation.Report) string { return fmt.Sprintf("%.4f", r.LogLoss) })
	line("calibration error (ECE)", func(r evaluation.Report) string { return fmt.Sprintf("%.4f", r.ECE) })
	line("cut-offs", func(r evaluation.Report) string { return fmt.Sprint(r.Cutoffs) })
	for k := 3; k >= 0; k-- {
		line(fmt.Sprintf("tier %d and up: precision / recall", k+2), func(r evaluation.Report) string {
			m := r.AtCutoffs[k]
			return fmt.Sprintf("%.3f / %.3f", m.Precision, m.Recall)
		})
	}
	for i := range 5 {
		line(fmt.Sprintf("tier %d: leads / conversion / lift", 5-i), func(r evaluation.Report) string {
			t := r.Tiers[i]
			return fmt.Sprintf("%.1f%% / %.1f%% / %.2f", 100*t.Share, 100*t.ConversionRate, t.Lift)
		})
	}
	if v := res.Verdict; v != nil {
		_, _ = fmt.Fprintf(tw, "tier stability\t%.1f%% of leads change tier\n", 100*v.TierChanged)
		verdict := "PASS"
		if !v.Pass {
			verdict = "FAIL"
		}
		_, _ = fmt.Fprintf(tw, "verdict\t%s: %s\n", verdict, v.Reason)
	}
	return tw.Flush()
}

var evaluateHTML = template.Must(template.New("evaluate").Funcs(template.FuncMap{
	"pct": func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"f4":  func(v float64) string { return fmt.Sprintf("%.4f", v) },
	"f3":  func(v float64) string { return fmt.Sprintf("%.3f", v) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadscore model evaluate</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}th{background:#f4f4f4}.pass{color:#0a0}.fail{color:#c00}</style>
</head><body>
<h1>Model evaluation</h1>
<p>{{.Candidate.Rows}} rows of <code>{{.Data}}</code>, {{.Candidate.Labelled}} labelled, {{.Candidate.Conversions}} converted ({{pct .Candidate.BaseRate}}).</p>
{{with .Verdict}}<h2 class="{{if .Pass}}pass{{else}}fail{{end}}">{{if .Pass}}PASS{{else}}FAIL{{end}}: {{.Reason}}</h2>
<p>Tier stability: {{pct .TierChanged}} of leads change tier.</p>{{end}}
{{range $i, $r := .Reports}}
<h2>{{if eq $i 0}}Candidate{{else}}Current{{end}}: {{$r.Model}} {{$r.Version}}</h2>
<p>AUC {{f4 $r.AUC}} · log loss {{f4 $r.LogLoss}} · expected calibration error {{f4 $r.ECE}} · cut-offs {{$r.Cutoffs}}</p>
<table><tr><th>tier</th><th>band</th><th>leads</th><th>share</th><th>conversions</th><th>conversion rate</th><th>share of conversions</th><th>lift</th></tr>
{{range $r.Tiers}}<tr><td>{{.Tier}}</td><td>[{{.Lo}}, {{.Hi}})</td><td>{{.Leads}}</td><td>{{pct .Share}}</td><td>{{.Conversions}}</td><td>{{pct .ConversionRate}}</td><td>{{pct .ShareOfConversions}}</td><td>{{printf "%.2f" .Lift}}</td></tr>
{{end}}</table>
<table><tr><th>leads in tiers</th><th>cut-off</th><th>precision</th><th>recall</th></tr>
{{range $r.AtCutoffs}}<tr><td>{{.Tier}}-5</td><td>{{.Cutoff}}</td><td>{{f3 .Precision}}</td><td>{{f3 .Recall}}</td></tr>
{{end}}</table>
<table><tr><th>predicted</th><th>leads</th><th>mean predicted</th><th>observed rate</th></tr>
{{range $r.Calibration}}<tr><td>[{{.Lo}}, {{.Hi}})</td><td>{{.Leads}}</td><td>{{f3 .MeanPredicted}}</td><td>{{f3 .Observed}}</td></tr>
{{end}}</table>{{end}}
</body></html>
`))
