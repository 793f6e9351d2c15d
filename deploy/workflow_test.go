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
		Environment any               `json:"environment"`
		Env         map[string]string `json:"env"`
		Permissions map[string]string `json:"permissions"`
		Steps       []struct {
			Name string            `json:"name"`
			Uses string            `json:"uses"`
			Run  string            `json:"run"`
			With map[string]any    `json:"with"`
			Env  map[string]string `json:"env"`
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

// readWorkflow parses .github/workflows/ci.yml.
func readWorkflow(t *testing.T) (workflow, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", ".github", "workflows", "ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	return wf, string(raw)
}

// needsOf returns a job's needs: YAML allows a string or a list.
func needsOf(v any) []string {
	switch n := v.(type) {
	case string:
		return []string{n}
	case []any:
		var out []string
		for _, e := range n {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// environmentOf returns a job's GitHub environment: `environment: name` or
// `environment: {name: ..., url: ...}`.
func environmentOf(v any) string {
	switch e := v.(type) {
	case string:
		return e
	case map[string]any:
		s, _ := e["name"].(string)
		return s
	}
	return ""
}

// TestDeployWorkflowOIDC backs SECURITY.md's promise "deploys from CI
// assume a role through GitHub OIDC, and production waits for a person":
// every job that reaches AWS gets its credentials from
// aws-actions/configure-aws-credentials with role-to-assume and
// `id-token: write`, no AWS key appears anywhere in the workflow (not as an
// input, an env variable or a secret), staging runs after the quality gates
// and only on main, and production runs after staging in the protected
// `production` environment (whose required reviewers are the person).
func TestDeployWorkflowOIDC(t *testing.T) {
	wf, raw := readWorkflow(t)

	// No static AWS key, whatever the spelling or place.
	for _, bad := range []string{"aws-access-key-id", "aws-secret-access-key", "aws-session-token",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "secrets.AWS"} {
		if strings.Contains(raw, bad) {
			t.Errorf("ci.yml mentions %q: AWS credentials must come from OIDC only", bad)
		}
	}

	awsJobs := map[string]bool{}
	for name, job := range wf.Jobs {
		for k := range job.Env {
			if strings.HasPrefix(k, "AWS_") && k != "AWS_REGION" && k != "AWS_DEFAULT_REGION" {
				t.Errorf("job %s sets env %s", name, k)
			}
		}
		for _, s := range job.Steps {
			if !strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") {
				continue
			}
			awsJobs[name] = true
			role, _ := s.With["role-to-assume"].(string)
			if role == "" {
				t.Errorf("job %s: configure-aws-credentials without role-to-assume", name)
			}
			for k := range s.With {
				if k != "role-to-assume" && k != "aws-region" && k != "role-session-name" && k != "role-duration-seconds" {
					t.Errorf("job %s: configure-aws-credentials input %q: only a role through OIDC is allowed", name, k)
				}
			}
			if job.Permissions["id-token"] != "write" {
				t.Errorf("job %s assumes a role but has permissions %v: want id-token: write", name, job.Permissions)
			}
		}
		if strings.HasPrefix(name, "deploy") && !awsJobs[name] {
			t.Errorf("deploy job %s gets no AWS role through configure-aws-credentials", name)
		}
	}
	for _, name := range []string{"deploy-staging", "deploy-prod"} {
		if !awsJobs[name] {
			t.Errorf("job %s: missing, or assumes no role", name)
		}
	}

	staging, prod := wf.Jobs["deploy-staging"], wf.Jobs["deploy-prod"]
	if !slices.Contains(needsOf(staging.Needs), "test") {
		t.Errorf("deploy-staging needs %v: want after the quality gates (test)", staging.Needs)
	}
	if !strings.Contains(staging.If, "refs/heads/main") || !strings.Contains(prod.If, "refs/heads/main") {
		t.Errorf("deploys run on %q / %q: want main only", staging.If, prod.If)
	}
	if !slices.Contains(needsOf(prod.Needs), "deploy-staging") {
		t.Errorf("deploy-prod needs %v: want after deploy-staging", prod.Needs)
	}
	if env := environmentOf(prod.Environment); env != "production" {
		t.Errorf("deploy-prod environment %q: want production (the environment with required reviewers)", env)
	}
	if env := environmentOf(staging.Environment); env == "production" {
		t.Errorf("deploy-staging runs in the production environment")
	}
	// Only the deploy jobs may mint an OIDC token.
	for name, job := range wf.Jobs {
		if job.Permissions["id-token"] == "write" && !awsJobs[name] {
			t.Errorf("job %s has id-token: write but assumes no role", name)
		}
	}
}
