package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const demoCSV = "../../testdata/lead-demo/leads_10k.csv"

// firstRows writes the header and n rows of the demo leads to a file.
func firstRows(t *testing.T, n int) string {
	t.Helper()
	raw, err := os.ReadFile(demoCSV)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", n+2)
	p := filepath.Join(t.TempDir(), "rows.csv")
	if err := os.WriteFile(p, []byte(strings.Join(lines[:n+1], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLIEnvironmentEveryCommand: a LEADSCORE_* variable sets the flag of
// any command, not only serve's (LEADSCORE_OUTPUT for predict), and a flag
// beats it.
func TestCLIEnvironmentEveryCommand(t *testing.T) {
	rows := firstRows(t, 3)
	code, probs, _ := runCLI(t, "", "predict", "--data", rows)
	if code != 0 {
		t.Fatalf("predict: %d", code)
	}
	t.Setenv("LEADSCORE_OUTPUT", "tier")
	code, tiers, _ := runCLI(t, "", "predict", "--data", rows)
	if code != 0 || tiers == probs || strings.Contains(tiers, ".") {
		t.Errorf("LEADSCORE_OUTPUT=tier: %d %q", code, tiers)
	}
	if code, out, _ := runCLI(t, "", "predict", "--data", rows, "--output", "prediction"); code != 0 || out != probs {
		t.Errorf("the flag does not beat the variable: %q", out)
	}
	t.Setenv("LEADSCORE_DATA", rows)
	if code, out, _ := runCLI(t, "", "predict", "--output", "prediction"); code != 0 || out != probs {
		t.Errorf("LEADSCORE_DATA: %d %q", code, out)
	}
	t.Setenv("LEADSCORE_OUTPUT", "colour")
	if code, _, errOut := runCLI(t, "", "predict"); code != 2 || !strings.Contains(errOut, "colour") {
		t.Errorf("bad LEADSCORE_OUTPUT: %d %q", code, errOut)
	}
}

// TestCLIConfigFile: the config file sets any command's flags; a
// command's section beats the top level; a flat file is strict, a file
// with sections shares its top level with the commands that have it.
func TestCLIConfigFile(t *testing.T) {
	rows := firstRows(t, 3)
	_, probs, _ := runCLI(t, "", "predict", "--data", rows)
	_, tiers, _ := runCLI(t, "", "predict", "--data", rows, "--output", "tier")
	_, margins, _ := runCLI(t, "", "predict", "--data", rows, "--output", "margin")

	flat := writeFile(t, "flat.json", `{"output": "tier", "data": "`+rows+`"}`)
	if code, out, _ := runCLI(t, "", "predict", "--config", flat); code != 0 || out != tiers {
		t.Errorf("flat config: %d %q", code, out)
	}
	shared := writeFile(t, "shared.json", `{"output": "tier", "listen": ":9999", "predict": {"output": "margin"},
		"serve": {"max_batch": 3}, "model": {"push": {"note": "x"}}}`)
	if code, out, errOut := runCLI(t, "", "predict", "--config", shared, "--data", rows); code != 0 || out != margins {
		t.Errorf("section: %d %q %s", code, out, errOut)
	}
	t.Setenv("LEADSCORE_CONFIG", shared)
	t.Setenv("LEADSCORE_OUTPUT", "prediction")
	if code, out, _ := runCLI(t, "", "predict", "--data", rows); code != 0 || out != probs {
		t.Errorf("the variable does not beat the file: %q", out)
	}
	t.Setenv("LEADSCORE_CONFIG", "")
	for name, content := range map[string]string{
		"unknown flat key":    `{"listen": ":1"}`,
		"unknown section key": `{"predict": {"colour": "red"}, "output": "tier"}`,
		"not JSON":            `{`,
		"bad value":           `{"predict": {"max_batch": {"a": 1}}}`,
	} {
		p := writeFile(t, "c.json", content)
		if code, _, errOut := runCLI(t, "", "predict", "--config", p, "--data", rows); code != 2 || !strings.Contains(errOut, "config") {
			t.Errorf("%s: %d %q", name, code, errOut)
		}
	}
}

// TestCLIDeprecatedNames: the old flag names still work, with a warning,
// and so do their variables.
func TestCLIDeprecatedNames(t *testing.T) {
	rows := firstRows(t, 3)
	_, want, _ := runCLI(t, "", "predict", "--data", rows)
	code, out, errOut := runCLI(t, "", "predict", "--input", rows)
	if code != 0 || out != want || !strings.Contains(errOut, "--input is deprecated; use --data") {
		t.Errorf("--input: %d %q %q", code, out, errOut)
	}
	t.Setenv("LEADSCORE_INPUT", rows)
	if code, out, _ := runCLI(t, "", "predict"); code != 0 || out != want {
		t.Errorf("LEADSCORE_INPUT: %d %q", code, out)
	}
	c, err := parseServeConfig([]string{"--lake-s3-region", "eu-west-3", "--s3-endpoint", "http://127.0.0.1:1"},
		mapEnv(map[string]string{"LEADSCORE_LAKE_S3_PATH_STYLE": "true", "SM_MODEL_DIR": t.TempDir() + "/none"}), &strings.Builder{})
	if err != nil || c.lake.s3Region != "eu-west-3" || c.lake.s3Endpoint != "http://127.0.0.1:1" || !c.lake.s3PathStyle {
		t.Errorf("serve S3 names: %+v %v", c, err)
	}
}

// commandsWithHelp are every command and subcommand.
var commandsWithHelp = [][]string{
	{"serve"}, {"lambda"}, {"predict"}, {"bench"}, {"loadtest"}, {"baseline"}, {"monitor"},
	{"model", "inspect"}, {"model", "push"}, {"model", "list"}, {"model", "promote"}, {"model", "rollback"},
	{"model", "package"}, {"model", "evaluate"}, {"bundle", "init"}, {"dataset"},
}

// TestCLIHelp: every command prints its help on stdout in one style (each
// flag with its variable), for -h, --help and `help CMD` alike; bare
// leadscore prints the overview; --version goes to version.
func TestCLIHelp(t *testing.T) {
	for _, cmd := range commandsWithHelp {
		name := strings.Join(cmd, " ")
		code, out, errOut := runCLI(t, "", append(cmd, "--help")...)
		if code != 0 || errOut != "" {
			t.Errorf("%s --help: exit %d, stderr %q", name, code, errOut)
		}
		if !strings.HasPrefix(out, "Usage: leadscore "+name) || !strings.Contains(out, "\nFlags:\n") ||
			!strings.Contains(out, "  --config file\n") || !strings.Contains(out, "(env LEADSCORE_CONFIG)") {
			t.Errorf("%s --help is not in the common style:\n%s", name, out)
		}
		if _, short, _ := runCLI(t, "", append(cmd, "-h")...); short != out {
			t.Errorf("%s -h differs from --help", name)
		}
		if _, viaHelp, _ := runCLI(t, "", append([]string{"help"}, cmd...)...); viaHelp != out {
			t.Errorf("help %s differs from %s --help", name, name)
		}
	}
	code, out, _ := runCLI(t, "")
	if code != 0 || !strings.Contains(out, "Usage:\n  leadscore <command>") || !strings.Contains(out, "Exit status:") {
		t.Errorf("bare leadscore: %d %q", code, out)
	}
	for _, v := range []string{"version", "--version", "-version"} {
		if code, out, _ := runCLI(t, "", v); code != 0 || !strings.HasPrefix(out, "leadscore ") {
			t.Errorf("%s: %d %q", v, code, out)
		}
	}
}

// TestCLIExitStatus: 2 for usage mistakes, 2 for bad input, 1 for other
// failures (3 is a failed check: TestMonitor, TestModelEvaluate).
func TestCLIExitStatus(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want int
		msg  string
	}{
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"predict", "--no-such-flag"}, 2, "leadscore predict --help"},
		{[]string{"predict", "extra"}, 2, "unexpected argument"},
		{[]string{"predict", "--data", "/nonexistent.csv"}, 2, "nonexistent"},
		{[]string{"loadtest", "--url", "http://127.0.0.1:1/score", "--duration", "50ms", "--rate", "20"}, 1, "no request succeeded"},
	} {
		code, _, errOut := runCLI(t, "", tt.args...)
		if code != tt.want || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%v: exit %d %q, want %d with %q", tt.args, code, errOut, tt.want, tt.msg)
		}
	}
}

// TestBaselineJSON: baseline prints its summary as JSON with --json.
func TestBaselineJSON(t *testing.T) {
	rows := firstRows(t, 300)
	code, out, errOut := runCLI(t, "", "baseline", "--data", rows, "--out", t.TempDir(), "--json")
	var r baselineJSON
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("exit %d %q %s", code, out, errOut)
	}
	if r.Rows != 300 || r.Features != 50 || r.Model != "lead-demo" || len(r.TierShares) != 5 || r.AUC == nil || len(r.Files) != 5 || len(r.TopFeatures) != 3 {
		t.Errorf("summary %+v", r)
	}
}
