package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// foreignFlags are other tools' flags the docs show on lines the scan
// cannot attribute: Dockerfile COPY --from, a curl command's continuation
// line (curl, aws-lambda-rie).
var foreignFlags = map[string]bool{"from": true}

// TestDocsNameOnlyRealFlags reads every --flag named in docs/*.md and
// README.md and checks that some leadscore command has it, as its help
// prints it (`leadscore CMD -h`), so docs cannot drift from the CLI again.
// A flag in a line that runs another tool (curl, go, docker, ...) belongs
// to that tool and is skipped.
func TestDocsNameOnlyRealFlags(t *testing.T) {
	known := map[string]bool{"help": true, "h": true}
	helpFlag := regexp.MustCompile(`(?m)^\s+--?([a-z0-9][a-z0-9-]*)`)
	deprecated := regexp.MustCompile(`--([a-z0-9][a-z0-9-]*) \(use --`)
	cmds := [][]string{}
	for _, c := range commandNames {
		cmds = append(cmds, []string{c})
		for _, sub := range commandNames {
			cmds = append(cmds, []string{c, sub})
		}
	}
	for _, args := range cmds {
		_, out, errOut := runCLI(t, "", append(args, "-h")...)
		for _, m := range helpFlag.FindAllStringSubmatch(out+errOut, -1) {
			known[m[1]] = true
		}
		for _, m := range deprecated.FindAllStringSubmatch(out+errOut, -1) {
			known[m[1]] = true // still accepted, and documented as such
		}
	}
	for _, f := range []string{"model", "listen", "lake-dir", "lake-s3-url", "otlp-endpoint"} {
		if !known[f] {
			t.Fatalf("--%s not found in any command's help: the help scan is broken (%d flags)", f, len(known))
		}
	}

	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("docs: %v", err)
	}
	files = append(files, filepath.Join("..", "..", "README.md"))
	flagRef := regexp.MustCompile("(?:^|[\\s`(|/\\[,])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)(-\\*)?")
	otherTool := regexp.MustCompile(`(^|[\s$(` + "`" + `])(curl|go|bash|aws-lambda-rie|kubectl|helm|[a-z_./-]+\.(py|sh)|docker|kubectl|kustomize|helm|terraform|aws|duckdb|python3?|pip|npm|npx|node|git|golangci-lint|locust|spark-submit|pyspark|make|apt-get|chromium|perf|hey|wrk|vegeta|k6|jq|sam|uv)\s`)
	ownCommand := regexp.MustCompile(`(^|[\s$(` + "`" + `/])leadscore [a-z]`)
	var unknown []string
	checked := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		continued := false // the line continues another tool's command (a trailing \)
		for i, line := range strings.Split(string(raw), "\n") {
			foreign := continued || otherTool.MatchString(line) && !ownCommand.MatchString(line)
			continued = foreign && strings.HasSuffix(strings.TrimSpace(line), "\\")
			if foreign {
				continue
			}
			for _, m := range flagRef.FindAllStringSubmatch(line, -1) {
				checked++
				if m[2] != "" { // --prefix-*: some flag has the prefix
					found := false
					for k := range known {
						found = found || strings.HasPrefix(k, m[1]+"-")
					}
					if found {
						continue
					}
				}
				if !known[m[1]] && !foreignFlags[m[1]] {
					unknown = append(unknown, filepath.Base(f)+":"+strconv.Itoa(i+1)+": --"+m[1])
				}
			}
		}
	}
	sort.Strings(unknown)
	for _, u := range unknown {
		t.Errorf("%s is not a flag of any leadscore command", u)
	}
	if checked < 50 {
		t.Errorf("only %d flag mentions found in the docs: the scan is broken", checked)
	}
}

// TestDocsDocumentEveryServeFlag is the other direction for the two
// service commands, where every limit lives: each flag `leadscore serve -h`
// and `leadscore lambda -h` print is named somewhere in docs/*.md or the
// README (the flag tables of docs/service.md, monitoring.md, lake.md,
// aws.md), so a new limit cannot land undocumented.
func TestDocsDocumentEveryServeFlag(t *testing.T) {
	var docs strings.Builder
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("docs: %v", err)
	}
	for _, f := range append(files, filepath.Join("..", "..", "README.md")) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs.Write(raw)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`).FindAllStringSubmatch(docs.String(), -1) {
		named[m[1]] = true
	}
	helpFlag := regexp.MustCompile(`(?m)^\s+--?([a-z0-9][a-z0-9-]*)`)
	for _, cmd := range []string{"serve", "lambda"} {
		_, out, errOut := runCLI(t, "", cmd, "-h")
		flags := helpFlag.FindAllStringSubmatch(out+errOut, -1)
		if len(flags) < 10 {
			t.Fatalf("%s -h lists %d flags: the help scan is broken", cmd, len(flags))
		}
		for _, m := range flags {
			if !named[m[1]] && m[1] != "h" && m[1] != "help" {
				t.Errorf("leadscore %s --%s is in no docs/*.md nor the README", cmd, m[1])
			}
		}
	}
}
