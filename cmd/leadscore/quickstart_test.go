package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestQuickstart runs every command of docs/quickstart.md, in order, as
// one bash script in a scratch directory (with the repository's testdata
// and examples), the real binary on the PATH and a free port for 8080.
func TestQuickstart(t *testing.T) {
	bin := testBinary(t)
	if _, err := exec.Command("/usr/bin/python3", "-c", "import requests").CombinedOutput(); err != nil {
		t.Skip("needs /usr/bin/python3 with requests (scripts/install-tools.sh installs python3-requests)")
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "quickstart.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 7 {
		t.Fatalf("%d sh blocks in quickstart.md", len(blocks))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, b := range blocks {
		script.WriteString(strings.ReplaceAll(b[1], "127.0.0.1:8080", addr))
	}
	dir := t.TempDir()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	for _, d := range []string{"testdata", "examples"} {
		if err := os.Symlink(filepath.Join(root, d), filepath.Join(dir, d)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":/usr/bin:"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	t.Logf("quickstart:\n%s", out)
	if err != nil {
		t.Fatalf("quickstart: %v", err)
	}
	for _, want := range []string{"cut-offs [0.018 0.081 0.25 0.51]", "model lead-score 1", "L-1: tier ", `"accepted": 1`,
		"drift window:", "wrote 1 leads (1 converted, 50 features) to leads.csv", "left out: 3 leads still inside",
		"read 4 rows from", "0.7364609241485596,0.7553086876869202"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("quickstart output lacks %q", want)
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
	if strings.Contains(string(log), "no tier cut-offs") || !strings.Contains(string(log), `"msg":"stopped"`) {
		t.Errorf("serve.log:\n%s", log)
	}
}
