package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// maxAssets is the console's weight budget (issue 15: under 200 KB).
const maxAssets = 200 << 10

func TestHandler(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if n := h.Size(); n > maxAssets || n < 10<<10 {
		t.Errorf("assets total %d bytes, want under %d", n, maxAssets)
	}
	for _, tc := range []struct {
		path, ctype string
		status      int
	}{
		{"/", "text/html; charset=utf-8", 200},
		{"/docs", "text/html; charset=utf-8", 200},
		{"/ui/console.js", "text/javascript; charset=utf-8", 200},
		{"/ui/common.js", "text/javascript; charset=utf-8", 200},
		{"/ui/docs.js", "text/javascript; charset=utf-8", 200},
		{"/ui/console.css", "text/css; charset=utf-8", 200},
		{"/ui/icon.svg", "image/svg+xml", 200},
		{"/ui/index.html", "application/json", 404},
		{"/ui/../web.go", "application/json", 404},
		{"/ui/nope.js", "application/json", 404},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		if w.Code != tc.status || w.Header().Get("Content-Type") != tc.ctype {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, w.Code, w.Header().Get("Content-Type"), tc.status, tc.ctype)
		}
		csp := w.Header().Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", tc.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("CSP allows inline code: %q", csp)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tc.path)
		}
	}
	// Revalidation with the ETag.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ui/console.js", nil))
	r := httptest.NewRequest("GET", "/ui/console.js", nil)
	r.Header.Set("If-None-Match", w.Header().Get("ETag"))
	w2 := httptest.NewRecorder()
	h.ServeHTTP(w2, r)
	if w2.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", w2.Code)
	}
}

// TestNoInlineCode: the pages carry no inline script, style or event
// handler (the CSP would block them), no data and nothing from elsewhere.
func TestNoInlineCode(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	bad := []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`), // a script with a body
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`),
		regexp.MustCompile(`(?:src|href)="(?:https?:)?//`),
		regexp.MustCompile(`@import|url\(http`),
	}
	for name, a := range h.assets {
		if !strings.HasSuffix(name, ".html") && !strings.HasSuffix(name, ".css") {
			continue
		}
		for _, re := range bad {
			if loc := re.FindIndex(a.body); loc != nil {
				t.Errorf("%s: %q at byte %d", name, a.body[loc[0]:loc[1]], loc[0])
			}
		}
	}
	for name, a := range h.assets {
		if strings.HasSuffix(name, ".js") && regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function`).Match(a.body) {
			t.Errorf("%s builds HTML from strings or evaluates code", name)
		}
	}
}
