package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/leadscore/leadscore/registry"
)

// instruction is one logical Dockerfile line.
type instruction struct {
	cmd  string // upper case
	args string
}

// parseDockerfile splits a Dockerfile into instructions, joining
// continuation lines and dropping comments.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	cur := ""
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur += strings.TrimSuffix(trimmed, `\`) + " "
			continue
		}
		full := cur + trimmed
		cur = ""
		cmd, args, _ := strings.Cut(full, " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	if cur != "" {
		t.Fatal("Dockerfile ends in a continuation")
	}
	return out
}

// TestDockerfile checks the image's contract: a multi-stage build of a
// static, trimmed binary onto distroless (or scratch), non-root, with
// ENTRYPOINT /leadscore and CMD serve so that SageMaker's `docker run IMAGE
// serve` works, port 8080 and the model in /opt/ml/model.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, "Dockerfile")
	var stages [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and final", len(stages))
	}
	build, final := stages[0], stages[1]
	if !regexp.MustCompile(`^golang:\$\{GO_VERSION\} AS build$`).MatchString(build[0].args) {
		t.Errorf("build stage FROM %q", build[0].args)
	}
	if !slices.ContainsFunc(ins, func(in instruction) bool { return in.cmd == "ARG" && in.args == "GO_VERSION=1.27.3" }) {
		t.Error("no ARG GO_VERSION=1.27.3")
	}
	goBuild := ""
	for _, in := range build {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			goBuild = in.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/leadscore", `-o "${OUT}/leadscore"`} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("go build step %q lacks %q", goBuild, want)
		}
	}
	base := final[0].args
	if base != "gcr.io/distroless/static-debian12:nonroot" && base != "scratch" {
		t.Errorf("final stage FROM %q", base)
	}
	last := map[string]string{}
	var copies []string
	for _, in := range final {
		last[in.cmd] = in.args
		if in.cmd == "COPY" {
			copies = append(copies, in.args)
		}
	}
	if u := last["USER"]; u == "" || u == "root" || strings.HasPrefix(u, "0") {
		t.Errorf("USER %q: want a non-root user", u)
	}
	if last["ENTRYPOINT"] != `["/leadscore"]` || last["CMD"] != `["serve"]` {
		t.Errorf("ENTRYPOINT %s CMD %s, want [\"/leadscore\"] [\"serve\"]", last["ENTRYPOINT"], last["CMD"])
	}
	if last["EXPOSE"] != "8080" {
		t.Errorf("EXPOSE %q", last["EXPOSE"])
	}
	wantCopies := []string{"--from=build /out/leadscore /leadscore", "--from=build /out/model/ /opt/ml/model/"}
	if !slices.Equal(copies, wantCopies) {
		t.Errorf("final COPY steps %q, want %q", copies, wantCopies)
	}
	// The docker-build-steps.sh contract: RUN steps reach absolute paths
	// only through variables.
	for _, in := range build {
		if in.cmd != "RUN" {
			continue
		}
		for _, w := range strings.Fields(in.args) {
			if strings.HasPrefix(strings.Trim(w, `"`), "/") {
				t.Errorf("RUN step uses the absolute path %s; use ${OUT}", w)
			}
		}
	}
	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, needed := range []string{"go.mod", "go.sum", "cmd", "bundle"} {
		if slices.Contains(strings.Fields(string(ignore)), needed) {
			t.Errorf("Dockerfile.dockerignore excludes %s, which the build needs", needed)
		}
	}
}

// TestDockerBuildSteps runs the Dockerfile's build steps as a script
// (docker-build-steps.sh): they build the binary and the model folder, and
// the result serves. Skipped with -short.
func TestDockerBuildSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	for _, tool := range []string{"bash", "tar", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "docker-build-steps.sh", t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker-build-steps.sh: %v\n%s", err, out.String())
	}
	for _, want := range []string{"static (CGO_ENABLED=0), -trimpath", "bundle          lead-demo", "/ping and /readyz answered 200", "docker-build-steps: OK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// decodeStrict decodes a manifest into a Kubernetes API type, refusing
// unknown fields (a typo in a manifest is an error here, not a silently
// ignored setting).
func decodeStrict(t *testing.T, file string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("k8s", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// serveEnv lists the environment variables serve reads: LEADSCORE_ and
// each flag of cmd/leadscore/serve*.go, plus the registry's.
func serveEnv(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "cmd", "leadscore", "serve*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("serve's sources: %v", err)
	}
	var src []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	env := map[string]bool{
		registry.EnvCacheDir: true, registry.EnvS3Region: true,
		registry.EnvS3Endpoint: true, registry.EnvS3PathStyle: true,
	}
	re := regexp.MustCompile(`fs\.[A-Za-z0-9]*Var\(&?[A-Za-z0-9_.]+, "([a-z0-9-]+)"`)
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		env["LEADSCORE_"+strings.ToUpper(strings.ReplaceAll(m[1], "-", "_"))] = true
	}
	// Deprecated names stay accepted, as LEADSCORE_<OLD> too.
	for _, m := range regexp.MustCompile(`deprecate\("([a-z0-9-]+)"`).FindAllStringSubmatch(string(src), -1) {
		env["LEADSCORE_"+strings.ToUpper(strings.ReplaceAll(m[1], "-", "_"))] = true
	}
	if !env["LEADSCORE_MODEL"] || !env["LEADSCORE_LISTEN"] {
		t.Fatalf("could not read serve's flags: %v", env)
	}
	return env
}

func TestKubernetesManifests(t *testing.T) {
	var dep appsv1.Deployment
	var hpa autoscalingv2.HorizontalPodAutoscaler
	var pdb policyv1.PodDisruptionBudget
	var svc corev1.Service
	decodeStrict(t, "deployment.yaml", &dep)
	decodeStrict(t, "hpa.yaml", &hpa)
	decodeStrict(t, "pdb.yaml", &pdb)
	decodeStrict(t, "service.yaml", &svc)
	for _, tm := range []struct{ got, want string }{
		{dep.APIVersion + " " + dep.Kind, "apps/v1 Deployment"},
		{hpa.APIVersion + " " + hpa.Kind, "autoscaling/v2 HorizontalPodAutoscaler"},
		{pdb.APIVersion + " " + pdb.Kind, "policy/v1 PodDisruptionBudget"},
		{svc.APIVersion + " " + svc.Kind, "v1 Service"},
	} {
		if tm.got != tm.want {
			t.Errorf("kind %q, want %q", tm.got, tm.want)
		}
	}

	pod := dep.Spec.Template
	labels := pod.Labels
	matches := func(sel map[string]string) bool {
		if len(sel) == 0 {
			return false
		}
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return true
	}
	if !matches(dep.Spec.Selector.MatchLabels) || !matches(pdb.Spec.Selector.MatchLabels) || !matches(svc.Spec.Selector) {
		t.Error("a selector (deployment, PDB or service) does not match the pod labels")
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Error("fewer than 2 replicas")
	}

	ps := pod.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Error("pod securityContext must set runAsNonRoot and a non-zero runAsUser")
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext %+v", sc)
	}
	if !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("args %q", c.Args)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v", c.Ports)
	}
	for name, p := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != name || p.HTTPGet.Port.String() != "http" {
			t.Errorf("probe for %s: %+v", name, p)
		}
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[res], c.Resources.Limits[res]
		if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("%s request %s, limit %s", res, req.String(), lim.String())
		}
	}
	env := serveEnv(t)
	leadscoreEnv := 0
	for _, e := range c.Env {
		switch {
		case strings.HasPrefix(e.Name, "LEADSCORE_"):
			leadscoreEnv++
			if !env[e.Name] {
				t.Errorf("env %s is not a serve setting", e.Name)
			}
		case e.Name == "GOMEMLIMIT":
		default:
			t.Errorf("unexpected env %s", e.Name)
		}
	}
	if leadscoreEnv == 0 {
		t.Error("no LEADSCORE_* settings")
	}
	// A read-only root needs writable mounts for temporary files and the
	// registry cache.
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = true
	}
	for _, e := range c.Env {
		if e.Name == registry.EnvCacheDir && !mounts[e.Value] {
			t.Errorf("registry cache %s is not a mounted volume", e.Value)
		}
	}
	if !mounts["/tmp"] {
		t.Error("/tmp is not writable")
	}
	// The data lake (on by default) writes its journal under
	// LEADSCORE_LAKE_DIR: it must be a mounted volume, or serve exits with
	// "mkdir ...: read-only file system"; closed files go to S3, and the
	// local backlog bound stays below the volume's size.
	envOf := map[string]string{}
	for _, e := range c.Env {
		envOf[e.Name] = e.Value
	}
	lakeDir := envOf["LEADSCORE_LAKE_DIR"]
	if lakeDir == "" || !mounts[lakeDir] {
		t.Errorf("lake dir %q is not a mounted volume (the root filesystem is read-only)", lakeDir)
	}
	if u := envOf["LEADSCORE_LAKE_S3_URL"]; !strings.HasPrefix(u, "s3://") {
		t.Errorf("LEADSCORE_LAKE_S3_URL %q: S3 upload must be on", u)
	}
	var lakeVol *corev1.Volume
	for _, m := range c.VolumeMounts {
		if m.MountPath != lakeDir {
			continue
		}
		for i := range pod.Spec.Volumes {
			if pod.Spec.Volumes[i].Name == m.Name {
				lakeVol = &pod.Spec.Volumes[i]
			}
		}
	}
	switch {
	case lakeVol == nil:
		t.Error("the lake mount names no volume")
	case lakeVol.EmptyDir != nil:
		maxLocal, err := resource.ParseQuantity(strings.ReplaceAll(envOf["LEADSCORE_LAKE_MAX_LOCAL"], "iB", "i"))
		if lakeVol.EmptyDir.SizeLimit == nil || err != nil || maxLocal.Cmp(*lakeVol.EmptyDir.SizeLimit) >= 0 {
			t.Errorf("LEADSCORE_LAKE_MAX_LOCAL %q must be set below the lake emptyDir's sizeLimit %v", envOf["LEADSCORE_LAKE_MAX_LOCAL"], lakeVol.EmptyDir.SizeLimit)
		}
	case lakeVol.PersistentVolumeClaim == nil:
		t.Errorf("lake volume %+v: want an emptyDir or a PVC", lakeVol.VolumeSource)
	}
	var sa corev1.ServiceAccount
	decodeStrict(t, "serviceaccount.yaml", &sa)
	if pod.Spec.ServiceAccountName != sa.Name || sa.Annotations["eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("the pod's service account %q must be serviceaccount.yaml's (%q) with an IRSA role for the lake upload", pod.Spec.ServiceAccountName, sa.Name)
	}
	// Termination: the grace period covers the preStop pause and serve's
	// shutdown timeout.
	if pod.Spec.TerminationGracePeriodSeconds == nil || *pod.Spec.TerminationGracePeriodSeconds < 30 {
		t.Error("terminationGracePeriodSeconds below 30")
	}

	ref := hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != dep.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("HPA targets %+v", ref)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas <= *hpa.Spec.MinReplicas {
		t.Error("HPA replica bounds")
	}
	if len(hpa.Spec.Metrics) != 1 || hpa.Spec.Metrics[0].Resource == nil || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU ||
		hpa.Spec.Metrics[0].Resource.Target.Type != autoscalingv2.UtilizationMetricType {
		t.Errorf("HPA metrics %+v", hpa.Spec.Metrics)
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 ||
		pdb.Spec.MinAvailable.IntValue() >= int(*hpa.Spec.MinReplicas) {
		t.Error("PDB minAvailable must be at least 1 and below the HPA minimum, or drains block")
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("service ports %+v", svc.Spec.Ports)
	}

	var kust struct {
		Resources []string `json:"resources"`
	}
	decodeLoose(t, "kustomization.yaml", &kust)
	for _, f := range []string{"deployment.yaml", "hpa.yaml", "pdb.yaml", "service.yaml", "serviceaccount.yaml"} {
		if !slices.Contains(kust.Resources, f) {
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}
}

// TestStrictDecodingCatchesTypos shows that decodeStrict's check has
// teeth: a misspelt field is an error, not a silently ignored setting.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	var dep appsv1.Deployment
	typo := "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: x\n          readinesProbe: {}\n"
	if err := yaml.UnmarshalStrict([]byte(typo), &dep); err == nil || !strings.Contains(err.Error(), "readinesProbe") {
		t.Errorf("typo accepted: %v", err)
	}
}

// decodeLoose decodes YAML into v, ignoring fields v lacks.
func decodeLoose(t *testing.T, file string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("k8s", file))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := json.Unmarshal(js, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
