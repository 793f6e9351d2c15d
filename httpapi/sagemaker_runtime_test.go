package httpapi

import (
	"strings"
	"testing"
)

func TestSageMakerRuntimeRoute(t *testing.T) {
	s, _ := testServer(t, 2, nil)
	tests := []struct {
		path string
		code int
	}{
		{"/endpoints/lead-scorer/invocations", 200},
		{"/endpoints/x/invocations", 200},
		{"/endpoints//invocations", 404},
		{"/endpoints/a/b/invocations", 404},
		{"/endpoints/lead-scorer", 404},
		{"/endpoints/lead-scorer/invocationsx", 404},
	}
	for _, tt := range tests {
		w := do(s, "POST", tt.path, "text/csv", "1,2\n,0.5\n")
		if w.Code != tt.code {
			t.Errorf("POST %s: %d %s, want %d", tt.path, w.Code, w.Body.String(), tt.code)
			continue
		}
		if tt.code == 200 {
			if vals := strings.Split(w.Body.String(), ","); len(vals) != 2 {
				t.Errorf("POST %s: body %q, want two comma-joined probabilities", tt.path, w.Body.String())
			}
		}
	}
	// The same validation and error shape as /invocations.
	w := do(s, "POST", "/endpoints/e/invocations", "text/csv", "1,2,3\n")
	if w.Code != 422 || !strings.Contains(w.Body.String(), `"code":"wrong_feature_count"`) {
		t.Errorf("bad row: %d %s", w.Code, w.Body.String())
	}
	if w := do(s, "GET", "/endpoints/e/invocations", "", ""); w.Code != 405 {
		t.Errorf("GET: %d", w.Code)
	}
	for path, want := range map[string]string{
		"/endpoints/e/invocations": "/invocations",
		"/score":                   "/score",
		"/v2/models/m/infer":       "/v2/models/{name}/infer",
		"/nope":                    "other",
	} {
		if got := RouteName(path); got != want {
			t.Errorf("RouteName(%q) = %q, want %q", path, got, want)
		}
	}
}
