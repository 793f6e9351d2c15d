package httpapi

import (
	"net/http"
	"strconv"
	"strings"
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
	case "", "ready", "infer":
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
		out = append(out, `]}],"outputs":[{"name":"probability","datatype":"FP32","shape":[-1]},{"name":"score","datatype":"INT32","shape":[-1]}],"parameters":{"feature_names":[`...)
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
	var body, id []byte
	if aerr == nil {
		body, aerr = s.readBody(ex, r)
	}
	if aerr == nil {
		id, aerr = parseV2Infer(body, &m.schema, s.maxBatch, &ex.batch)
	}
	if aerr == nil && id != nil {
		// The request id is echoed in the response (and so may reach a
		// client's logs): the inference id's limits apply.
		if err := s.ids.CheckTokenID(leadID(id)); err != nil {
			aerr = idError("id", -1, err)
		}
	}
	if aerr == nil {
		m, aerr = s.route(ex, r, m)
	}
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	res, _, aerr := s.score(ex, r, m, 0)
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	n := int64(len(res))
	out := append(ex.out[:0], `{"model_name":`...)
	if ex.force >= 0 {
		out = appendJSONString(out, name)
	} else {
		out = appendJSONString(out, m.info.Name)
	}
	out = append(out, `,"model_version":`...)
	out = appendJSONString(out, m.info.Version)
	if id != nil {
		out = append(out, `,"id":`...)
		out = append(out, id...)
	}
	out = append(out, `,"outputs":[{"name":"probability","datatype":"FP32","shape":[`...)
	out = strconv.AppendInt(out, n, 10)
	out = append(out, `],"data":[`...)
	for i := range res {
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendFloat(out, float64(float32(res[i].Probability)), 'g', -1, 32)
	}
	out = append(out, `]},{"name":"score","datatype":"INT32","shape":[`...)
	out = strconv.AppendInt(out, n, 10)
	out = append(out, `],"data":[`...)
	for i := range res {
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendInt(out, int64(res[i].Score), 10)
	}
	ex.out = append(out, "]}]}\n"...)
	s.write(ex, http.StatusOK, ctJSON, ex.out)
}

func badTensor(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, codeBadTensor, format, args...)
}

// parseV2Infer parses an Open Inference Protocol inference request into
// out and returns its "id" as a raw JSON string token (nil when absent).
// Fields other than id and inputs ("parameters", "outputs") are accepted
// and ignored; exactly one input tensor is expected.
func parseV2Infer(body []byte, sc *schema, maxRows int, out *batch) (id []byte, err *apiError) {
	out.reset(sc.nf())
	p := batchParser{s: scanner{b: body}, sc: sc, maxRows: maxRows, out: out}
	s := &p.s
	if s.peek() != '{' {
		if s.peek() == 0 {
			return nil, newError(http.StatusBadRequest, codeMissingBody, "empty body: send an inference request object")
		}
		return nil, badTensor("body must be an inference request object with \"inputs\"")
	}
	s.i++
	inputs := 0
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			raw, esc, err := s.key()
			if err != nil {
				return nil, err
			}
			switch {
			case keyIs(raw, esc, "id"):
				if s.peek() != '"' {
					return nil, badTensor("\"id\" must be a string")
				}
				start := s.i
				if _, _, err := s.str(); err != nil {
					return nil, err
				}
				id = s.b[start:s.i]
			case keyIs(raw, esc, "inputs"):
				if s.peek() != '[' {
					return nil, badTensor("\"inputs\" must be an array of tensors")
				}
				s.i++
				if s.peek() == ']' {
					s.i++
					break
				}
				for {
					if inputs++; inputs > 1 {
						return nil, badTensor("this model takes one input tensor of shape [N, %d]", sc.nf())
					}
					if err := p.tensor(); err != nil {
						return nil, err
					}
					more, err := s.next(']', "',' or ']' in inputs")
					if err != nil {
						return nil, err
					}
					if !more {
						break
					}
				}
			default:
				if err := s.skip(0); err != nil {
					return nil, err
				}
			}
			more, err := s.next('}', "',' or '}' in the request")
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
		}
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	if inputs == 0 {
		return nil, badTensor("\"inputs\" must hold one tensor of shape [N, %d]", sc.nf())
	}
	return id, nil
}

// tensor parses one input tensor {"name","shape","datatype","data"} into
// the batch and checks that its shape matches the data and the model.
func (p *batchParser) tensor() *apiError {
	s := &p.s
	if s.peek() != '{' {
		return badTensor("an input tensor must be an object")
	}
	s.i++
	var shape [3]int64
	dims := -1
	datatype := ""
	hasData := false
	nf := p.sc.nf()
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
			case keyIs(raw, esc, "datatype"):
				if s.peek() != '"' {
					return badTensor("\"datatype\" must be a string")
				}
				v, esc, err := s.str()
				if err != nil {
					return err
				}
				datatype = keyString(v, esc)
			case keyIs(raw, esc, "data"):
				if err := p.tensorData(); err != nil {
					return err
				}
				hasData = true
			default: // name, parameters
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
	case datatype == "":
		return badTensor("the input tensor has no \"datatype\": want FP32")
	case datatype != "FP32" && datatype != "FP64":
		return badTensor("datatype %s is not supported: want FP32", datatype)
	case !hasData:
		return badTensor("the input tensor has no \"data\"")
	case dims < 0:
		return badTensor("the input tensor has no \"shape\": want [N, %d]", nf)
	}
	n := int64(p.out.n)
	ok := dims == 2 && shape[0] == n && shape[1] == int64(nf) || dims == 1 && n == 1 && shape[0] == int64(nf)
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
			if err := p.row(p.out.addRow(nf), rowIdx); err != nil {
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
		if err := p.value(&row[j], p.out.n-1, j); err != nil {
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
