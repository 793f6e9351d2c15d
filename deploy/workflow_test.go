package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// workflow is the part of a GitHub Actions workflow the tests read.
type workflow struct {
	// YAML 1.1 reads the bare key `on` as the boolean true.
	On struct {
		Push struct {
			Branches []string `json:"branches"`
			Tags     []string `json:"tags"`
		} `json:"push"`
	} `json:"true"`
	Jobs map[string]struct {
		Needs       any               `json:"needs"`
		If          string            `json:"if"`
		Permissions map[string]string `json:"permissions"`
		Steps       []struct {
			Name string         `json:"name"`
			Uses string         `json:"uses"`
			Run  string         `json:"run"`
			With map[string]any `json:"with"`
		} `json:"steps"`
	} `json:"jobs"`
}

// TestReleaseWorkflow: the release job runs on version tags after the
// quality gates, builds with the same `make release` and checks it is
// reproducible, attaches every artefact, and scans the image before it
// pushes it.
func TestReleaseWorkflow(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", ".github", "workflows", "ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(wf.On.Push.Tags, "v*") {
		t.Errorf("push tags %q: want v*", wf.On.Push.Tags)
	}
	job, ok := wf.Jobs["release"]
	if !ok {
		t.Fatal("no release job")
	}
	if job.Needs != "test" || !strings.Contains(job.If, "refs/tags/v") {
		t.Errorf("release job needs %v, if %q: want after test, on v tags only", job.Needs, job.If)
	}
	for _, p := range []string{"contents", "packages"} {
		if job.Permissions[p] != "write" {
			t.Errorf("permission %s=%q", p, job.Permissions[p])
		}
	}
	// Order of the steps that matter.
	idx := func(match func(run, uses string, with map[string]any) bool) int {
		for i, s := range job.Steps {
			if match(s.Run, s.Uses, s.With) {
				return i
			}
		}
		return -1
	}
	release := idx(func(run, _ string, _ map[string]any) bool { return strings.HasPrefix(run, "make release ") })
	check := idx(func(run, _ string, _ map[string]any) bool { return strings.HasPrefix(run, "make release-check") })
	attach := idx(func(_, uses string, with map[string]any) bool {
		return strings.HasPrefix(uses, "softprops/action-gh-release@") && with["files"] == "dist/*"
	})
	build := idx(func(_, uses string, with map[string]any) bool {
		return strings.HasPrefix(uses, "docker/build-push-action@") && with["load"] == true
	})
	scan := idx(func(_, uses string, with map[string]any) bool {
		return strings.HasPrefix(uses, "aquasecurity/trivy-action@") && with["exit-code"] == "1"
	})
	push := idx(func(_, uses string, with map[string]any) bool {
		return strings.HasPrefix(uses, "docker/build-push-action@") && with["push"] == true
	})
	for name, i := range map[string]int{"make release": release, "make release-check": check, "attach dist/*": attach,
		"image build (load)": build, "Trivy scan failing on findings": scan, "image push": push} {
		if i < 0 {
			t.Errorf("no %s step", name)
		}
	}
	if release > check || check > attach || build > scan || scan > push {
		t.Errorf("step order: release %d, check %d, attach %d, build %d, scan %d, push %d", release, check, attach, build, scan, push)
	}
}
