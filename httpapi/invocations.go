package httpapi

import (
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/leadscore/leadscore"
)

// SageMaker configures POST /invocations the way the environment of
// SageMaker's built-in XGBoost container configures it. Each field is read
// from the variable of the same name by cmd/leadscore; the zero value is a
// real-time endpoint with the container's defaults.
type SageMaker struct {
	// Batch is SAGEMAKER_BATCH (set by Batch Transform): predictions are
	// answered one per line, with a final newline, whatever the Accept.
	Batch bool
	// InferenceOutput is SAGEMAKER_INFERENCE_OUTPUT split on commas
	// (selectable inference: predicted_label, labels, probability,
	// probabilities, raw_score, raw_scores, predicted_score); nil when the
	// variable is unset.
	InferenceOutput []string
	// DefaultAccept is SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, the answer's
	// type when the request has no Accept or */* ("" means text/csv).
	DefaultAccept string
}

// ParseInferenceOutput reads SAGEMAKER_INFERENCE_OUTPUT as the container
// does: spaces removed, lower-cased, split on commas.
func ParseInferenceOutput(v string) []string {
	return strings.Split(strings.ToLower(strings.ReplaceAll(v, " ", "")), ",")
}

// Media types /invocations reads and writes.
const (
	mediaCSV         = "text/csv"
	mediaLibSVM      = "text/libsvm"
	mediaXLibSVM     = "text/x-libsvm"
	mediaJSON        = "application/json"
	mediaJSONLines   = "application/jsonlines"
	mediaRecordIO    = "application/x-recordio-protobuf"
	mediaLeadscore   = "application/vnd.leadscore+json"
	defaultSMAccept  = mediaCSV
	objectiveDefault = "binary:logistic"
)

// invocationAccepts are the Accept values /invocations answers: the
// container's own (less recordio-protobuf) and leadscore's richer answer.
var invocationAccepts = []string{mediaJSON, mediaJSONLines, mediaCSV, mediaLeadscore}

// mediaType returns a header's media type as Python's cgi.parse_header
// does: the text before the first ';', trimmed and lower-cased, and the
// parameters after it.
func mediaType(v string) (string, map[string]string) {
	parts := strings.Split(v, ";")
	mt := strings.ToLower(strings.TrimSpace(parts[0]))
	var params map[string]string
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		if params == nil {
			params = map[string]string{}
		}
		params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(val), `"`)
	}
	return mt, params
}

// serveInvocations answers SageMaker's POST /invocations as the built-in
// XGBoost container's algorithm mode does (docs/service.md lists each
// rule): an empty body is a 204; text/csv, text/libsvm (or text/x-libsvm,
// or no Content-Type at all) and leadscore's application/json are read;
// the answer follows Accept (text/csv by default, or
// SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT), and an Accept it cannot produce
// is a 406. Accept: application/vnd.leadscore+json gets /score's answer.
func (s *Server) serveInvocations(ex *exchange, r *http.Request) {
	if !s.allowMethod(ex, r, http.MethodPost) {
		return
	}
	m := s.model.Load()
	explain, aerr := explainParam(r.URL.RawQuery, m.schema.nf())
	if aerr == nil {
		aerr = s.inferenceID(ex, r)
	}
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	body, aerr := s.readBody(ex, r)
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	if len(body) == 0 {
		ex.w.WriteHeader(http.StatusNoContent)
		return
	}
	ct, params := mediaType(header(r, "Content-Type"))
	switch ct {
	case mediaCSV:
		if ls, ok := params["label_size"]; ok && ls != "1" {
			aerr = newError(http.StatusUnsupportedMediaType, codeMediaType,
				"Content-Type %q: the optional label_size parameter must be 1", header(r, "Content-Type"))
			break
		}
		aerr = parseCSV(body, &m.schema, s.maxBatch, &ex.batch)
	case mediaLibSVM, mediaXLibSVM, "":
		aerr = parseLibSVM(body, &m.schema, s.maxBatch, &ex.batch)
	case mediaJSON:
		aerr = parseScoreBody(body, &m.schema, s.maxBatch, &ex.batch)
	default:
		aerr = newError(http.StatusUnsupportedMediaType, codeMediaType,
			"Content-Type %q is not supported: use text/csv, text/libsvm or application/json", header(r, "Content-Type"))
	}
	if aerr == nil {
		aerr = s.checkLeadIDs(&ex.batch)
	}
	if aerr == nil {
		m, aerr = s.route(ex, r, m) // champion or challenger
	}
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	accept, aerr := s.invocationAccept(header(r, "Accept"))
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	if accept == mediaLeadscore {
		s.scoreAndRespond(ex, r, m, explain, false)
		return
	}
	var out []byte
	if len(s.sagemaker.InferenceOutput) > 0 {
		// Checked before scoring, so an objective the container cannot
		// select from does not capture rows nobody got an answer for.
		if _, ok := selectableKeys[m.objective]; !ok {
			s.fail(ex, newError(http.StatusInternalServerError, codeObjective,
				"objective %s is not supported for selectable inference (SAGEMAKER_INFERENCE_OUTPUT)", m.objective))
			return
		}
	}
	res, took, aerr := s.score(ex, r, m, 0)
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	ex.w.Header()["Server-Timing"] = []string{serverTiming(time.Since(ex.start), took)}
	switch {
	case len(s.sagemaker.InferenceOutput) > 0:
		out = appendSelected(ex.out[:0], res, m.objective, s.sagemaker.InferenceOutput, accept, s.sagemaker.Batch)
	case s.sagemaker.Batch:
		out = ex.out[:0]
		for i := range res {
			out = appendPyFloat(out, res[i].Probability, false)
			out = append(out, '\n')
		}
	case accept == mediaCSV:
		out = ex.out[:0]
		for i := range res {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendPyFloat(out, res[i].Probability, false)
		}
	case accept == mediaJSON:
		out = append(ex.out[:0], `{"predictions": [`...)
		for i := range res {
			if i > 0 {
				out = append(out, ", "...)
			}
			out = append(out, `{"score": `...)
			out = appendPyFloat(out, res[i].Probability, true)
			out = append(out, '}')
		}
		out = append(out, "]}"...)
	default: // jsonlines
		out = ex.out[:0]
		for i := range res {
			out = append(out, `{"score": `...)
			out = appendPyFloat(out, res[i].Probability, true)
			out = append(out, "}\n"...)
		}
	}
	ex.out = out
	s.write(ex, http.StatusOK, []string{accept}, out)
}

// invocationAccept picks the answer's media type from an Accept header as
// the container does: only the first media type counts (cgi.parse_header),
// none or */* means the default, and anything else it cannot produce is a
// 406 listing what it can.
func (s *Server) invocationAccept(v string) (string, *apiError) {
	mt, _ := mediaType(v)
	if mt == "" || mt == "*/*" {
		if s.sagemaker.DefaultAccept != "" {
			mt, _ = mediaType(s.sagemaker.DefaultAccept)
		} else {
			return defaultSMAccept, nil
		}
	}
	for _, a := range invocationAccepts {
		if mt == a {
			return a, nil
		}
	}
	return "", newError(http.StatusNotAcceptable, codeNotAcceptable,
		"Accept %q is not supported: use one of %s", v, strings.Join(invocationAccepts, ", "))
}

// Selectable inference keys, as the container names them.
const (
	keyPredictedLabel = "predicted_label"
	keyLabels         = "labels"
	keyProbability    = "probability"
	keyProbabilities  = "probabilities"
	keyRawScore       = "raw_score"
	keyRawScores      = "raw_scores"
	keyPredictedScore = "predicted_score"
)

// selectableOrder is the order the container builds each prediction's
// object in; keys the objective does not offer follow, as NaN.
var selectableOrder = []string{keyPredictedLabel, keyLabels, keyProbability, keyProbabilities, keyRawScore, keyRawScores, keyPredictedScore}

// selectableKeys maps the objectives a leadscore bundle can hold (one
// output per row) to the keys the container offers for each.
var selectableKeys = map[string][]string{
	"reg:squarederror":  {keyPredictedScore},
	"reg:logistic":      {keyPredictedScore},
	"reg:gamma":         {keyPredictedScore},
	"reg:absoluteerror": {keyPredictedScore},
	"reg:tweedie":       {keyPredictedScore},
	"binary:logistic":   {keyPredictedLabel, keyLabels, keyProbability, keyProbabilities, keyRawScore, keyRawScores},
	"binary:logitraw":   {keyPredictedLabel, keyLabels, keyRawScore, keyRawScores},
	"binary:hinge":      {keyPredictedLabel, keyLabels, keyRawScore, keyRawScores},
}

// selValue is one selected value: a number (NaN for a key the objective
// does not offer), an integer label, or a two-element list.
type selValue struct {
	kind byte // 'f' float, 'i' int, 'l' list of floats, 'L' labels [0, 1]
	f    float64
	i    int
	pair [2]float64
}

// selectedValue computes key for one prediction p (XGBoost's output: the
// probability for binary:logistic, the margin for binary:logitraw, 0 or 1
// for binary:hinge, the prediction for regression).
func selectedValue(key, objective string, p float64) selValue {
	valid := false
	for _, k := range selectableKeys[objective] {
		valid = valid || k == key
	}
	if !valid {
		return selValue{kind: 'f', f: math.NaN()}
	}
	switch key {
	case keyPredictedLabel:
		switch objective {
		case "binary:hinge":
			return selValue{kind: 'f', f: p}
		case "binary:logitraw":
			return selValue{kind: 'i', i: b2i(p > 0)}
		default:
			return selValue{kind: 'i', i: b2i(p > 0.5)}
		}
	case keyLabels:
		return selValue{kind: 'L'}
	case keyProbabilities, keyRawScores:
		return selValue{kind: 'l', pair: [2]float64{1.0 - p, p}}
	default: // probability, raw_score, predicted_score
		return selValue{kind: 'f', f: p}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// appendSelected writes selectable inference predictions as the
// container's encode_selected_predictions does for each Accept.
func appendSelected(dst []byte, res []leadscore.Result, objective string, keys []string, accept string, batch bool) []byte {
	switch accept {
	case mediaCSV:
		for i := range res {
			if i > 0 {
				dst = append(dst, '\n')
			}
			for j, k := range keys {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendSelValue(dst, selectedValue(k, objective, res[i].Probability), false)
			}
		}
		if batch {
			dst = append(dst, '\n')
		}
		return dst
	case mediaJSON:
		dst = append(dst, `{"predictions": [`...)
		for i := range res {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendSelectedObject(dst, res[i].Probability, objective, keys)
		}
		return append(dst, "]}"...)
	default: // jsonlines
		for i := range res {
			dst = appendSelectedObject(dst, res[i].Probability, objective, keys)
			dst = append(dst, '\n')
		}
		return dst
	}
}

// appendSelectedObject writes one prediction's object: the valid selected
// keys in the container's fixed order, then the invalid ones (NaN) in the
// order given, each once.
func appendSelectedObject(dst []byte, p float64, objective string, keys []string) []byte {
	dst = append(dst, '{')
	n := 0
	emit := func(k string) {
		if n > 0 {
			dst = append(dst, ", "...)
		}
		n++
		dst = appendJSONString(dst, k)
		dst = append(dst, ": "...)
		dst = appendSelValue(dst, selectedValue(k, objective, p), true)
	}
	has := func(list []string, k string) bool {
		for _, x := range list {
			if x == k {
				return true
			}
		}
		return false
	}
	valid := selectableKeys[objective]
	for _, k := range selectableOrder {
		if has(keys, k) && has(valid, k) {
			emit(k)
		}
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if !has(valid, k) && !seen[k] {
			seen[k] = true
			emit(k)
		}
	}
	return append(dst, '}')
}

// appendSelValue writes v as Python writes it: json.dumps for JSON, str()
// for CSV (where a list is quoted: "[0.4, 0.6]").
func appendSelValue(dst []byte, v selValue, json bool) []byte {
	switch v.kind {
	case 'i':
		return strconv.AppendInt(dst, int64(v.i), 10)
	case 'L':
		if json {
			return append(dst, "[0, 1]"...)
		}
		return append(dst, `"[0, 1]"`...)
	case 'l':
		if !json {
			dst = append(dst, '"')
		}
		dst = append(dst, '[')
		dst = appendPyFloat(dst, v.pair[0], json)
		dst = append(dst, ", "...)
		dst = appendPyFloat(dst, v.pair[1], json)
		dst = append(dst, ']')
		if !json {
			dst = append(dst, '"')
		}
		return dst
	default:
		return appendPyFloat(dst, v.f, json)
	}
}

// appendPyFloat writes f as Python's repr (and str) does: the shortest
// digits that read back the same, in fixed notation with at least one
// decimal for exponents -4..15 and in scientific notation (1e-05, 1e+16)
// otherwise. json selects json.dumps's NaN and Infinity over str's nan
// and inf.
func appendPyFloat(dst []byte, f float64, json bool) []byte {
	switch {
	case math.IsNaN(f):
		if json {
			return append(dst, "NaN"...)
		}
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		if json {
			return append(dst, "Infinity"...)
		}
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		if json {
			return append(dst, "-Infinity"...)
		}
		return append(dst, "-inf"...)
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	exp := 0
	for k := len(e) - 1; k > 0; k-- {
		if e[k] == 'e' {
			for _, c := range e[k+2:] { // after "e-" or "e+"
				exp = exp*10 + int(c-'0')
			}
			if e[k+1] == '-' {
				exp = -exp
			}
			break
		}
	}
	if exp < -4 || exp >= 16 {
		return append(dst, e...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// serveExecutionParameters answers GET /execution-parameters, which Batch
// Transform reads before sending work, with the container's answer: one
// concurrent transform per CPU, multi-record batches, and the body limit
// in whole MiB.
func (s *Server) serveExecutionParameters(ex *exchange, r *http.Request) {
	if !s.allowMethod(ex, r, http.MethodGet) {
		return
	}
	out := append(ex.out[:0], `{"MaxConcurrentTransforms": `...)
	out = strconv.AppendInt(out, int64(runtime.NumCPU()), 10)
	out = append(out, `, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": `...)
	out = strconv.AppendInt(out, s.maxBody/(1<<20), 10)
	ex.out = append(out, '}')
	s.write(ex, http.StatusOK, ctJSON, ex.out)
}
