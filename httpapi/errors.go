package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
)

// Error codes sent in the "code" field of an error response. Clients may
// switch on them; they never change meaning.
const (
	codeBadJSON          = "bad_json"              // 400: the body is not valid JSON
	codeBadRequest       = "bad_request"           // 400: valid JSON of the wrong shape
	codeBadParameter     = "bad_parameter"         // 400: a query parameter is invalid
	codeUnknownField     = "unknown_field"         // 400: a JSON object has a field we do not know
	codeUnauthorized     = "unauthorized"          // 401: missing or invalid API key
	codeForbidden        = "forbidden"             // 403: the key may not do this
	codeNotFound         = "not_found"             // 404: no such route or model
	codeMethod           = "method_not_allowed"    // 405
	codeBodyTooLarge     = "body_too_large"        // 413: the body exceeds the body limit
	codeBatchTooLarge    = "batch_too_large"       // 413: more rows than the batch limit
	codeMediaType        = "unsupported_media"     // 415: wrong Content-Type
	codeFeatureCount     = "wrong_feature_count"   // 422: a row has the wrong number of values
	codeInvalidValue     = "invalid_value"         // 422: a value is not a finite number or null
	codeUnknownFeature   = "unknown_feature"       // 422: a named feature the model does not have
	codeDuplicateFeature = "duplicate_feature"     // 422: a named feature given twice for one lead
	codeEmptyBatch       = "empty_batch"           // 422: no rows
	codeModelRejected    = "model_rejected"        // 422: a reload found a broken model
	codeRateLimited      = "rate_limited"          // 429: the key's rate limit is exhausted
	codeScoringFailed    = "scoring_failed"        // 500: the model failed
	codeInternal         = "internal"              // 500: a bug (a handler panicked)
	codeOverloaded       = "overloaded"            // 503: too many requests in flight
	codeNotReady         = "not_ready"             // 503: no model loaded or shutting down
	codeUnavailable      = "request_canceled"      // 503: the request was canceled while scoring
	codeFeatureMissing   = "missing_features"      // 422: a lead object without features
	codeBadTensor        = "bad_tensor"            // 400: a V2 tensor of the wrong shape or type
	codeWrongModel       = "model_not_found"       // 404: a V2 request for another model
	codeReadFailed       = "body_read_failed"      // 400: the body could not be read
	codeMissingBody      = "empty_body"            // 400: no body at all
	codeNotAcceptable    = "not_acceptable"        // 406: an Accept /invocations cannot produce
	codeObjective        = "unsupported_objective" // 500: SAGEMAKER_INFERENCE_OUTPUT for an objective without those outputs
	codeInvalidID        = "invalid_id"            // 400: a lead, inference or V2 request id over its limit or outside its character set
)

// apiError is a request failure with the HTTP status and the JSON error
// fields the client sees. Row is -1 and Feature empty when the failure is
// not about one row or one feature; Field names the header or body field at
// fault (an id), empty otherwise.
type apiError struct {
	Status  int
	Code    string
	Message string
	Row     int
	Feature string
	Field   string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// newError returns an error not tied to a row.
func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...), Row: -1}
}

// rowError returns an error about one row and, when feature is not empty,
// one of its features.
func rowError(status int, code string, row int, feature, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...), Row: row, Feature: feature}
}

// appendError encodes e as {"error":{"code","message","row","feature"}}
// and, for an error about one field (an id), "field"; row and feature are
// null when they do not apply.
func appendError(dst []byte, e *apiError) []byte {
	dst = append(dst, `{"error":{"code":`...)
	dst = appendJSONString(dst, e.Code)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, e.Message)
	dst = append(dst, `,"row":`...)
	if e.Row >= 0 {
		dst = strconv.AppendInt(dst, int64(e.Row), 10)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"feature":`...)
	if e.Feature != "" {
		dst = appendJSONString(dst, e.Feature)
	} else {
		dst = append(dst, "null"...)
	}
	if e.Field != "" {
		dst = append(dst, `,"field":`...)
		dst = appendJSONString(dst, e.Field)
	}
	return append(dst, "}}\n"...)
}

// idError is a 400 invalid_id about field (a header name, or "id" of row
// row when row >= 0); why is what the limits said.
func idError(field string, row int, why error) *apiError {
	e := &apiError{Status: http.StatusBadRequest, Code: codeInvalidID, Row: row, Field: field}
	if row >= 0 {
		e.Message = fmt.Sprintf("row %d: %q %v", row, field, why)
	} else {
		e.Message = fmt.Sprintf("%s %v", field, why)
	}
	return e
}

// appendV2Error encodes e as the Open Inference Protocol's {"error": "..."}.
func appendV2Error(dst []byte, e *apiError) []byte {
	dst = append(dst, `{"error":`...)
	dst = appendJSONString(dst, e.Message)
	return append(dst, "}\n"...)
}

// withFeature names the feature an error is about.
func (e *apiError) withFeature(name string) *apiError {
	e.Feature = name
	return e
}
