package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return doc
}

// samplePath fills a route pattern's parameters with values the fake
// server answers for.
func samplePath(pattern string) string {
	r := strings.NewReplacer("{name}", "fake", "{version}", "1", "{endpoint}", "lead-scorer", "{asset}", "app.js")
	return r.Replace(pattern)
}

// TestOpenAPIDocument validates /openapi.json with kin-openapi and checks
// that the document's operations and the router's routes are the same
// set: each routeTable entry is documented and each documented operation
// is in routeTable; each entry reaches its route through routeOf, every
// route is in the table, and the server answers each documented operation
// with neither "no route" nor 405.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	inTable := map[string]bool{}
	covered := map[route]bool{}
	for _, rs := range routeTable {
		key := rs.method + " " + rs.pattern
		inTable[key] = true
		covered[rs.route] = true
		if !documented[key] {
			t.Errorf("route %s is not in openapi.json", key)
		}
		if got := routeOf(samplePath(rs.pattern)); got != rs.route {
			t.Errorf("routeOf(%s) = %s, routeTable says %s", samplePath(rs.pattern), routeNames[got], routeNames[rs.route])
		}
	}
	var extra []string
	for key := range documented {
		if !inTable[key] {
			extra = append(extra, key)
		}
	}
	sort.Strings(extra)
	for _, key := range extra {
		t.Errorf("openapi.json documents %s, which the router does not serve", key)
	}
	for r := route(0); r < numRoutes; r++ {
		if r != routeOther && !covered[r] {
			t.Errorf("route %s is in the router but not in routeTable (nor openapi.json)", routeNames[r])
		}
	}

	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }
	s, _ := testServer(t, 2, func(c *Config) {
		c.Monitoring = http.HandlerFunc(ok)
		c.Feedback = http.HandlerFunc(ok)
		c.Console = http.HandlerFunc(ok)
		c.APIKeys = []APIKey{{Name: "admin", Hash: sha256.Sum256([]byte("k")), Admin: true}}
	})
	for _, rs := range routeTable {
		r := newRequest(rs.method, samplePath(rs.pattern), "application/json", "{}")
		r.Header.Set("Authorization", "Bearer k")
		w := record(s, r)
		if w.Code == 405 || w.Code == 404 && strings.Contains(w.Body.String(), "no route") {
			t.Errorf("%s %s: %d %s", rs.method, samplePath(rs.pattern), w.Code, w.Body)
		}
		other := http.MethodPost
		if rs.method == http.MethodPost {
			other = http.MethodGet
		}
		if rs.route == routeMonitoring || rs.route == routeFeedback || rs.route == routeConsole {
			continue // their handlers (stand-ins here) check the method
		}
		if w := do(s, other, samplePath(rs.pattern), "", ""); w.Code != 405 && w.Code != 404 {
			t.Errorf("%s %s (undocumented method): %d, want 405", other, samplePath(rs.pattern), w.Code)
		}
	}
	for _, p := range []string{"/nope", "/v2/models/fake/other", "/endpoints/a/b/invocations", "/v1", "/openapi.yaml"} {
		if routeOf(p) != routeOther && routeOf(p) != routeV2Model {
			t.Errorf("routeOf(%s) = %s, an undocumented path", p, routeNames[routeOf(p)])
		}
	}

	w := do(s, "GET", "/openapi.json", "", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || !bytes.Equal(w.Body.Bytes(), openAPIDocument) {
		t.Errorf("GET /openapi.json: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
}

// TestOpenAPIResponses validates real requests and responses of the main
// routes against the document's schemas with kin-openapi's filter.
func TestOpenAPIResponses(t *testing.T) {
	doc := loadOpenAPI(t)
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	s := demoServer(t, SageMaker{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	row := "[" + strings.TrimSuffix(strings.Repeat("1,", 50), ",") + "]"
	cases := []struct{ method, path, ctype, accept, body string }{
		{"POST", "/score?explain=2", "application/json", "", `{"leads":[{"id":"a","features":` + row + `}]}`},
		{"POST", "/score", "application/json", "", `{"columns":["company_size_log"],"index":["x"],"data":[[NaN]]}`},
		{"POST", "/invocations", "application/json", "application/json", "[" + row + "]"},
		{"POST", "/invocations", "text/csv", "application/vnd.leadscore+json", strings.Trim(row, "[]")},
		{"GET", "/execution-parameters", "", "", ""},
		{"GET", "/v2", "", "", ""},
		{"GET", "/v2/models/lead-demo", "", "", ""},
		{"GET", "/v2/models/lead-demo/config", "", "", ""},
		{"POST", "/v2/models/lead-demo/infer", "application/json", "", `{"id":"1","inputs":[{"name":"input-0","shape":[1,50],"datatype":"INT64","data":` + row + `}],"outputs":[{"name":"tier"},{"name":"contributions"}]}`},
		{"POST", "/score", "application/json", "", `[[1]]`},
		{"POST", "/v2/models/lead-demo/infer", "application/json", "", `{"inputs":[{"name":"x","shape":[1,1],"datatype":"BYTES","data":["a"]}]}`},
	}
	ctx := context.Background()
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if c.body != "" && !strings.Contains(c.body, "NaN") && !strings.Contains(c.body, "BYTES") && c.body != "[[1]]" {
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
				t.Errorf("%s %s request: %v", c.method, c.path, err)
			}
			req.Body = io.NopCloser(strings.NewReader(c.body))
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Body: io.NopCloser(bytes.NewReader(body))}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s response %d %s: %v", c.method, c.path, resp.StatusCode, body, err)
		}
	}
}
