package httpapi

import (
	"context"
	"net/http"
)

// serveHealthz answers GET /healthz: 200 while the process is alive.
func (s *Server) serveHealthz(ex *exchange, r *http.Request) {
	if !s.allowMethod(ex, r, http.MethodGet) {
		return
	}
	ex.w.Header()["Cache-Control"] = noStore
	s.write(ex, http.StatusOK, ctJSON, append(ex.out[:0], "{\"status\":\"ok\"}\n"...))
}

// serveReady answers GET /readyz and SageMaker's GET /ping: 200 with the
// model in use while a model is loaded and the server is not draining,
// 503 otherwise.
func (s *Server) serveReady(ex *exchange, r *http.Request) {
	if !s.allowMethod(ex, r, http.MethodGet) {
		return
	}
	ex.w.Header()["Cache-Control"] = noStore
	m := s.model.Load()
	if m == nil || s.draining.Load() {
		s.fail(ex, newError(http.StatusServiceUnavailable, codeNotReady, "not ready: shutting down"))
		return
	}
	out := append(ex.out[:0], `{"status":"ready","model":`...)
	out = append(out, m.modelJSON...)
	ex.out = append(out, "}\n"...)
	s.write(ex, http.StatusOK, ctJSON, ex.out)
}

// serveReload answers POST /admin/reload: reload the model from its source
// with a key that has the admin role. 200 with the model now in use, or
// 422 with the reason a broken model was rejected (the old one keeps
// serving).
func (s *Server) serveReload(ex *exchange, r *http.Request) {
	if !s.allowMethod(ex, r, http.MethodPost) || !s.adminKey(ex, r) {
		return
	}
	// A client that hangs up does not abandon the reload half-way.
	if err := s.Reload(context.WithoutCancel(r.Context()), "admin"); err != nil {
		s.fail(ex, newError(http.StatusUnprocessableEntity, codeModelRejected, "%v", err))
		return
	}
	m := s.model.Load()
	out := append(ex.out[:0], `{"status":"reloaded","model":`...)
	out = append(out, m.modelJSON...)
	ex.out = append(out, "}\n"...)
	s.write(ex, http.StatusOK, ctJSON, ex.out)
}

// adminKey checks the request carries an API key with the admin role,
// answering it when not.
func (s *Server) adminKey(ex *exchange, r *http.Request) bool {
	if !s.hasAdmin {
		s.fail(ex, newError(http.StatusForbidden, codeForbidden, "the admin API is off: configure an API key with the admin role"))
		return false
	}
	key, _ := s.authenticate(r)
	if key == nil {
		s.unauthorized(ex, "an admin API key is required")
		return false
	}
	ex.key = key
	if !key.Admin {
		s.fail(ex, newError(http.StatusForbidden, codeForbidden, "API key %q does not have the admin role", key.Name))
		return false
	}
	return true
}
