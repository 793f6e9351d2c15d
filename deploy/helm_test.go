package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/leadscore/leadscore/registry"
)

// chartDir is the Helm chart, relative to this package.
const chartDir = "helm/leadscore"

// helmBin finds helm (installed by scripts/install-tools.sh). Without it the
// chart tests skip, unless LEADSCORE_HELM=1 (set by scripts/test.sh, so CI
// cannot pass without running them).
func helmBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "helm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("LEADSCORE_HELM") == "1" {
		t.Fatal("LEADSCORE_HELM=1 but helm is not installed (scripts/install-tools.sh installs it)")
	}
	t.Skip("helm not installed (scripts/install-tools.sh); LEADSCORE_HELM=1 makes this a failure")
	return ""
}

func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helmBin(t), args...)
	// No repositories, no network, no user config: a throwaway helm home.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// rendered holds one `helm template` run, decoded strictly into the k8s
// API types (a misspelt field is an error).
type rendered struct {
	deploy   *appsv1.Deployment
	sts      *appsv1.StatefulSet
	svc      *corev1.Service
	hpa      *autoscalingv2.HorizontalPodAutoscaler
	pdb      *policyv1.PodDisruptionBudget
	secret   *corev1.Secret
	sa       *corev1.ServiceAccount
	monitor  *serviceMonitor
	podSpec  corev1.PodTemplateSpec
	workload string // kind
	name     string
}

// serviceMonitor is the part of the Prometheus Operator's type the chart
// uses (the operator's Go module is not a dependency).
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

func helmTemplate(t *testing.T, set ...string) rendered {
	t.Helper()
	args := []string{"template", "lead", chartDir, "--namespace", "scoring"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := runHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	var r rendered
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
		doc = strings.TrimSpace(doc)
		if doc == "" || strings.Trim(doc, "# \n") == "" {
			continue
		}
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, doc)
		}
		var target any
		switch head.Kind {
		case "Deployment":
			r.deploy = &appsv1.Deployment{}
			target = r.deploy
		case "StatefulSet":
			r.sts = &appsv1.StatefulSet{}
			target = r.sts
		case "Service":
			r.svc = &corev1.Service{}
			target = r.svc
		case "HorizontalPodAutoscaler":
			r.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
			target = r.hpa
		case "PodDisruptionBudget":
			r.pdb = &policyv1.PodDisruptionBudget{}
			target = r.pdb
		case "Secret":
			r.secret = &corev1.Secret{}
			target = r.secret
		case "ServiceAccount":
			r.sa = &corev1.ServiceAccount{}
			target = r.sa
		case "ServiceMonitor":
			r.monitor = &serviceMonitor{}
			target = r.monitor
		default:
			t.Fatalf("unexpected kind %q rendered", head.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
			t.Fatalf("%s does not decode into the k8s type: %v\n%s", head.Kind, err, doc)
		}
	}
	switch {
	case r.deploy != nil && r.sts == nil:
		r.podSpec, r.workload, r.name = r.deploy.Spec.Template, "Deployment", r.deploy.Name
	case r.sts != nil && r.deploy == nil:
		r.podSpec, r.workload, r.name = r.sts.Spec.Template, "StatefulSet", r.sts.Name
	default:
		t.Fatal("want exactly one Deployment or StatefulSet")
	}
	if r.svc == nil {
		t.Fatal("no Service rendered")
	}
	return r
}

func (r rendered) env() map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range r.podSpec.Spec.Containers[0].Env {
		m[e.Name] = e
	}
	return m
}

func (r rendered) mounts() map[string]string {
	m := map[string]string{}
	for _, v := range r.podSpec.Spec.Containers[0].VolumeMounts {
		m[v.MountPath] = v.Name
	}
	return m
}

var (
	serveSettingsOnce sync.Once
	serveSettings     map[string]bool
	serveSettingsErr  error
)

// knownServeEnv lists the LEADSCORE_* variables serve reads, from the help
// the binary itself prints, plus the registry's S3 settings.
func knownServeEnv(t *testing.T) map[string]bool {
	t.Helper()
	serveSettingsOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		bin := filepath.Join(os.TempDir(), fmt.Sprintf("leadscore-helmtest-%d", os.Getpid()))
		defer func() { _ = os.Remove(bin) }()
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/leadscore").CombinedOutput(); err != nil {
			serveSettingsErr = fmt.Errorf("go build: %w: %s", err, out)
			return
		}
		out, _ := exec.CommandContext(ctx, bin, "serve", "--help").CombinedOutput() // help may exit 0 or 2; the text is what counts
		serveSettings = map[string]bool{
			registry.EnvCacheDir: true, registry.EnvS3Region: true,
			registry.EnvS3Endpoint: true, registry.EnvS3PathStyle: true,
		}
		for _, m := range regexp.MustCompile(`LEADSCORE_[A-Z0-9_]+`).FindAllString(string(out), -1) {
			serveSettings[m] = true
		}
		if !serveSettings["LEADSCORE_MODEL"] || !serveSettings["LEADSCORE_LAKE_DIR"] {
			serveSettingsErr = fmt.Errorf("serve --help names no LEADSCORE_MODEL or LEADSCORE_LAKE_DIR:\n%s", out)
		}
	})
	if serveSettingsErr != nil {
		t.Fatal(serveSettingsErr)
	}
	return serveSettings
}

func TestHelmLint(t *testing.T) {
	for _, set := range [][]string{
		nil,
		{"lake.persistence.enabled=true", "serviceMonitor.enabled=true", "apiKeys.required=true", "apiKeys.keys=crm:" + strings.Repeat("ab", 32)},
	} {
		args := []string{"lint", "--strict", chartDir}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		if out, err := runHelm(t, args...); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
}

// TestHelmChartDefaults: the default values give what deploy/k8s gives, a
// hardened, probed, autoscaled Deployment, plus a writable lake.
func TestHelmChartDefaults(t *testing.T) {
	r := helmTemplate(t)
	if r.workload != "Deployment" || r.name != "lead-leadscore" {
		t.Fatalf("workload %s %s", r.workload, r.name)
	}
	checkPod(t, r)
	env := r.env()
	if env["LEADSCORE_MODEL"].Value != "/opt/ml/model" {
		t.Errorf("model %q", env["LEADSCORE_MODEL"].Value)
	}
	if r.hpa == nil || r.hpa.Spec.ScaleTargetRef.Kind != "Deployment" || r.hpa.Spec.ScaleTargetRef.Name != r.name {
		t.Errorf("HPA %+v", r.hpa)
	}
	if r.deploy.Spec.Replicas != nil {
		t.Error("replicas set while the HPA owns them")
	}
	if r.pdb == nil || !selects(r.pdb.Spec.Selector.MatchLabels, r.podSpec.Labels) {
		t.Error("PDB missing or does not select the pods")
	}
	if r.pdb.Spec.MinAvailable.IntValue() >= int(*r.hpa.Spec.MinReplicas) {
		t.Error("PDB minAvailable must be below the HPA minimum, or drains block")
	}
	if r.monitor != nil || r.secret != nil {
		t.Error("ServiceMonitor or Secret rendered by default")
	}
	if _, ok := env["LEADSCORE_API_KEYS"]; ok {
		t.Error("API keys set by default")
	}
	if r.sa == nil || r.podSpec.Spec.ServiceAccountName != r.sa.Name {
		t.Error("service account")
	}
}

// TestHelmChartMinIO is docs/deploy.md's on-prem example: the model from a
// registry on MinIO, the lake uploaded to MinIO, keys and the webhook from
// Secrets, a ServiceMonitor, and each pod's lake on its own claim.
func TestHelmChartMinIO(t *testing.T) {
	r := helmTemplate(t,
		"model.source=registry:s3://models/leadscore#lead-demo@prod",
		"s3.endpoint=http://minio.minio.svc:9000",
		"s3.pathStyle=true",
		"s3CredentialsSecret=minio-credentials",
		"lake.s3.url=s3://lake/leadscore",
		"lake.persistence.enabled=true",
		"lake.persistence.size=20Gi",
		"apiKeys.required=true",
		"apiKeys.existingSecret=leadscore-keys",
		"monitor.webhookSecret=slack",
		"serviceMonitor.enabled=true",
		"serviceMonitor.labels.release=prom",
	)
	if r.workload != "StatefulSet" {
		t.Fatalf("persistent lake: %s, want StatefulSet", r.workload)
	}
	checkPod(t, r)
	env := r.env()
	for name, want := range map[string]string{
		"LEADSCORE_MODEL":           "registry:s3://models/leadscore#lead-demo@prod",
		"LEADSCORE_S3_ENDPOINT":     "http://minio.minio.svc:9000",
		"LEADSCORE_S3_PATH_STYLE":   "true",
		"LEADSCORE_LAKE_S3_URL":     "s3://lake/leadscore",
		"LEADSCORE_REQUIRE_API_KEY": "true",
	} {
		if env[name].Value != want {
			t.Errorf("%s=%q, want %q", name, env[name].Value, want)
		}
	}
	// Secret names, not secrets.
	for name, secret := range map[string]string{ //nolint:gosec // G101: Secret names, not credentials
		"LEADSCORE_API_KEYS":            "leadscore-keys",
		"LEADSCORE_MONITOR_WEBHOOK_URL": "slack",
		"AWS_ACCESS_KEY_ID":             "minio-credentials",
		"AWS_SECRET_ACCESS_KEY":         "minio-credentials",
	} {
		e := env[name]
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != secret {
			t.Errorf("%s is not read from Secret %s: %+v", name, secret, e)
		}
	}
	if r.secret != nil {
		t.Error("a Secret was rendered although existingSecret was given")
	}
	claims := r.sts.Spec.VolumeClaimTemplates
	if len(claims) != 1 || claims[0].Name != "lake" || claims[0].Spec.Resources.Requests.Storage().String() != "20Gi" {
		t.Errorf("volume claims %+v", claims)
	}
	for _, v := range r.podSpec.Spec.Volumes {
		if v.Name == "lake" {
			t.Error("lake is both an emptyDir and a claim")
		}
	}
	if r.hpa.Spec.ScaleTargetRef.Kind != "StatefulSet" {
		t.Errorf("HPA targets %s", r.hpa.Spec.ScaleTargetRef.Kind)
	}
	m := r.monitor
	if m == nil || m.APIVersion != "monitoring.coreos.com/v1" || m.Metadata.Labels["release"] != "prom" ||
		!selects(m.Spec.Selector.MatchLabels, r.svc.Labels) || len(m.Spec.Endpoints) != 1 ||
		m.Spec.Endpoints[0].Port != "http" || m.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor %+v", m)
	}
}

// TestHelmChartKeysSecret: keys given as values become a Secret the pod reads.
func TestHelmChartKeysSecret(t *testing.T) {
	keys := "crm:" + strings.Repeat("0f", 32) + ",ops:" + strings.Repeat("a1", 32) + ":admin"
	r := helmTemplate(t, "apiKeys.required=true", "apiKeys.keys="+strings.ReplaceAll(keys, ",", `\,`))
	if r.secret == nil || r.secret.StringData["api-keys"] != keys {
		t.Fatalf("secret %+v", r.secret)
	}
	ref := r.env()["LEADSCORE_API_KEYS"].ValueFrom
	if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != r.secret.Name || ref.SecretKeyRef.Key != "api-keys" {
		t.Errorf("pod does not read the Secret: %+v", ref)
	}
	// Required keys with no source is refused at render time, not at start.
	if out, err := runHelm(t, "template", "lead", chartDir, "--set", "apiKeys.required=true"); err == nil ||
		!strings.Contains(out, "apiKeys.required needs") {
		t.Errorf("required keys without a source rendered: %v\n%s", err, out)
	}
}

// checkPod holds the invariants every rendering must keep.
func checkPod(t *testing.T, r rendered) {
	t.Helper()
	pod := r.podSpec
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("args %q", c.Args)
	}
	var sel map[string]string
	if r.deploy != nil {
		sel = r.deploy.Spec.Selector.MatchLabels
	} else {
		sel = r.sts.Spec.Selector.MatchLabels
	}
	if !selects(sel, pod.Labels) || !selects(r.svc.Spec.Selector, pod.Labels) {
		t.Error("workload or Service selector does not match the pod labels")
	}
	ps := pod.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Error("pod must run as non-root")
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container securityContext %+v", sc)
	}
	for path, p := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("probe %s: %+v", path, p)
		}
	}
	if c.StartupProbe == nil {
		t.Error("no startup probe")
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[res], c.Resources.Limits[res]
		if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("%s request %s, limit %s", res, req.String(), lim.String())
		}
	}
	// Every LEADSCORE_* variable is one serve reads.
	known := knownServeEnv(t)
	env := r.env()
	for name := range env {
		if strings.HasPrefix(name, "LEADSCORE_") && !known[name] {
			t.Errorf("env %s is not a serve setting", name)
		}
	}
	// The root is read-only: the lake directory, the registry cache and /tmp
	// must be mounted volumes, or serve exits with "read-only file system".
	mounts := r.mounts()
	for _, dir := range []string{env["LEADSCORE_LAKE_DIR"].Value, env[registry.EnvCacheDir].Value, "/tmp"} {
		if dir == "" || mounts[dir] == "" {
			t.Errorf("%q is not a mounted volume (mounts %v)", dir, mounts)
		}
	}
	if pod.Spec.TerminationGracePeriodSeconds == nil || *pod.Spec.TerminationGracePeriodSeconds < 30 {
		t.Error("terminationGracePeriodSeconds below 30")
	}
}

func selects(sel, labels map[string]string) bool {
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
