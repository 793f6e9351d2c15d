package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/leadscore/leadscore/forest"
	"github.com/leadscore/leadscore/tabular"
)

const predictUsage = `Usage: leadscore predict [flags]

Reads rows from --data (or stdin) and writes a JSON array to stdout: one
number per row, or an array per row for multi-class outputs and
contributions. JSON input is an array of rows, each an array of numbers with
null for missing. CSV input has an optional header (named columns are matched
to the model's features; other columns are ignored) and an empty field means
missing. Parquet columns are matched to features by name.

Flags:
`

// runPredict implements `leadscore predict`.
func runPredict(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newCommand("predict", predictUsage, stdout, stderr)
	modelPath := fs.String("model", "", "model file or bundle directory (default: the embedded demo model)")
	input := fs.String("data", "", "input `file` of rows (default: stdin)")
	format := fs.String("format", "", "input format: json, csv or parquet (default: from the file extension, else json)")
	output := fs.String("output", "prediction", "what to print: prediction, margin, contribs or tier")
	missing := fs.String("missing", "", "a value that counts as missing besides NaN/null, like DMatrix's missing (e.g. 0)")
	fs.deprecate("input", "data")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch *output {
	case "prediction", "margin", "contribs", "tier":
	default:
		return fmt.Errorf("%w: --output %q: want prediction, margin, contribs or tier", errUsage, *output)
	}
	if *format == "" {
		*format = formatFromName(*input)
	}
	m, err := openModel(*modelPath)
	if err != nil {
		return err
	}
	if *missing != "" {
		v, err := strconv.ParseFloat(*missing, 32)
		if err != nil {
			return fmt.Errorf("%w: --missing %q is not a number", errUsage, *missing)
		}
		m.missing = float32(v)
	}
	if *output == "tier" && m.forest.NumGroup() != 1 {
		return fmt.Errorf("%w: --output tier needs a model with one output per row", errUsage)
	}
	t, err := readTable(*input, *format, m.names, stdin)
	if err != nil {
		return err
	}
	forest.ReplaceMissing(t.Values, m.missing)
	w := bufio.NewWriterSize(stdout, 64<<10)
	if err := writePredictions(w, m, t, *output); err != nil {
		return err
	}
	return w.Flush()
}

// formatFromName guesses an input format from a file name.
func formatFromName(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return "csv"
	case ".parquet", ".pq":
		return "parquet"
	}
	return "json"
}

// readTable reads rows of the model's features from a file or stdin.
func readTable(path, format string, names []string, stdin io.Reader) (*tabular.Table, error) {
	r := stdin
	if path != "" && path != "-" {
		f, err := os.Open(path) // #nosec G304 -- the user names the input file
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errInput, err)
		}
		defer func() { _ = f.Close() }()
		r = f
	}
	var t *tabular.Table
	var err error
	switch format {
	case "json":
		t, err = tabular.ReadJSON(r, len(names), tabular.Limits{})
	case "csv":
		t, err = tabular.ReadCSV(r, names, tabular.Limits{})
	case "parquet":
		t, err = tabular.ReadParquet(r, names, tabular.Limits{})
	default:
		return nil, fmt.Errorf("%w: --format %q: want json, csv or parquet", errUsage, format)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errInput, displayName(path), err)
	}
	return t, nil
}

func displayName(path string) string {
	if path == "" || path == "-" {
		return "stdin"
	}
	return path
}

// writePredictions scores t in chunks and writes the JSON array.
func writePredictions(w *bufio.Writer, m *loadedModel, t *tabular.Table, output string) error {
	f := m.forest
	nf, g := f.NumFeature(), f.NumGroup()
	const chunk = 4096
	buf := make([]float32, chunk*g)
	var contrib []float32
	if output == "contribs" {
		contrib = make([]float32, chunk*g*(nf+1))
	}
	var line []byte
	if err := w.WriteByte('['); err != nil {
		return err
	}
	for start := 0; start < t.Rows; start += chunk {
		end := min(start+chunk, t.Rows)
		rows := t.Values[start*nf : end*nf]
		var err error
		switch output {
		case "margin":
			err = f.PredictMargin(rows, buf)
		case "prediction", "tier":
			err = f.Predict(rows, buf)
		case "contribs":
			err = f.ContributionsBatch(rows, contrib[:(end-start)*g*(nf+1)])
		}
		if err != nil {
			return err
		}
		for i := start; i < end; i++ {
			line = line[:0]
			if i > 0 {
				line = append(line, ',')
			}
			k := i - start
			switch output {
			case "margin":
				line = appendValues(line, buf[k*g:(k+1)*g])
			case "prediction":
				o := f.NumOutput()
				line = appendValues(line, buf[k*o:(k+1)*o])
			case "tier":
				line = strconv.AppendInt(line, int64(m.tiers.Tier(float64(buf[k]))), 10)
			case "contribs":
				w := g * (nf + 1)
				line = appendArray(line, contrib[k*w:(k+1)*w])
			}
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	}
	_, err := w.WriteString("]\n")
	return err
}

// appendValues writes one value as a number, several as an array.
func appendValues(b []byte, v []float32) []byte {
	if len(v) == 1 {
		return appendFloat(b, v[0])
	}
	return appendArray(b, v)
}

func appendArray(b []byte, v []float32) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, x)
	}
	return append(b, ']')
}

// appendFloat writes the shortest decimal that reads back as the same
// float32; non-finite values, which JSON cannot hold, become null.
func appendFloat(b []byte, v float32) []byte {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, float64(v), 'g', -1, 32)
}
