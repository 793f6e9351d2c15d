package httpapi

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/leadscore/leadscore"
)

// v2Path splits /v2/models/{name}[/versions/{version}][/ready|/infer] into
// its parts; ok is false for any other shape.
func v2Path(path string) (name, version, action string, ok bool) {
	rest, found := strings.CutPrefix(path, "/v2/models/")
	if !found {
		return "", "", "", false
	}
	name, rest, _ = strings.Cut(rest, "/")
	if name == "" {
		return "", "", "", false
	}
	if v, found := strings.CutPrefix(rest, "versions/"); found {
		version, rest, _ = strings.Cut(v, "/")
		if version == "" {
			return "", "", "", false
		}
	}
	switch rest {
	case "", "ready", "infer", "config":
		return name, version, rest, true
	}
	return "", "", "", false
}

// v2Model returns the served model when name and version (if given) name
// it, and otherwise answers 404.
//
// With variants, each variant is also a V2 model of its own name: the
// request goes to that variant (ex.force), and the model answers under
// that name.
func (s *Server) v2Model(ex *exchange, name, version string) *served {
	m := s.model.Load()
	if vs := s.variants.Load(); vs != nil {
		if i, ok := vs.byName[name]; ok {
			vm := vs.models[i]
			if version == "" || version == vm.info.Version {
				ex.force = i
				return vm
			}
		}
	}
	if name != m.info.Name || version != "" && version != m.info.Version {
		v := ""
		if version != "" {
			v = " version " + version
		}
		s.fail(ex, newError(http.StatusNotFound, codeWrongModel, "model %q%s not found: this server serves %q version %q", name, v, m.info.Name, m.info.Version))
		return nil
	}
	return m
}

// serveV2Meta answers the Open Inference Protocol's GET routes: /v2,
// /v2/health/live, /v2/health/ready, /v2/models/{name} and
// /v2/models/{name}/ready (each also under /versions/{version}).
func (s *Server) serveV2Meta(ex *exchange, r *http.Request) {
	if !s.allowMethod(ex, r, http.MethodGet) {
		return
	}
	out := ex.out[:0]
	switch path := r.URL.Path; path {
	case "/v2", "/v2/":
		out = append(out, `{"name":"leadscore","version":`...)
		out = appendJSONString(out, s.version)
		out = append(out, `,"extensions":[]}`...)
	case "/v2/health/live":
		out = append(out, `{"live":true}`...)
	case "/v2/health/ready":
		if s.draining.Load() {
			s.fail(ex, newError(http.StatusServiceUnavailable, codeNotReady, "not ready: shutting down"))
			return
		}
		out = append(out, `{"ready":true}`...)
	default:
		name, version, action, ok := v2Path(path)
		if !ok || action == "infer" {
			s.fail(ex, newError(http.StatusNotFound, codeNotFound, "no route GET %s", path))
			return
		}
		m := s.v2Model(ex, name, version)
		if m == nil {
			return
		}
		if ex.force >= 0 {
			c := *m
			c.info.Name = name
			m = &c
		}
		if action == "config" {
			out = s.appendTritonConfig(out, m)
			break
		}
		if action == "ready" {
			if s.draining.Load() {
				s.fail(ex, newError(http.StatusServiceUnavailable, codeNotReady, "not ready: shutting down"))
				return
			}
			out = append(out, `{"name":`...)
			out = appendJSONString(out, m.info.Name)
			out = append(out, `,"ready":true}`...)
			break
		}
		out = append(out, `{"name":`...)
		out = appendJSONString(out, m.info.Name)
		out = append(out, `,"versions":[`...)
		out = appendJSONString(out, m.info.Version)
		out = append(out, `],"platform":"leadscore-xgboost","inputs":[{"name":"input-0","datatype":"FP32","shape":[-1,`...)
		out = strconv.AppendInt(out, int64(m.schema.nf()), 10)
		out = append(out, `]}],"outputs":[{"name":"probability","datatype":"FP32","shape":[-1]},{"name":"score","datatype":"INT32","shape":[-1]},`+
			`{"name":"tier","datatype":"INT32","shape":[-1]},{"name":"margin","datatype":"FP32","shape":[-1]},{"name":"contributions","datatype":"FP32","shape":[-1,`...)
		out = strconv.AppendInt(out, int64(m.schema.nf()+1), 10)
		out = append(out, `]}],"parameters":{"feature_names":[`...)
		for i, n := range m.schema.names {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendJSONString(out, n)
		}
		out = append(out, "]}}"...)
	}
	ex.out = append(out, '\n')
	s.write(ex, http.StatusOK, ctJSON, ex.out)
}

// serveV2Infer answers POST /v2/models/{name}[/versions/{v}]/infer with
// one FP32 (or FP64) input of shape [N, F] (or [F] for one row), its data
// nested by row or flat; null means missing. The response has two
// outputs: "probability" (FP32) and "score" (INT32, the tier 1..5).
func (s *Server) serveV2Infer(ex *exchange, r *http.Request) {
	if !s.allowMethod(ex, r, http.MethodPost) {
		return
	}
	name, version, action, ok := v2Path(r.URL.Path)
	if !ok || action != "infer" {
		s.fail(ex, newError(http.StatusNotFound, codeNotFound, "no route POST %s", r.URL.Path))
		return
	}
	m := s.v2Model(ex, name, version)
	if m == nil {
		return
	}
	if ct := header(r, "Content-Type"); ct != "" && !mediaIs(ct, "application/json") {
		s.fail(ex, newError(http.StatusUnsupportedMediaType, codeMediaType, "Content-Type must be application/json, got %q", ct))
		return
	}
	aerr := s.inferenceID(ex, r)
	var body []byte
	if aerr == nil {
		body, aerr = s.readBody(ex, r)
	}
	var req v2Request
	if aerr == nil {
		aerr = parseV2Infer(body, &m.schema, s.maxBatch, &ex.batch, &req)
	}
	if aerr == nil && req.id != nil {
		// The request id is echoed in the response (and so may reach a
		// client's logs): the inference id's limits apply.
		if err := s.ids.CheckTokenID(leadID(req.id)); err != nil {
			aerr = idError("id", -1, err)
		}
	}
	if aerr == nil {
		m, aerr = s.route(ex, r, m) // champion or challenger
	}
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	explain := 0
	if req.wants(outContributions) {
		if ex.batch.n > s.maxExplain {
			s.fail(ex, newError(http.StatusRequestEntityTooLarge, codeBatchTooLarge,
				"the contributions output is limited to %d rows per request, got %d: split the batch", s.maxExplain, ex.batch.n))
			return
		}
		explain = m.schema.nf()
	}
	if req.timeoutMicros > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(req.timeoutMicros)*time.Microsecond)
		defer cancel()
		r = r.WithContext(ctx)
	}
	res, _, aerr := s.score(ex, r, m, explain)
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	out := append(ex.out[:0], `{"model_name":`...)
	if ex.force >= 0 {
		out = appendJSONString(out, name) // a variant answers under its own name
	} else {
		out = appendJSONString(out, m.info.Name)
	}
	out = append(out, `,"model_version":`...)
	out = appendJSONString(out, m.info.Version)
	if req.id != nil {
		out = append(out, `,"id":`...)
		out = append(out, req.id...)
	}
	out = append(out, `,"outputs":[`...)
	for k, o := range req.outputList() {
		if k > 0 {
			out = append(out, ',')
		}
		out = appendV2Output(out, o, res, &m.schema)
	}
	ex.out = append(out, "]}\n"...)
	s.write(ex, http.StatusOK, ctJSON, ex.out)
}

func badTensor(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, codeBadTensor, format, args...)
}

// v2Request is what an inference request asks beyond its rows.
type v2Request struct {
	// id is the request's "id" as its raw JSON string token; nil when absent.
	id []byte
	// outputs are the outputs asked for, in order; none means the
	// defaults (probability and score).
	outputs []v2Output
	// timeoutMicros is the "timeout" parameter: a deadline on scoring.
	timeoutMicros int64
}

// v2Output names one output the server can answer.
type v2Output uint8

const (
	outProbability   v2Output = iota // FP32 [N]: the model's prediction
	outScore                         // INT32 [N]: the tier 1..5 (the default's name)
	outTier                          // INT32 [N]: the tier 1..5
	outMargin                        // FP32 [N]: the raw margin
	outContributions                 // FP32 [N, F+1]: TreeSHAP, bias last
)

var v2OutputNames = []string{"probability", "score", "tier", "margin", "contributions"}

func (q *v2Request) wants(o v2Output) bool {
	for _, x := range q.outputList() {
		if x == o {
			return true
		}
	}
	return false
}

var defaultV2Outputs = []v2Output{outProbability, outScore}

func (q *v2Request) outputList() []v2Output {
	if len(q.outputs) == 0 {
		return defaultV2Outputs
	}
	return q.outputs
}

// v2DType is an input tensor's datatype.
type v2DType struct {
	kind byte // 'b' BOOL, 'i' INTn, 'u' UINTn, 'h' FP16, 'f' FP32, 'd' FP64
	bits int
}

// v2DTypes are the Open Inference Protocol's numeric datatypes.
var v2DTypes = map[string]v2DType{
	"BOOL": {'b', 1}, "INT8": {'i', 8}, "INT16": {'i', 16}, "INT32": {'i', 32}, "INT64": {'i', 64},
	"UINT8": {'u', 8}, "UINT16": {'u', 16}, "UINT32": {'u', 32}, "UINT64": {'u', 64},
	"FP16": {'h', 16}, "FP32": {'f', 32}, "FP64": {'d', 64},
}

// parseV2Infer parses an Open Inference Protocol inference request into
// out and req. Exactly one input tensor is expected, of any numeric
// datatype; "outputs" choose the answer's tensors and "parameters" are
// honoured or refused (never ignored).
func parseV2Infer(body []byte, sc *schema, maxRows int, out *batch, req *v2Request) *apiError {
	out.reset(sc.nf())
	p := batchParser{s: scanner{b: body}, sc: sc, maxRows: maxRows, out: out}
	s := &p.s
	if s.peek() != '{' {
		if s.peek() == 0 {
			return newError(http.StatusBadRequest, codeMissingBody, "empty body: send an inference request object")
		}
		return badTensor("body must be an inference request object with \"inputs\"")
	}
	s.i++
	inputs := 0
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			raw, esc, err := s.key()
			if err != nil {
				return err
			}
			switch {
			case keyIs(raw, esc, "id"):
				if s.peek() != '"' {
					return badTensor("\"id\" must be a string")
				}
				start := s.i
				if _, _, err := s.str(); err != nil {
					return err
				}
				req.id = s.b[start:s.i]
			case keyIs(raw, esc, "inputs"):
				if s.peek() != '[' {
					return badTensor("\"inputs\" must be an array of tensors")
				}
				s.i++
				if s.peek() == ']' {
					s.i++
					break
				}
				for {
					if inputs++; inputs > 1 {
						return badTensor("this model takes one input tensor of shape [N, %d]", sc.nf())
					}
					if err := p.tensor(); err != nil {
						return err
					}
					more, err := s.next(']', "',' or ']' in inputs")
					if err != nil {
						return err
					}
					if !more {
						break
					}
				}
			case keyIs(raw, esc, "outputs"):
				if err := p.requestedOutputs(req); err != nil {
					return err
				}
			case keyIs(raw, esc, "parameters"):
				if err := p.parameters("request", func(name string) *apiError {
					switch name {
					case "binary_data_output":
						return p.falseOnly(name, "the binary data extension is not supported: answers are JSON")
					case "timeout":
						c := s.peek()
						n, ok := scanNumber(s.b[s.i:])
						if c < '0' || c > '9' || !ok {
							return badTensor("parameter \"timeout\" must be a whole number of microseconds")
						}
						v, err := strconv.ParseInt(string(s.b[s.i:s.i+n]), 10, 64)
						s.i += n
						if err != nil || v < 0 {
							return badTensor("parameter \"timeout\" must be a whole number of microseconds")
						}
						req.timeoutMicros = v
						return nil
					}
					return badTensor("request parameter %q is not supported: this server honours \"timeout\" (microseconds) and \"binary_data_output\": false", name)
				}); err != nil {
					return err
				}
			default:
				name := keyString(raw, esc)
				return newError(http.StatusBadRequest, codeUnknownField, "unknown field %q: an inference request has \"id\", \"parameters\", \"inputs\" and \"outputs\"", name)
			}
			more, err := s.next('}', "',' or '}' in the request")
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	if err := s.end(); err != nil {
		return err
	}
	if inputs == 0 {
		return badTensor("\"inputs\" must hold one tensor of shape [N, %d]", sc.nf())
	}
	return nil
}

// falseOnly reads a boolean parameter that may only be false.
func (p *batchParser) falseOnly(name, why string) *apiError {
	switch {
	case p.s.literal("false"):
		return nil
	case p.s.literal("true"):
		return badTensor("parameter %q: %s", name, why)
	}
	return badTensor("parameter %q must be true or false", name)
}

// parameters reads a "parameters" object, handing each key to fn with the
// scanner at its value; fn must consume the value or refuse it.
func (p *batchParser) parameters(where string, fn func(name string) *apiError) *apiError {
	s := &p.s
	if s.peek() != '{' {
		return badTensor("%s \"parameters\" must be an object", where)
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		raw, esc, err := s.key()
		if err != nil {
			return err
		}
		if err := fn(keyString(raw, esc)); err != nil {
			return err
		}
		more, err := s.next('}', "',' or '}' in parameters")
		if err != nil || !more {
			return err
		}
	}
}

// requestedOutputs reads "outputs": [{"name": ..., "parameters": {...}}].
func (p *batchParser) requestedOutputs(req *v2Request) *apiError {
	s := &p.s
	if s.peek() != '[' {
		return badTensor("\"outputs\" must be an array of {\"name\": ...}")
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if s.peek() != '{' {
			return badTensor("each requested output must be an object with a \"name\"")
		}
		s.i++
		found := -1
		if s.peek() == '}' {
			s.i++
		} else {
			for {
				raw, esc, err := s.key()
				if err != nil {
					return err
				}
				switch {
				case keyIs(raw, esc, "name"):
					if s.peek() != '"' {
						return badTensor("an output's \"name\" must be a string")
					}
					v, esc, err := s.str()
					if err != nil {
						return err
					}
					name := keyString(v, esc)
					for k, n := range v2OutputNames {
						if n == name {
							found = k
						}
					}
					if found < 0 {
						return badTensor("unknown output %q: this model answers %s", name, strings.Join(v2OutputNames, ", "))
					}
				case keyIs(raw, esc, "parameters"):
					if err := p.parameters("output", func(name string) *apiError {
						if name == "binary_data" {
							return p.falseOnly(name, "the binary data extension is not supported: answers are JSON")
						}
						return badTensor("output parameter %q is not supported (only \"binary_data\": false)", name)
					}); err != nil {
						return err
					}
				default:
					return newError(http.StatusBadRequest, codeUnknownField, "unknown field %q in a requested output: want \"name\" and \"parameters\"", keyString(raw, esc))
				}
				more, err := s.next('}', "',' or '}' in an output")
				if err != nil {
					return err
				}
				if !more {
					break
				}
			}
		}
		if found < 0 {
			return badTensor("a requested output has no \"name\"")
		}
		for _, o := range req.outputs {
			if o == v2Output(found) {
				return badTensor("output %q is requested twice", v2OutputNames[found])
			}
		}
		req.outputs = append(req.outputs, v2Output(found))
		more, err := s.next(']', "',' or ']' in outputs")
		if err != nil || !more {
			return err
		}
	}
}

// tensorDatatype finds an input tensor's "datatype" before its data is
// read (the data's meaning depends on it, and JSON keys come in any
// order), leaving the scanner where it was.
func (p *batchParser) tensorDatatype() (string, *apiError) {
	s := &p.s
	start := s.i
	defer func() { s.i = start }()
	s.i++ // '{'
	if s.peek() == '}' {
		return "", nil
	}
	for {
		raw, esc, err := s.key()
		if err != nil {
			return "", err
		}
		if keyIs(raw, esc, "datatype") {
			if s.peek() != '"' {
				return "", badTensor("\"datatype\" must be a string")
			}
			v, esc, err := s.str()
			if err != nil {
				return "", err
			}
			return keyString(v, esc), nil
		}
		if err := s.skip(0); err != nil {
			return "", err
		}
		more, err := s.next('}', "',' or '}' in a tensor")
		if err != nil {
			return "", err
		}
		if !more {
			return "", nil
		}
	}
}

// tensor parses one input tensor {"name","shape","datatype","parameters",
// "data"} into the batch, converting each value to float32 as XGBoost
// converts an array of that type, and checks that its shape matches the
// data and the model.
func (p *batchParser) tensor() *apiError {
	s := &p.s
	if s.peek() != '{' {
		return badTensor("an input tensor must be an object")
	}
	nf := p.sc.nf()
	datatype, err := p.tensorDatatype()
	if err != nil {
		return err
	}
	switch datatype {
	case "":
		return badTensor("the input tensor has no \"datatype\": want FP32 (or any numeric type: BOOL, INT8..INT64, UINT8..UINT64, FP16, FP64)")
	case "BYTES":
		return badTensor("datatype BYTES is not supported: this model takes %d numeric features; send FP32 (or BOOL, INT8..INT64, UINT8..UINT64, FP16, FP64)", nf)
	}
	dt, ok := v2DTypes[datatype]
	if !ok {
		return badTensor("datatype %q is not an Open Inference Protocol type: want FP32 (or BOOL, INT8..INT64, UINT8..UINT64, FP16, FP64)", datatype)
	}
	p.dtype = dt
	s.i++
	var shape [3]int64
	dims := -1
	hasData := false
	if s.peek() != '}' {
		for {
			raw, esc, err := s.key()
			if err != nil {
				return err
			}
			switch {
			case keyIs(raw, esc, "shape"):
				if dims, err = p.shape(&shape); err != nil {
					return err
				}
			case keyIs(raw, esc, "data"):
				if err := p.tensorData(); err != nil {
					return err
				}
				hasData = true
			case keyIs(raw, esc, "parameters"):
				if err := p.parameters("input", func(name string) *apiError {
					if name == "binary_data_size" {
						return badTensor("parameter \"binary_data_size\": the binary data extension is not supported; send the data as JSON")
					}
					return badTensor("input parameter %q is not supported", name)
				}); err != nil {
					return err
				}
			default: // name, datatype (read above)
				if err := s.skip(0); err != nil {
					return err
				}
			}
			more, err := s.next('}', "',' or '}' in a tensor")
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	} else {
		s.i++
	}
	switch {
	case !hasData:
		return badTensor("the input tensor has no \"data\"")
	case dims < 0:
		return badTensor("the input tensor has no \"shape\": want [N, %d]", nf)
	}
	n := int64(p.out.n)
	ok = dims == 2 && shape[0] == n && shape[1] == int64(nf) || dims == 1 && n == 1 && shape[0] == int64(nf)
	if !ok {
		return badTensor("shape %s does not fit: this model takes [N, %d] and the data holds %d rows", shapeString(shape[:max(dims, 0)]), nf, n)
	}
	return nil
}

// shape reads a shape array of up to 3 non-negative integers.
func (p *batchParser) shape(dst *[3]int64) (int, *apiError) {
	s := &p.s
	if s.peek() != '[' {
		return 0, badTensor("\"shape\" must be an array of integers")
	}
	s.i++
	dims := 0
	if s.peek() == ']' {
		s.i++
		return 0, nil
	}
	for {
		c := s.peek()
		if c < '0' || c > '9' {
			return 0, badTensor("\"shape\" must be an array of non-negative integers")
		}
		n, ok := scanNumber(s.b[s.i:])
		if !ok {
			s.i += n
			return 0, s.syntax("a number")
		}
		v, err := strconv.ParseInt(string(s.b[s.i:s.i+n]), 10, 64)
		s.i += n
		if err != nil {
			return 0, badTensor("\"shape\" must be an array of non-negative integers")
		}
		if dims == len(dst) {
			return 0, badTensor("\"shape\" has too many dimensions: want [N, %d]", p.sc.nf())
		}
		dst[dims] = v
		dims++
		more, err2 := s.next(']', "',' or ']' in shape")
		if err2 != nil {
			return 0, err2
		}
		if !more {
			return dims, nil
		}
	}
}

func shapeString(shape []int64) string {
	var b []byte
	b = append(b, '[')
	for i, v := range shape {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, v, 10)
	}
	return string(append(b, ']'))
}

// tensorData reads "data": rows nested ([[...], ...], each of the model's
// feature count) or flat ([...], a multiple of it).
func (p *batchParser) tensorData() *apiError {
	s := &p.s
	if s.peek() != '[' {
		return badTensor("\"data\" must be an array")
	}
	if p.out.n > 0 {
		return badTensor("\"data\" given twice")
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return nil
	}
	nf := p.sc.nf()
	if s.peek() == '[' {
		for {
			rowIdx := p.out.n
			if rowIdx >= p.maxRows {
				return newError(http.StatusRequestEntityTooLarge, codeBatchTooLarge, "more than %d rows in one request: split the batch", p.maxRows)
			}
			if s.peek() != '[' {
				return badTensor("nested \"data\" must hold only rows (arrays)")
			}
			if err := p.tensorRow(p.out.addRow(nf), rowIdx); err != nil {
				return err
			}
			more, err := s.next(']', "',' or ']' in data")
			if err != nil || !more {
				return err
			}
		}
	}
	var row []float32
	k := 0
	for {
		j := k % nf
		if j == 0 {
			if p.out.n >= p.maxRows {
				return newError(http.StatusRequestEntityTooLarge, codeBatchTooLarge, "more than %d rows in one request: split the batch", p.maxRows)
			}
			row = p.out.addRow(nf)
		}
		if s.peek() == '[' {
			return badTensor("\"data\" must be all rows (nested) or all numbers (flat)")
		}
		if err := p.tensorValue(&row[j], p.out.n-1, j); err != nil {
			return err
		}
		k++
		more, err := s.next(']', "',' or ']' in data")
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	if k%nf != 0 {
		return badTensor("flat \"data\" has %d values, not a multiple of the model's %d features", k, nf)
	}
	return nil
}

// tensorRow parses one nested row of a tensor's data: floats by the fast
// row parser, other datatypes value by value.
func (p *batchParser) tensorRow(dst []float32, rowIdx int) *apiError {
	if p.dtype.kind == 'f' || p.dtype.kind == 'd' {
		return p.row(dst, rowIdx)
	}
	s := &p.s
	s.i++ // '['
	j := 0
	if s.peek() == ']' {
		s.i++
	} else {
		for {
			var v float32
			if err := p.tensorValue(&v, rowIdx, j); err != nil {
				return err
			}
			if j < len(dst) {
				dst[j] = v
			}
			j++
			more, err := s.next(']', "',' or ']' in a row")
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	if j != len(dst) {
		return rowError(http.StatusUnprocessableEntity, codeFeatureCount, rowIdx, "", "row %d has %d features, want %d", rowIdx, j, len(dst))
	}
	return nil
}

// tensorValue reads one value of the tensor's datatype as float32, the way
// XGBoost converts a NumPy array of that type: integers and booleans
// exactly as a C cast does, FP16 rounded to half precision first, FP64
// rounded to float32. null and NaN are missing; a value outside its
// datatype's range, a fraction in an integer tensor, or a non-boolean in a
// BOOL tensor is a 422 naming the row and feature.
func (p *batchParser) tensorValue(dst *float32, rowIdx, col int) *apiError {
	s := &p.s
	feature := p.sc.feature(col)
	dt := p.dtype
	c := s.peek()
	if dt.kind == 'f' || dt.kind == 'd' || c == 'n' || c == 'N' {
		return readValue(s, dst, rowIdx, feature)
	}
	bad := func(format string, args ...any) *apiError {
		return rowError(http.StatusUnprocessableEntity, codeInvalidValue, rowIdx, feature, format, args...)
	}
	switch dt.kind {
	case 'b':
		switch {
		case s.literal("true"):
			*dst = 1
			return nil
		case s.literal("false"):
			*dst = 0
			return nil
		}
		if err := s.skip(0); err != nil {
			return err
		}
		return bad("feature %s of row %d is not true or false, as a BOOL tensor holds", quoteName(feature), rowIdx)
	case 'h':
		if c != '-' && (c < '0' || c > '9') {
			return readValue(s, dst, rowIdx, feature)
		}
		f, n, ok := parseNumber(s.b[s.i:])
		if !ok {
			s.i += n
			return s.syntax("a number")
		}
		s.i += n
		h := roundFloat16(f)
		if math.IsInf(h, 0) {
			return bad("feature %s of row %d is out of FP16's range (±65504)", quoteName(feature), rowIdx)
		}
		*dst = float32(h)
		return nil
	}
	if c != '-' && (c < '0' || c > '9') {
		return readValue(s, dst, rowIdx, feature)
	}
	n, ok := scanNumber(s.b[s.i:])
	if !ok {
		s.i += n
		return s.syntax("a number")
	}
	tok := string(s.b[s.i : s.i+n])
	s.i += n
	name := "INT"
	if dt.kind == 'u' {
		name = "UINT"
	}
	name += strconv.Itoa(dt.bits)
	if strings.ContainsAny(tok, ".eE") {
		return bad("feature %s of row %d is %s, not a whole number as a %s tensor holds", quoteName(feature), rowIdx, tok, name)
	}
	if dt.kind == 'i' {
		v, err := strconv.ParseInt(tok, 10, dt.bits)
		if err != nil {
			return bad("feature %s of row %d is %s, out of %s's range", quoteName(feature), rowIdx, tok, name)
		}
		*dst = float32(v)
		return nil
	}
	v, err := strconv.ParseUint(tok, 10, dt.bits)
	if err != nil {
		return bad("feature %s of row %d is %s, out of %s's range", quoteName(feature), rowIdx, tok, name)
	}
	*dst = float32(v)
	return nil
}

// roundFloat16 rounds f to the nearest IEEE half-precision value (ties to
// even), as NumPy's astype(float16) does; beyond the largest half it is
// an infinity.
func roundFloat16(f float64) float64 {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	a := math.Abs(f)
	if a >= 65520 { // halfway between 65504 (the largest half) and 65536 rounds up
		return math.Copysign(math.Inf(1), f)
	}
	exp := math.Ilogb(a)
	if exp < -14 {
		exp = -14 // subnormal halves are multiples of 2^-24
	}
	ulp := math.Ldexp(1, exp-10)
	return math.Copysign(math.RoundToEven(a/ulp)*ulp, f)
}

// appendV2Output writes one output tensor of the answer.
func appendV2Output(out []byte, o v2Output, res []leadscore.Result, sc *schema) []byte {
	n := int64(len(res))
	out = append(out, `{"name":"`...)
	out = append(out, v2OutputNames[o]...)
	switch o {
	case outScore, outTier:
		out = append(out, `","datatype":"INT32","shape":[`...)
	default:
		out = append(out, `","datatype":"FP32","shape":[`...)
	}
	out = strconv.AppendInt(out, n, 10)
	nf := sc.nf()
	if o == outContributions {
		out = append(out, ',')
		out = strconv.AppendInt(out, int64(nf+1), 10)
	}
	out = append(out, `],"data":[`...)
	for i := range res {
		if i > 0 {
			out = append(out, ',')
		}
		switch o {
		case outProbability:
			out = strconv.AppendFloat(out, float64(float32(res[i].Probability)), 'g', -1, 32)
		case outScore, outTier:
			out = strconv.AppendInt(out, int64(res[i].Score), 10)
		case outMargin:
			out = strconv.AppendFloat(out, float64(float32(res[i].Margin)), 'g', -1, 32)
		case outContributions:
			out = appendContributions(out, &res[i], sc)
		}
	}
	return append(out, "]}"...)
}

// appendContributions writes one row's TreeSHAP values in feature order
// with the bias last (XGBoost's pred_contribs layout): the reasons hold
// every non-zero feature contribution, and the bias is the margin less
// their sum.
func appendContributions(out []byte, r *leadscore.Result, sc *schema) []byte {
	sum := 0.0
	start := len(out)
	for j := 0; j < sc.nf(); j++ {
		v := 0.0
		for _, rs := range r.Reasons {
			if rs.Feature == sc.names[j] {
				v = rs.Contribution
				break
			}
		}
		sum += v
		if len(out) > start {
			out = append(out, ',')
		}
		out = strconv.AppendFloat(out, float64(float32(v)), 'g', -1, 32)
	}
	out = append(out, ',')
	return strconv.AppendFloat(out, float64(float32(r.Margin-sum)), 'g', -1, 32)
}

// appendTritonConfig writes the model's configuration in the shape of
// Triton's GET /v2/models/{name}/config (ModelConfig as JSON), which
// perf_analyzer and Triton clients read first: batching dimension
// excluded from dims, max_batch_size the server's batch limit.
func (s *Server) appendTritonConfig(out []byte, m *served) []byte {
	nf := int64(m.schema.nf())
	out = append(out, `{"name":`...)
	out = appendJSONString(out, m.info.Name)
	out = append(out, `,"platform":"","backend":"leadscore","version_policy":{"specific":{"versions":[`...)
	out = appendJSONString(out, m.info.Version)
	out = append(out, `]}},"max_batch_size":`...)
	out = strconv.AppendInt(out, int64(s.maxBatch), 10)
	out = append(out, `,"input":[{"name":"input-0","data_type":"TYPE_FP32","format":"FORMAT_NONE","dims":[`...)
	out = strconv.AppendInt(out, nf, 10)
	out = append(out, `],"is_shape_tensor":false,"allow_ragged_batch":false,"optional":false}],"output":[`...)
	for k, name := range v2OutputNames {
		if k > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"name":"`...)
		out = append(out, name...)
		typ, dims := `TYPE_FP32`, "1"
		switch v2Output(k) {
		case outScore, outTier:
			typ = `TYPE_INT32`
		case outContributions:
			dims = strconv.FormatInt(nf+1, 10)
		}
		out = append(out, `","data_type":"`...)
		out = append(out, typ...)
		out = append(out, `","dims":[`...)
		out = append(out, dims...)
		out = append(out, `],"label_filename":"","is_shape_tensor":false}`...)
	}
	out = append(out, `],"batch_input":[],"batch_output":[],"instance_group":[{"name":`...)
	out = appendJSONString(out, m.info.Name)
	out = append(out, `,"kind":"KIND_CPU","count":1,"gpus":[],"profile":[]}],"default_model_filename":"","parameters":{},"model_warmup":[]}`...)
	return out
}
