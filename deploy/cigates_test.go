package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// ciStubs are the tools scripts/test.sh calls, as shell stubs: each logs
// its arguments to $STUB_LOG and reports a finding (exits 1, or for
// govulncheck prints a called vulnerability) when its variable is set.
var ciStubs = map[string]string{
	"go": `echo "go $*" >>"$STUB_LOG"
case $1 in
  env) echo "$STUB_GOPATH" ;;
  version) echo "go version stub" ;;
  vet) exit "${GO_VET_RC:-0}" ;;
  tool) printf 'total:\t(statements)\t100.0%%\n' ;;
  test)
    case " $* " in
      *" -fuzz "*) exit "${GO_FUZZ_RC:-0}" ;;
    esac
    echo "mode: atomic" >coverage.out
    exit "${GO_TEST_RC:-0}" ;;
esac`,
	"gofmt": `echo "gofmt $*" >>"$STUB_LOG"
if [ -n "$GOFMT_FINDING" ]; then echo "$2"; fi`,
	"golangci-lint": `echo "golangci-lint $*" >>"$STUB_LOG"
[ "$1" = version ] && exit 0
exit "${LINT_RC:-0}"`,
	"gitleaks": `echo "gitleaks $*" >>"$STUB_LOG"
exit "${GITLEAKS_RC:-0}"`,
	"govulncheck": `echo "govulncheck $*" >>"$STUB_LOG"
if [ -n "$VULN_FINDING" ]; then
  echo '{"osv":{"id":"GO-2099-0001","summary":"a stub vulnerability"}}'
  echo '{"finding":{"osv":"GO-2099-0001","fixed_version":"v1.0.1","trace":[{"module":"example.com/m","version":"v1.0.0","package":"example.com/m","function":"F"}]}}'
fi`,
}

// TestCIGates backs SECURITY.md's promise that CI's gates (gosec in
// golangci-lint, gitleaks, govulncheck, go test -race, a fuzzing pass) run
// and fail on any finding. It runs the real scripts/test.sh, with the tool
// installation left out and every tool replaced by a stub that logs its
// arguments: with no gate named, every gate runs, each tool is called as
// the promise says (go test with -race, golangci-lint with .golangci.yml,
// gitleaks with --exit-code 1, govulncheck on the offline database, the
// fuzz target fuzzed) and the script passes; then, one at a time, each
// tool reports a finding and the script exits non-zero naming that gate.
// It also checks that .golangci.yml enables gosec at every severity and
// confidence, and that CI (.ci/run and the workflow) runs the script with
// no gate skipped.
func TestCIGates(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("no jq (scripts/install-tools.sh installs it)")
	}
	script, err := os.ReadFile(filepath.Join("..", "scripts", "test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	const install = "\nbash scripts/install-tools.sh\n"
	if !strings.Contains(string(script), install) {
		t.Fatal("scripts/test.sh no longer runs `bash scripts/install-tools.sh` on a line of its own: update this test")
	}
	tmp := t.TempDir()
	root := filepath.Join(tmp, "repo")
	stubs := filepath.Join(tmp, "gopath", "bin")
	vulndb := filepath.Join(tmp, "vulndb")
	for _, d := range []string{filepath.Join(root, "scripts"), filepath.Join(root, "fuzzed"), stubs, filepath.Join(vulndb, "index")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "scripts", "test.sh"), strings.Replace(string(script), install, "\n: # tools: stubs (TestCIGates)\n", 1), 0o600)
	write(filepath.Join(root, "fuzzed", "x_test.go"), "package fuzzed\n\nimport \"testing\"\n\nfunc FuzzStub(f *testing.F) { f.Fuzz(func(*testing.T, []byte) {}) }\n", 0o600)
	write(filepath.Join(vulndb, "index", "modules.json"), "[]\n", 0o600)
	for name, body := range ciStubs {
		write(filepath.Join(stubs, name), "#!/bin/sh\n"+body+"\n", 0o700) //nolint:gosec // G306: an executable stub in the test's temp folder
	}
	log := filepath.Join(tmp, "stub.log")

	run := func(t *testing.T, extra ...string) (string, int) {
		t.Helper()
		_ = os.Remove(log)
		cmd := exec.Command(bash, filepath.Join(root, "scripts", "test.sh")) //nolint:gosec // G204: the test's own copy of the script
		cmd.Env = append([]string{"PATH=" + stubs + ":/usr/bin:/bin", "HOME=" + tmp, "TMPDIR=" + tmp,
			"STUB_LOG=" + log, "STUB_GOPATH=" + filepath.Join(tmp, "gopath"), "LEADSCORE_VULNDB_DIR=" + vulndb,
			"COVER_FLOOR_PKGS=./none/", "FUZZTIME=1s"}, extra...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		calls, _ := os.ReadFile(log)
		return string(out) + "\n---- tool calls ----\n" + string(calls), code
	}

	t.Run("clean", func(t *testing.T) {
		out, code := run(t)
		if code != 0 || !strings.Contains(out, "RESULT: PASS - gates: fmt vet lint test fuzz secrets vuln") {
			t.Fatalf("exit %d with no finding, want 0 and every gate run:\n%s", code, out)
		}
		for _, want := range []string{
			"golangci-lint run --config .golangci.yml ./...",
			"go test -race -count=1",
			"go test -run ^$ -fuzz ^FuzzStub$ -fuzztime 1s",
			"gitleaks dir . --config .gitleaks.toml",
			"--exit-code 1",
			"govulncheck -db file://" + vulndb,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("no tool call %q:\n%s", want, out)
			}
		}
	})
	for _, tc := range []struct{ finding, gate string }{
		{"GOFMT_FINDING=1", "gofmt"},
		{"GO_VET_RC=1", "go vet"},
		{"LINT_RC=1", "golangci-lint"},
		{"GO_TEST_RC=1", "go test"},
		{"GO_FUZZ_RC=1", "fuzz smoke"},
		{"GITLEAKS_RC=1", "gitleaks"},
		{"VULN_FINDING=1", "govulncheck"},
	} {
		t.Run(strings.ReplaceAll(tc.gate, " ", "_"), func(t *testing.T) {
			out, code := run(t, tc.finding)
			if code == 0 || !strings.Contains(out, tc.gate+": FAILED") || !strings.Contains(out, "RESULT: FAIL") {
				t.Fatalf("%s: exit %d, want non-zero with %q FAILED:\n%s", tc.finding, code, tc.gate, out)
			}
			if n := strings.Count(out, ": FAILED"); n != 1 {
				t.Errorf("%d gates failed, want only %s:\n%s", n, tc.gate, out)
			}
		})
	}

	// gosec inside golangci-lint, every severity and confidence.
	raw, err := os.ReadFile(filepath.Join("..", ".golangci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var lint struct {
		Linters struct {
			Enable   []string `json:"enable"`
			Disable  []string `json:"disable"`
			Settings struct {
				Gosec struct {
					Severity   string `json:"severity"`
					Confidence string `json:"confidence"`
				} `json:"gosec"`
			} `json:"settings"`
		} `json:"linters"`
	}
	if err := yaml.Unmarshal(raw, &lint); err != nil {
		t.Fatal(err)
	}
	enabled := false
	for _, l := range lint.Linters.Enable {
		enabled = enabled || l == "gosec"
	}
	for _, l := range lint.Linters.Disable {
		enabled = enabled && l != "gosec"
	}
	if !enabled || lint.Linters.Settings.Gosec.Severity != "low" || lint.Linters.Settings.Gosec.Confidence != "low" {
		t.Errorf(".golangci.yml: gosec enabled %v, severity %q, confidence %q: want on, low, low",
			enabled, lint.Linters.Settings.Gosec.Severity, lint.Linters.Settings.Gosec.Confidence)
	}

	// CI runs that script, all gates.
	ci, err := os.ReadFile(filepath.Join("..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "\nexec bash scripts/test.sh\n") || strings.Contains(string(ci), "SKIP_") {
		t.Errorf(".ci/run does not run `bash scripts/test.sh` with every gate:\n%s", ci)
	}
	wf, _ := readWorkflow(t)
	ran := false
	for _, s := range wf.Jobs["test"].Steps {
		if strings.TrimSpace(s.Run) == "bash scripts/test.sh" {
			ran = true
			for k := range s.Env {
				if strings.HasPrefix(k, "SKIP_") {
					t.Errorf("the workflow's test step sets %s", k)
				}
			}
		}
	}
	if !ran {
		t.Error("the workflow's test job does not run `bash scripts/test.sh`")
	}
}
