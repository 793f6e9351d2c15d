package monitor

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
)

// MaxFeedbackBody bounds a feedback request body.
const MaxFeedbackBody = 4 << 20

// apiError is the JSON error body: {"error":{"code","message","field"}},
// field null when the error is not about one field.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Field   *string `json:"field"`
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes a JSON error.
func writeError(w http.ResponseWriter, status int, code, field, msg string) {
	e := apiError{Error: apiErrorBody{Code: code, Message: msg}}
	if field != "" {
		e.Error.Field = &field
	}
	writeJSON(w, status, e)
}

// ReportHandler serves GET /v1/monitoring: Report as JSON.
func (m *Monitor) ReportHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "", "use GET")
			return
		}
		writeJSON(w, http.StatusOK, m.Report())
	})
}

// FeedbackHandler serves POST /v1/feedback: outcomes as ParseFeedback
// reads them, answered with a FeedbackResult. Bad input gets a 4xx with a
// JSON error: 400 bad_json, unknown_field or invalid_id, 405, 413 body_too_large or
// batch_too_large, 415 unsupported_media, 422 invalid_value or
// empty_batch.
func (m *Monitor) FeedbackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "", "use POST")
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, "unsupported_media", "", "send Content-Type: application/json")
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFeedbackBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "", "the body is larger than the server accepts (at most 4 MiB)")
				return
			}
			writeError(w, http.StatusBadRequest, "body_read_failed", "", "could not read the body")
			return
		}
		fbs, err := ParseFeedback(body, m.now(), m.cfg.IDs, m.cfg.Outcomes)
		if err != nil {
			var fe *FeedbackError
			if !errors.As(err, &fe) {
				writeError(w, http.StatusBadRequest, "bad_request", "", err.Error())
				return
			}
			writeError(w, fe.Status(), fe.Code, fe.Field, fe.Message)
			return
		}
		writeJSON(w, http.StatusOK, m.Feedback(fbs))
	})
}

// Status is the HTTP status of the error: 400 for bad_json, unknown_field
// and invalid_id, 413 for batch_too_large, 422 for the rest
// (invalid_value, empty_batch).
func (e *FeedbackError) Status() int {
	switch e.Code {
	case "bad_json", "unknown_field", "invalid_id":
		return http.StatusBadRequest
	case "batch_too_large":
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusUnprocessableEntity
	}
}
