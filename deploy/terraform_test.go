package deploy

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// tfConfig is the Terraform configuration, parsed: what `terraform
// validate` would look at, short of the provider schemas (no provider
// registry is reachable here).
type tfConfig struct {
	src       map[string][]byte // file -> content
	resources map[string]*hclsyntax.Block
	data      map[string]*hclsyntax.Block
	variables map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	providers map[string]*hclsyntax.Block
	files     map[*hclsyntax.Block]string
}

func loadTerraform(t *testing.T) *tfConfig {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("terraform", "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .tf files: %v", err)
	}
	c := &tfConfig{
		src: map[string][]byte{}, resources: map[string]*hclsyntax.Block{}, data: map[string]*hclsyntax.Block{},
		variables: map[string]*hclsyntax.Block{}, outputs: map[string]*hclsyntax.Block{},
		locals: map[string]*hclsyntax.Attribute{}, providers: map[string]*hclsyntax.Block{},
		files: map[*hclsyntax.Block]string{},
	}
	p := hclparse.NewParser()
	for _, path := range paths {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", path, diags.Error())
		}
		c.src[path] = f.Bytes
		if got := hclwrite.Format(f.Bytes); string(got) != string(f.Bytes) {
			t.Errorf("%s is not in canonical format (terraform fmt)", path)
		}
		body := f.Body.(*hclsyntax.Body)
		if len(body.Attributes) > 0 {
			t.Errorf("%s: top-level attributes", path)
		}
		for _, b := range body.Blocks {
			c.files[b] = path
			key := strings.Join(b.Labels, ".")
			var into map[string]*hclsyntax.Block
			switch b.Type {
			case "resource":
				into = c.resources
			case "data":
				into = c.data
			case "variable":
				into = c.variables
			case "output":
				into = c.outputs
			case "provider":
				into = c.providers
			case "locals":
				for name, a := range b.Body.Attributes {
					if c.locals[name] != nil {
						t.Errorf("local %s declared twice", name)
					}
					c.locals[name] = a
				}
				continue
			case "terraform":
				continue
			default:
				t.Errorf("%s: unknown block %s", path, b.Type)
				continue
			}
			if into[key] != nil {
				t.Errorf("%s %s declared twice", b.Type, key)
			}
			into[key] = b
		}
	}
	return c
}

// text is an expression's source.
func (c *tfConfig) text(e hclsyntax.Expression) string {
	r := e.Range()
	return string(c.src[r.Filename][r.Start.Byte:r.End.Byte])
}

// literal evaluates an attribute with no variables (a string, number, bool
// or list of them); ok is false when it needs a context.
func literal(b *hclsyntax.Block, name string) (string, bool) {
	a := b.Body.Attributes[name]
	if a == nil {
		return "", false
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() {
		return "", false
	}
	if v.Type().FriendlyName() == "string" {
		return v.AsString(), true
	}
	if v.CanIterateElements() {
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			parts = append(parts, ev.AsString())
		}
		return strings.Join(parts, ","), true
	}
	return v.GoString(), true
}

// walk calls fn on every attribute expression of body, recursively, with
// the names of the enclosing dynamic blocks.
func walk(body *hclsyntax.Body, dynamics []string, fn func(hclsyntax.Expression, []string)) {
	for _, a := range body.Attributes {
		fn(a.Expr, dynamics)
	}
	for _, b := range body.Blocks {
		d := dynamics
		if b.Type == "dynamic" && len(b.Labels) == 1 {
			d = append(slices.Clone(dynamics), b.Labels[0])
		}
		walk(b.Body, d, fn)
	}
}

// TestTerraformReferences checks what validate would: every var., local.,
// data. and resource reference names something declared, every variable is
// used and described, every output described.
func TestTerraformReferences(t *testing.T) {
	c := loadTerraform(t)
	used := map[string]bool{}
	check := func(e hclsyntax.Expression, dynamics []string) {
		for _, tr := range e.Variables() {
			root := tr.RootName()
			var parts []string
			for _, s := range tr[1:] {
				if a, ok := s.(hcl.TraverseAttr); ok {
					parts = append(parts, a.Name)
				}
			}
			at := tr.SourceRange().String()
			switch {
			case root == "var":
				used[parts[0]] = true
				if c.variables[parts[0]] == nil {
					t.Errorf("%s: undeclared variable %s", at, parts[0])
				}
			case root == "local":
				if c.locals[parts[0]] == nil {
					t.Errorf("%s: undeclared local %s", at, parts[0])
				}
			case root == "data":
				if c.data[parts[0]+"."+parts[1]] == nil {
					t.Errorf("%s: undeclared data source %s.%s", at, parts[0], parts[1])
				}
			case root == "path" || root == "count" || root == "each" || root == "terraform" || root == "self":
			case slices.Contains(dynamics, root):
			default:
				if len(parts) == 0 || c.resources[root+"."+parts[0]] == nil {
					t.Errorf("%s: reference to undeclared %s", at, root)
				}
			}
		}
	}
	for _, group := range []map[string]*hclsyntax.Block{c.resources, c.data, c.outputs, c.providers} {
		for _, b := range group {
			walk(b.Body, nil, check)
		}
	}
	for _, v := range c.variables {
		// type = string is a type expression, not a reference.
		for name, a := range v.Body.Attributes {
			if name != "type" {
				check(a.Expr, nil)
			}
		}
		for _, b := range v.Body.Blocks {
			walk(b.Body, nil, check)
		}
	}
	for _, a := range c.locals {
		check(a.Expr, nil)
	}
	for name, v := range c.variables {
		if !used[name] {
			t.Errorf("variable %s is never used", name)
		}
		if _, ok := literal(v, "description"); !ok || v.Body.Attributes["type"] == nil {
			t.Errorf("variable %s needs a description and a type", name)
		}
	}
	for name, o := range c.outputs {
		if _, ok := literal(o, "description"); !ok {
			t.Errorf("output %s needs a description", name)
		}
	}
}

// TestTerraformResources checks the architecture: HTTP API -> Lambda on
// provided.al2023 from make lambda's zip, the lake bucket with lifecycle
// rules, and the optional SageMaker endpoint with autoscaling.
func TestTerraformResources(t *testing.T) {
	c := loadTerraform(t)
	var names []string
	for k := range c.resources {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, want := range []string{
		"aws_apigatewayv2_api.http", "aws_apigatewayv2_integration.lambda", "aws_apigatewayv2_route.default",
		"aws_apigatewayv2_stage.default", "aws_lambda_function.api", "aws_lambda_permission.api",
		"aws_cloudwatch_log_group.lambda", "aws_iam_role.lambda", "aws_iam_role_policy.lambda",
		"aws_s3_bucket.lake", "aws_s3_bucket_lifecycle_configuration.lake", "aws_s3_bucket_public_access_block.lake",
		"aws_s3_bucket_server_side_encryption_configuration.lake", "aws_s3_bucket_policy.lake",
		"aws_sagemaker_model.leadscore", "aws_sagemaker_endpoint_configuration.leadscore", "aws_sagemaker_endpoint.leadscore",
		"aws_appautoscaling_target.sagemaker", "aws_appautoscaling_policy.sagemaker", "aws_iam_role.sagemaker",
	} {
		if c.resources[want] == nil {
			t.Errorf("missing resource %s (have %q)", want, names)
		}
	}
	if c.providers["aws"] == nil {
		t.Error("no provider \"aws\"")
	}
	for res, attrs := range map[string]map[string]string{
		"aws_lambda_function.api":             {"runtime": "provided.al2023", "handler": "bootstrap"},
		"aws_apigatewayv2_api.http":           {"protocol_type": "HTTP"},
		"aws_apigatewayv2_integration.lambda": {"integration_type": "AWS_PROXY", "payload_format_version": "2.0"},
		"aws_apigatewayv2_route.default":      {"route_key": "$default"},
		"aws_lambda_permission.api":           {"principal": "apigateway.amazonaws.com", "action": "lambda:InvokeFunction"},
		"aws_appautoscaling_target.sagemaker": {"service_namespace": "sagemaker", "scalable_dimension": "sagemaker:variant:DesiredInstanceCount"},
		"aws_appautoscaling_policy.sagemaker": {"policy_type": "TargetTrackingScaling"},
	} {
		b := c.resources[res]
		if b == nil {
			continue
		}
		for name, want := range attrs {
			if got, _ := literal(b, name); got != want {
				t.Errorf("%s.%s = %q, want %q", res, name, got, want)
			}
		}
	}
	if zip := c.locals["lambda_zip"]; zip == nil || !strings.Contains(c.text(zip.Expr), "build/lambda/${var.lambda_architecture}/bootstrap.zip") {
		t.Error("local.lambda_zip must default to make lambda's build/lambda/<arch>/bootstrap.zip")
	}
	if arch := c.text(c.resources["aws_lambda_function.api"].Body.Attributes["architectures"].Expr); arch != "[var.lambda_architecture]" {
		t.Errorf("architectures = %s", arch)
	}

	// The SageMaker part is toggled by one variable.
	if en := c.locals["sagemaker_enabled"]; en == nil || c.text(en.Expr) != "var.enable_sagemaker ? 1 : 0" {
		t.Error("local.sagemaker_enabled must be var.enable_sagemaker ? 1 : 0")
	}
	for key, b := range c.resources {
		if !strings.Contains(key, "sagemaker") {
			continue
		}
		if a := b.Body.Attributes["count"]; a == nil || c.text(a.Expr) != "local.sagemaker_enabled" {
			t.Errorf("%s must have count = local.sagemaker_enabled", key)
		}
	}

	// Lifecycle: transitions and expiry on the lake prefix.
	lc := c.resources["aws_s3_bucket_lifecycle_configuration.lake"]
	var transitions, expirations int
	for _, rule := range lc.Body.Blocks {
		for _, b := range rule.Body.Blocks {
			switch b.Type {
			case "transition":
				transitions++
			case "expiration":
				expirations++
			case "filter":
				if p := b.Body.Attributes["prefix"]; p != nil && !strings.Contains(c.text(p.Expr), "local.lake_prefix") {
					t.Errorf("lifecycle filter prefix %s", c.text(p.Expr))
				}
			}
		}
	}
	if transitions < 2 || expirations < 1 {
		t.Errorf("lake lifecycle has %d transitions and %d expirations", transitions, expirations)
	}
	for _, out := range []string{"api_endpoint", "lambda_function_name", "lake_bucket", "lake_url", "sagemaker_endpoint_name"} {
		if c.outputs[out] == nil {
			t.Errorf("missing output %s", out)
		}
	}
}

// iamStatement is one statement of an aws_iam_policy_document.
type iamStatement struct {
	doc, sid, effect string
	actions          []string
	resources        string // source text
	dynamic          string // for_each of an enclosing dynamic block
	conditional      bool
}

func (c *tfConfig) statements(t *testing.T) []iamStatement {
	t.Helper()
	var out []iamStatement
	for key, d := range c.data {
		if !strings.HasPrefix(key, "aws_iam_policy_document.") {
			continue
		}
		doc := strings.TrimPrefix(key, "aws_iam_policy_document.")
		for _, b := range d.Body.Blocks {
			body, dyn := b.Body, ""
			switch {
			case b.Type == "statement":
			case b.Type == "dynamic" && b.Labels[0] == "statement":
				dyn = c.text(b.Body.Attributes["for_each"].Expr)
				for _, cb := range b.Body.Blocks {
					if cb.Type == "content" {
						body = cb.Body
					}
				}
			default:
				continue
			}
			st := iamStatement{doc: doc, dynamic: dyn, effect: "Allow"}
			blk := &hclsyntax.Block{Body: body}
			st.sid, _ = literal(blk, "sid")
			if e, ok := literal(blk, "effect"); ok {
				st.effect = e
			}
			acts, ok := literal(blk, "actions")
			if !ok {
				t.Errorf("%s/%s: actions must be a literal list", doc, st.sid)
			}
			st.actions = strings.Split(acts, ",")
			if r := body.Attributes["resources"]; r != nil {
				st.resources = c.text(r.Expr)
			}
			for _, cb := range body.Blocks {
				if cb.Type == "condition" {
					st.conditional = true
				}
			}
			out = append(out, st)
		}
	}
	return out
}

// TestTerraformIAM checks least privilege: no wildcard actions anywhere;
// "*" resources only where AWS has no resource-level permissions; and the
// function's policy is exactly: its log stream, PutObject under the lake
// prefix, InvokeEndpoint on the one endpoint when SageMaker is on.
func TestTerraformIAM(t *testing.T) {
	c := loadTerraform(t)
	sts := c.statements(t)
	action := regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z]+$`)
	starOK := map[string]bool{"ecr:GetAuthorizationToken": true, "cloudwatch:PutMetricData": true}
	lambda := map[string]string{}
	for _, st := range sts {
		for _, a := range st.actions {
			if !action.MatchString(a) {
				t.Errorf("%s/%s: action %q is a wildcard or malformed", st.doc, st.sid, a)
			}
			if st.effect == "Allow" && st.resources == `["*"]` && !starOK[a] {
				t.Errorf("%s/%s: %s allowed on every resource", st.doc, st.sid, a)
			}
			if st.doc == "lambda" {
				lambda[a] = st.resources
				if st.dynamic != "" {
					lambda[a] += " if " + st.dynamic
				}
			}
		}
		if st.effect == "Allow" && st.resources == `["*"]` && st.actions[0] == "cloudwatch:PutMetricData" && !st.conditional {
			t.Errorf("%s/%s: PutMetricData on * needs a namespace condition", st.doc, st.sid)
		}
	}
	want := map[string]string{
		"logs:CreateLogStream":     `["${aws_cloudwatch_log_group.lambda.arn}:*"]`,
		"logs:PutLogEvents":        `["${aws_cloudwatch_log_group.lambda.arn}:*"]`,
		"s3:PutObject":             `["${aws_s3_bucket.lake.arn}/${local.lake_prefix}/*"]`,
		"s3:AbortMultipartUpload":  `["${aws_s3_bucket.lake.arn}/${local.lake_prefix}/*"]`,
		"sagemaker:InvokeEndpoint": `["arn:${local.partition}:sagemaker:${var.region}:${local.account_id}:endpoint/${local.sagemaker_endpoint}"] if var.enable_sagemaker ? [1] : []`,
	}
	if fmt.Sprint(lambda) != fmt.Sprint(want) {
		t.Errorf("lambda policy\n got %v\nwant %v", lambda, want)
	}
	// The role policy attaches that document to the function's role.
	rp := c.resources["aws_iam_role_policy.lambda"]
	if got := c.text(rp.Body.Attributes["policy"].Expr); got != "data.aws_iam_policy_document.lambda.json" {
		t.Errorf("lambda role policy = %s", got)
	}
	if got := c.text(c.resources["aws_lambda_function.api"].Body.Attributes["role"].Expr); got != "aws_iam_role.lambda.arn" {
		t.Errorf("lambda role = %s", got)
	}
	// Nothing else grants the function's role anything.
	for key, b := range c.resources {
		if strings.HasPrefix(key, "aws_iam_role_policy_attachment.") || (strings.HasPrefix(key, "aws_iam_role_policy.") && key != "aws_iam_role_policy.lambda") {
			if r := b.Body.Attributes["role"]; r != nil && strings.Contains(c.text(r.Expr), "aws_iam_role.lambda") {
				t.Errorf("%s also grants the function's role", key)
			}
		}
	}
	var docs []string
	for _, st := range sts {
		docs = append(docs, st.doc+"/"+st.sid)
	}
	if len(docs) < 8 {
		t.Errorf("found only %d statements: %q", len(docs), docs)
	}
}
