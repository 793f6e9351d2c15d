// Package web is leadscore's live console: one page at / that shows the
// service, the model, drift, quality and variants, and scores a lead by
// hand, plus /docs, which renders the service's OpenAPI document. The
// page, its script and its styles are embedded in the binary (no CDN, no
// external font: it works offline) and carry no data: the page reads the
// service's own JSON routes (/v1/stats, /v1/monitoring, /v1/variants,
// /score, /openapi.json) with the API key the user types, kept in
// sessionStorage and sent as a Bearer header.
//
// Every response carries a Content-Security-Policy that allows only the
// page's own scripts, styles and API calls (no inline script, no frames),
// and X-Content-Type-Options: nosniff.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every console response: scripts,
// styles, images and API calls from the service itself only, nothing
// inline, no plugins, no framing, no form posts elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one embedded file ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the console: GET / (the console), GET /docs (the API
// document) and GET /ui/NAME (scripts, styles, icon). Other paths are 404.
type Handler struct {
	assets map[string]asset
}

// New loads the embedded console.
func New() (*Handler, error) {
	h := &Handler{assets: map[string]asset{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // not every system's MIME table has these
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		h.assets[strings.TrimPrefix(p, "static/")] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Size is the total size in bytes of the embedded assets.
func (h *Handler) Size() int {
	n := 0
	for _, a := range h.assets {
		n += len(a.body)
	}
	return n
}

// ServeHTTP serves one console file with the security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var name string
	switch p := r.URL.Path; {
	case p == "/":
		name = "index.html"
	case p == "/docs":
		name = "docs.html"
	case strings.HasPrefix(p, "/ui/") && !strings.Contains(p[len("/ui/"):], "/"):
		name = p[len("/ui/"):]
		if strings.HasSuffix(name, ".html") {
			name = ""
		}
	}
	a, ok := h.assets[name]
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !ok {
		hd.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no such console file","row":null,"feature":null}}` + "\n"))
		return
	}
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", "no-cache") // revalidate: a new binary may bring new assets
	hd.Set("ETag", a.etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.body)
}
