package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestReleaseReproducible builds the release (scripts/release.sh, what
// `make release` runs) twice from the same commit, in two clones at
// different paths, and checks every artefact is byte-identical; then that
// the binary reports the version and commit it was built from. It builds the
// committed HEAD: uncommitted changes are not in the clones.
func TestReleaseReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the release build takes a minute")
	}
	requireTool(t, "cyclonedx-gomod", "LEADSCORE_RELEASE")
	requireTool(t, "zip", "LEADSCORE_RELEASE")
	root := repoRoot(t)
	head := strings.TrimSpace(gitOut(t, root, "rev-parse", "HEAD"))

	sums := make([]map[string]string, 2)
	var dists [2]string
	for i := range 2 {
		clone := filepath.Join(t.TempDir(), []string{"a", "b/deeper"}[i])
		// A full local clone: cyclonedx-gomod reads it with go-git, which does not
		// follow the alternates of a --shared clone.
		gitOut(t, root, "clone", "--quiet", "--no-checkout", root, clone)
		gitOut(t, clone, "checkout", "--quiet", "--detach", head)
		dists[i] = filepath.Join(clone, "dist")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "scripts/release.sh", dists[i])
		cmd.Dir = clone
		cmd.Env = append(os.Environ(), "VERSION=v9.8.7-test")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("release build %d: %v\n%s", i+1, err, out)
		}
		sums[i] = readSums(t, filepath.Join(dists[i], "SHA256SUMS"))
	}
	want := []string{
		"leadscore_v9.8.7-test_linux_amd64", "leadscore_v9.8.7-test_linux_arm64",
		"leadscore_v9.8.7-test_lambda_x86_64.zip", "leadscore_v9.8.7-test_lambda_arm64.zip",
		"leadscore_v9.8.7-test.cdx.json",
	}
	for _, name := range want {
		a, b := sums[0][name], sums[1][name]
		switch {
		case a == "":
			t.Errorf("%s missing from SHA256SUMS", name)
		case a != b:
			t.Errorf("%s differs between two builds of one commit: %s vs %s", name, a, b)
		}
	}
	if len(sums[0]) != len(want) {
		t.Errorf("SHA256SUMS lists %d files, want %d: %v", len(sums[0]), len(want), sums[0])
	}
	// sha256sum -c: the checksums are of the files as shipped.
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = dists[0]
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}

	// The SBOM names the module and its dependencies.
	var sbom struct {
		BOMFormat string `json:"bomFormat"`
		Metadata  struct {
			Component struct{ Name, Version string }
		}
		Components []struct{ Name, Version string }
	}
	raw, err := os.ReadFile(filepath.Join(dists[0], "leadscore_v9.8.7-test.cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &sbom); err != nil {
		t.Fatal(err)
	}
	if sbom.BOMFormat != "CycloneDX" || sbom.Metadata.Component.Version != "v9.8.7-test" || len(sbom.Components) < 10 ||
		!bytes.Contains(raw, []byte("github.com/parquet-go/parquet-go")) {
		t.Errorf("SBOM: format %q, version %q, %d components", sbom.BOMFormat, sbom.Metadata.Component.Version, len(sbom.Components))
	}

	// The binary says what it is.
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return
	}
	out, err := exec.Command(filepath.Join(dists[0], "leadscore_v9.8.7-test_linux_amd64"), "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Version   string            `json:"version"`
		Commit    string            `json:"commit"`
		BuildDate string            `json:"build_date"`
		GoVersion string            `json:"go_version"`
		Modified  bool              `json:"modified"`
		Settings  map[string]string `json:"settings"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if info.Version != "v9.8.7-test" || info.Commit != head || info.Modified || info.BuildDate == "" ||
		info.GoVersion != "go1.27.3" || info.Settings["CGO_ENABLED"] != "0" || info.Settings["-trimpath"] != "true" {
		t.Errorf("version --json: %s", out)
	}
}

func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", sc.Text())
		}
		m[name] = sum
	}
	return m
}

func repoRoot(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(gitOut(t, ".", "rev-parse", "--show-toplevel"))
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// requireTool skips without the tool unless env=1 (scripts/test.sh sets it,
// so CI cannot pass without running the test).
func requireTool(t *testing.T, name, env string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		if _, err := os.Stat(filepath.Join(strings.TrimSpace(string(gopath)), "bin", name)); err == nil {
			t.Setenv("PATH", filepath.Join(strings.TrimSpace(string(gopath)), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
			return
		}
	}
	if os.Getenv(env) == "1" {
		t.Fatalf("%s=1 but %s is not installed (scripts/install-tools.sh installs it)", env, name)
	}
	t.Skipf("%s not installed (scripts/install-tools.sh); %s=1 makes this a failure", name, env)
}
