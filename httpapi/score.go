package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/variant"
)

// serveScore answers POST /score.
func (s *Server) serveScore(ex *exchange, r *http.Request) {
	if !s.allowMethod(ex, r, http.MethodPost) {
		return
	}
	if !mediaIs(header(r, "Content-Type"), "application/json") {
		s.fail(ex, newError(http.StatusUnsupportedMediaType, codeMediaType,
			"Content-Type must be application/json, got %q", header(r, "Content-Type")))
		return
	}
	s.parseAndRespond(ex, r, false, false)
}

// parseAndRespond reads ?explain and the body (CSV as SageMaker's XGBoost
// container reads it, or any of /score's JSON shapes), then scores the
// batch and answers.
func (s *Server) parseAndRespond(ex *exchange, r *http.Request, csvIn, csvOut bool) {
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
	if aerr == nil {
		if csvIn {
			aerr = parseCSV(body, &m.schema, s.maxBatch, &ex.batch)
		} else {
			aerr = parseScoreBody(body, &m.schema, s.maxBatch, &ex.batch)
		}
	}
	if aerr == nil {
		aerr = s.checkLeadIDs(&ex.batch)
	}
	if aerr == nil {
		m, aerr = s.route(ex, r, m)
	}
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	s.scoreAndRespond(ex, r, m, explain, csvOut)
}

// explainParam reads ?explain=k: 0 when absent, at most the feature count.
func explainParam(rawQuery string, nf int) (int, *apiError) {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != "explain" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, newError(http.StatusBadRequest, codeBadParameter, "explain must be a whole number of reasons, 0 or more")
		}
		return min(n, nf), nil
	}
	return 0, nil
}

// score runs the model on the parsed batch.
func (s *Server) score(ex *exchange, r *http.Request, m *served, explain int) ([]leadscore.Result, time.Duration, *apiError) {
	n := ex.batch.n
	if cap(ex.results) < n {
		ex.results = make([]leadscore.Result, n, max(n, 2*cap(ex.results)))
	}
	res := ex.results[:n]
	clear(res)
	t0 := time.Now()
	var err error
	if ex.split {
		err = s.scoreSplit(r.Context(), ex, m.schema.nf(), explain, res)
	} else {
		err = m.scorer.Score(r.Context(), ex.batch.rows[:n*m.schema.nf()], explain, res)
	}
	took := time.Since(t0)
	if err != nil {
		if r.Context().Err() != nil {
			return nil, took, newError(http.StatusServiceUnavailable, codeUnavailable, "request canceled while scoring")
		}
		s.log.Error("scoring failed", "request_id", ex.reqID, "model", m.info.Name, "version", m.info.Version, "error", err.Error())
		return nil, took, newError(http.StatusInternalServerError, codeScoringFailed, "the model failed to score the batch")
	}
	s.metrics.scored(res, took.Seconds())
	switch {
	case ex.split:
		var per [variant.MaxVariants]int
		for _, k := range ex.vrows[:n] {
			per[k]++
		}
		for k, c := range per {
			if c > 0 {
				s.metrics.variantLeads.WithLabelValues(ex.vs.specs[k].Name).Add(float64(c))
			}
		}
	case ex.vidx >= 0:
		s.metrics.variantLeads.WithLabelValues(m.variant).Add(float64(n))
	}
	ex.rows = n
	if s.sink != nil {
		s.capture(ex, m, res, took)
	}
	return res, took, nil
}

// capture hands a record of each scored row to the sink. The records own
// their rows (the request's buffers are reused). The inference id is the
// caller's X-Amzn-SageMaker-Inference-Id, else the request id; in a batch
// of several rows each gets "-<row>" appended, so feedback can name one
// row.
func (s *Server) capture(ex *exchange, m *served, res []leadscore.Result, took time.Duration) {
	n, nf := len(res), m.schema.nf()
	live := ex.vidx >= 0 // variants: shadow jobs may keep the records
	// The records' storage: for a batch of leads, a pooled batch when
	// the sinks take one (leadscore.PoolSafe), which those that queue the
	// records keep by reference instead of copying each, and which returns
	// to the pool once the last of them (and of the request's shadow
	// jobs) is done; the batch takes the parsed rows themselves and the
	// exchange parses the next request into the storage the batch gives
	// back, so the rows are never copied. Else the exchange's buffers
	// when the sinks copy what they keep (with one model: shadow jobs
	// would keep them); else fresh slices. A few leads are cheaper copied
	// by the sinks into their queues than held one small batch each
	// (minPooledBatch).
	var (
		b     *leadscore.Batch
		feats []float32
		recs  []leadscore.Record
	)
	switch {
	case s.sinkPools && n >= minPooledBatch:
		b, ex.batch.rows = s.batches.GetRows(n, ex.batch.rows[:n*nf])
		feats, recs = b.Features, b.Records
	case !live && s.sinkCopiesFeats:
		// The sinks read the features only before Capture returns
		// (leadscore.FeatureCopier): the records may point at the
		// request's rows, reused by the next request.
		feats = ex.batch.rows[: n*nf : n*nf]
	default:
		feats = make([]float32, n*nf)
		copy(feats, ex.batch.rows[:n*nf])
	}
	switch {
	case b != nil:
	case !live && s.sinkCopies:
		// The sinks copy what they keep: the exchange's buffer serves
		// request after request.
		if cap(ex.recs) < n {
			ex.recs = make([]leadscore.Record, n)
		}
		recs = ex.recs[:n]
	default:
		recs = make([]leadscore.Record, n)
	}
	base := ex.infID
	if base == "" {
		base = ex.reqID
	}
	now := time.Now().UTC()
	ms := float64(took.Microseconds()) / 1000
	// The ids go in the batch's own storage when nothing but batch sinks
	// see them (and no variant's shadow job copies its records into a
	// Capture): they then cost no allocation, the batch's IDs serving
	// request after request. Else in the exchange's arena, which the
	// collector frees.
	var into *[]byte
	if b != nil && !live && s.sinkBatches {
		into = &b.IDs
	}
	ids := recordIDs(base, n, &ex.batch, &ex.idSpace, into)
	inf := ids.inferences()
	rm := m
	// Field by field, not a Record literal: the literal is built aside
	// and copied in whole (with its write barriers), which measured three
	// times the cost of filling in place (1.2 against 0.4 us for 100
	// records).
	for i := range recs {
		if ex.split {
			rm = ex.vs.models[ex.vrows[i]]
		}
		r := &recs[i]
		r.Time, r.RequestID, r.InferenceID, r.LeadID = now, ex.reqID, inf.next(), ids.lead(i)
		r.Model, r.ModelVersion, r.Variant, r.Shadow = rm.info.Name, rm.info.Version, rm.variant, false
		r.Features, r.FeatureNames = feats[i*nf:(i+1)*nf:(i+1)*nf], rm.schema.names
		r.Margin, r.Probability, r.Tier, r.LatencyMS = res[i].Margin, res[i].Probability, res[i].Score, ms
	}
	if b != nil {
		leadscore.CaptureBatch(s.sink, b)
	} else {
		s.sink.Capture(recs)
	}
	// The shadow jobs hold b (their records' Features are its storage)
	// until they are scored or shed.
	switch {
	case ex.split:
		s.shadowSplit(ex.vs, ex.vrows[:n], recs, feats, b)
	case live:
		s.shadow(ex.vs, ex.vidx, recs, feats, b)
	}
	if b != nil {
		b.Release()
	}
}

// minPooledBatch is the fewest leads a request hands the sinks in a pooled
// batch. Below it the sinks copy the records: a saturated server of single
// leads held one batch per lead in its queues (thousands of small objects
// for the collector to scan), for a copy of a few hundred bytes.
const minPooledBatch = 8

// scoreSplit scores a batch split across variants (routeLeads): each
// variant scores its own leads, gathered into one block, and the results
// go back to their rows, so the answer keeps the request's order.
func (s *Server) scoreSplit(ctx context.Context, ex *exchange, nf, explain int, res []leadscore.Result) error {
	n := ex.batch.n
	return eachVariant(ex.vrows[:n], func(r0 int, k int32) error {
		rows, idx := ex.splitRows[:0], ex.splitIdx[:0]
		for r := r0; r < n; r++ {
			if ex.vrows[r] == k {
				rows = append(rows, ex.batch.rows[r*nf:(r+1)*nf]...)
				idx = append(idx, r)
			}
		}
		ex.splitRows, ex.splitIdx = rows, idx
		if cap(ex.splitRes) < len(idx) {
			ex.splitRes = make([]leadscore.Result, len(idx), max(len(idx), n))
		}
		out := ex.splitRes[:len(idx)]
		clear(out)
		if err := ex.vs.models[k].scorer.Score(ctx, rows, explain, out); err != nil {
			return fmt.Errorf("variant %s: %w", ex.vs.specs[k].Name, err)
		}
		for j, r := range idx {
			res[r] = out[j]
		}
		return nil
	})
}

// batchIDs are the inference ids and lead ids of a captured batch, all
// held in one string: a 100-lead batch costs one allocation for its ids
// instead of two hundred.
//
// Where the string lives follows who may keep the ids past the batch's
// last Release. When every sink takes batches (leadscore.OnlyBatches) and
// no variant's shadow job holds the records, it is the pooled batch's own
// storage (Batch.IDs), reused request after request: the holders copy
// what they keep (the drift monitor's window its rows' inference and lead
// ids, for feedback to find them; the lake's string columns the last
// value added, strColumn.last). Otherwise (other sinks, variants: the live
// comparison keeps ids for its outcomes) it is a block of the exchange's
// arena (idArena), never written again and left to the collector.
type batchIDs struct {
	all  string
	base string // the id of a one-row batch
	// rows is the row count when the inference ids are base-<row> (in all
	// from its start, one after the other: where row i's is follows from
	// i, so no offsets are kept); 0: every row's is base.
	rows   int
	leadAt []uint32 // start and end offsets in all, per row; nil: no lead ids
}

// recordIDs builds the ids of n rows: base, or base-<row> when n > 1, and
// the rows' lead ids, in *into (its room reused, grown when short) when
// into is not nil, else in space from a (fresh arrays when a is nil).
// The result's leadAt is a's scratch: it is valid until a's next use.
func recordIDs(base string, n int, b *batch, a *idArena, into *[]byte) batchIDs {
	ids := batchIDs{base: base}
	hasLeads := b.hasIDs && len(b.ids) > 0
	if n == 1 && !hasLeads {
		return ids
	}
	size := 0
	if n > 1 {
		size = indexedIDsLen(len(base), n)
		ids.rows = n
	}
	if hasLeads {
		if a != nil && cap(a.leadAt) >= 2*n {
			ids.leadAt = a.leadAt[:0]
		} else {
			ids.leadAt = make([]uint32, 0, 2*n)
		}
		for i := range min(n, len(b.ids)) {
			size += len(b.ids[i])
		}
	}
	// The ids are built in place and the string shares the bytes
	// (nothing writes them after).
	var buf []byte
	if into != nil {
		buf = slices.Grow((*into)[:0], size)
	} else {
		buf = a.take(size)
	}
	if n > 1 {
		buf = appendIndexedIDs(buf, base, n)
	}
	if hasLeads {
		for i := range n {
			start := uint32(len(buf)) // #nosec G115 -- as above
			if i < len(b.ids) {
				buf = appendLeadID(buf, b.ids[i])
			}
			ids.leadAt = append(ids.leadAt, start, uint32(len(buf))) // #nosec G115 -- as above
		}
		if a != nil && cap(ids.leadAt) <= maxLeadAt {
			a.leadAt = ids.leadAt
		}
	}
	if into != nil {
		*into = buf
	} else {
		a.keep(buf)
	}
	ids.all = unsafe.String(unsafe.SliceData(buf), len(buf)) // #nosec G103 -- buf is never written again
	return ids
}

// indexedIDsLen is the length of the n ids base-0 ... base-<n-1> one
// after the other, for a base of lb bytes.
func indexedIDsLen(lb, n int) int {
	size := n * (lb + 1)
	for lo, hi, d := 0, 10, 1; lo < n; lo, hi, d = hi, hi*10, d+1 {
		size += (min(hi, n) - lo) * d
	}
	return size
}

// appendIndexedIDs appends base-0, base-1, ... base-<n-1> to buf, which
// must have room for them (indexedIDsLen): they are written in place,
// the row's digits counted up rather than formatted, with no call per
// id but the copy of base.
func appendIndexedIDs(buf []byte, base string, n int) []byte {
	off := len(buf)
	buf = buf[:off+indexedIDsLen(len(base), n)]
	// Row i's digits, right-aligned in row, from lo.
	var row [20]byte
	lo := len(row) - 1
	row[lo] = '0'
	for range n {
		off += copy(buf[off:], base)
		buf[off] = '-'
		off++
		for _, c := range row[lo:] {
			buf[off] = c
			off++
		}
		k := len(row) - 1
		for ; k >= lo && row[k] == '9'; k-- {
			row[k] = '0'
		}
		if k < lo {
			lo--
			row[lo] = '1'
		} else {
			row[k]++
		}
	}
	return buf
}

// An idArena is where an exchange builds its requests' captured ids: they
// are carved one after the other from chunks of idChunk bytes, and bytes
// once carved are never written again (the strings made of them live as
// long as their holders want: the monitor's window, the live comparison
// and the lake's columns keep ids past the batch's last Release). A
// chunk is dropped, not reused, when full; the collector frees it once
// no id in it is held. A 100-lead request's ids (~3 KB) allocated on
// their own cost it about as much in the allocator (a span refill most
// times) as building them; a 16 KiB chunk serves five such requests.
// CPU profiles of ServeCost/full/100, 4 alternated runs of 20,000
// requests at load 6-7: recordIDs 3.8 us a request with an allocation
// each, 2.6 with 16 KiB chunks, 6.3 with 64 KiB chunks (large spans,
// fresh pages to fault in).
type idArena struct {
	chunk []byte // the current chunk, carved up to its length
	// leadAt is recordIDs' scratch for lead id offsets.
	leadAt []uint32
}

const (
	// idChunk is the size of the chunks ids are carved from; ids of
	// more than a quarter of it get their own array.
	idChunk = 16 << 10
	// maxLeadAt bounds the scratch an exchange keeps (1,024 leads).
	maxLeadAt = 2 << 10
)

// take returns an empty slice with room for size bytes: the free tail of
// a's chunk (a new chunk when it has less), or an array of its own. The
// caller appends the ids and hands the result to keep.
func (a *idArena) take(size int) []byte {
	if a == nil || size > idChunk/4 {
		return make([]byte, 0, size)
	}
	if cap(a.chunk)-len(a.chunk) < size {
		a.chunk = make([]byte, 0, idChunk)
	}
	return a.chunk[len(a.chunk):len(a.chunk)]
}

// keep marks buf, which take returned and the caller filled, as carved:
// the chunk's next ids follow it. A buf that outgrew the chunk's room
// (append moved it) is its own array.
func (a *idArena) keep(buf []byte) {
	if a == nil || len(buf) == 0 || cap(a.chunk) == len(a.chunk) {
		return
	}
	if unsafe.SliceData(buf) == unsafe.SliceData(a.chunk[len(a.chunk):cap(a.chunk)]) { // #nosec G103 -- compares pointers only
		a.chunk = a.chunk[:len(a.chunk)+len(buf)]
	}
}

// An inferenceIDs reads a batch's inference ids in row order, each in
// constant time: next returns row 0's, then row 1's, ...
type inferenceIDs struct {
	x     *batchIDs
	row   int
	off   int // where the next row's id starts in x.all
	width int // its length
	wider int // the first row whose id is one byte longer
}

func (x *batchIDs) inferences() inferenceIDs {
	return inferenceIDs{x: x, width: len(x.base) + 2, wider: 10}
}

func (it *inferenceIDs) next() string {
	if it.x.rows == 0 {
		return it.x.base
	}
	if it.row == it.wider {
		it.width++
		it.wider *= 10
	}
	it.row++
	s := it.x.all[it.off : it.off+it.width]
	it.off += it.width
	return s
}

func (x *batchIDs) inference(i int) string {
	if x.rows == 0 {
		return x.base
	}
	// Row i's id follows i ids of len(base)+1 bytes and the digits of
	// 0..i-1; it is len(base)+1 bytes and the digits of i long.
	start, digits := i*(len(x.base)+1), 1
	for lo, hi := 0, 10; ; lo, hi, digits = hi, hi*10, digits+1 {
		if i < hi {
			start += (i - lo) * digits
			break
		}
		start += (hi - lo) * digits
	}
	return x.all[start : start+len(x.base)+1+digits]
}

func (x *batchIDs) lead(i int) string {
	if x.leadAt == nil {
		return ""
	}
	return x.all[x.leadAt[2*i]:x.leadAt[2*i+1]]
}

// appendLeadID appends the lead id of a raw JSON token, as leadID
// decodes it.
func appendLeadID(buf, tok []byte) []byte {
	switch {
	case tok == nil:
		return buf
	case len(tok) < 2 || tok[0] != '"':
		return append(buf, tok...)
	case bytes.IndexByte(tok, '\\') < 0:
		return append(buf, tok[1:len(tok)-1]...)
	}
	return append(buf, leadID(tok)...)
}

// checkLeadIDs refuses a batch whose lead ids break the id limits (400
// invalid_id naming the row and "id").
func (s *Server) checkLeadIDs(b *batch) *apiError {
	if !b.hasIDs {
		return nil
	}
	for i, tok := range b.ids[:b.n] {
		if tok == nil {
			continue
		}
		if len(tok) > 2+6*s.ids.LeadIDBytes { // longer than any id within the limit, however escaped
			return idError("id", i, fmt.Errorf("is longer than %d bytes", s.ids.LeadIDBytes))
		}
		if err := s.ids.CheckLeadID(leadID(tok)); err != nil {
			return idError("id", i, err)
		}
	}
	return nil
}

// leadID decodes a row id kept as its raw JSON token: a string or a number.
func leadID(tok []byte) string {
	if len(tok) < 2 || tok[0] != '"' {
		return string(tok)
	}
	if bytes.IndexByte(tok, '\\') < 0 {
		return string(tok[1 : len(tok)-1])
	}
	var id string
	if json.Unmarshal(tok, &id) != nil {
		return ""
	}
	return id
}

// scoreAndRespond scores the parsed batch and writes the /score response
// (or, for csvOut, one probability per line).
func (s *Server) scoreAndRespond(ex *exchange, r *http.Request, m *served, explain int, csvOut bool) {
	if explain > 0 && ex.batch.n > s.maxExplain {
		s.fail(ex, newError(http.StatusRequestEntityTooLarge, codeBatchTooLarge,
			"explain is limited to %d rows per request, got %d: split the batch", s.maxExplain, ex.batch.n))
		return
	}
	res, took, aerr := s.score(ex, r, m, explain)
	if aerr != nil {
		s.fail(ex, aerr)
		return
	}
	total := time.Since(ex.start)
	ex.w.Header()["Server-Timing"] = []string{serverTiming(total, took)}
	if csvOut {
		ex.out = appendCSV(ex.out[:0], res)
		s.write(ex, http.StatusOK, ctCSV, ex.out)
		return
	}
	var ids [][]byte
	if ex.batch.hasIDs {
		ids = ex.batch.ids
	}
	var rv *rowVariants
	if ex.vidx >= 0 {
		rv = &rowVariants{vs: ex.vs, m: m, split: ex.split, rows: ex.vrows}
	}
	ex.out = appendScoreResponse(ex.out[:0], ex.reqID, m, rv, res, ids, explain > 0, total, took)
	s.write(ex, http.StatusOK, ctJSON, ex.out)
}

// serverTiming formats the Server-Timing header: total and model time in
// milliseconds.
func serverTiming(total, model time.Duration) string {
	var b [64]byte
	out := append(b[:0], "total;dur="...)
	out = appendMillis(out, total)
	out = append(out, ", model;dur="...)
	out = appendMillis(out, model)
	return string(out)
}

func appendMillis(dst []byte, d time.Duration) []byte {
	return strconv.AppendFloat(dst, float64(d.Nanoseconds())/1e6, 'f', 3, 64)
}

// appendScoreResponse writes
//
//	{"request_id":..., "model":{"name","version"}, "results":[{"score",
//	"probability", "id"?, "reasons"?}], "latency":{"total_ms","model_ms"}}
func appendScoreResponse(dst []byte, reqID string, m *served, rv *rowVariants, res []leadscore.Result, ids [][]byte,
	explain bool, total, model time.Duration) []byte {
	dst = append(dst, `{"request_id":`...)
	dst = appendJSONString(dst, reqID)
	dst = append(dst, `,"model":`...)
	if rv != nil && rv.split {
		dst = rv.appendModels(dst, len(res))
	} else {
		dst = append(dst, m.modelJSON...)
	}
	dst = append(dst, `,"results":[`...)
	for i := range res {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"score":`...)
		dst = strconv.AppendInt(dst, int64(res[i].Score), 10)
		dst = append(dst, `,"probability":`...)
		dst = appendFloat(dst, res[i].Probability)
		if ids != nil && ids[i] != nil {
			dst = append(dst, `,"id":`...)
			dst = append(dst, ids[i]...)
		}
		if rv != nil {
			dst = append(dst, `,"variant":`...)
			dst = appendJSONString(dst, rv.name(i))
		}
		if explain {
			dst = append(dst, `,"reasons":`...)
			dst = appendReasons(dst, res[i].Reasons)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"latency":{"total_ms":`...)
	dst = appendMillis(dst, total)
	dst = append(dst, `,"model_ms":`...)
	dst = appendMillis(dst, model)
	return append(dst, "}}\n"...)
}

// appendReasons writes reason codes as
// [{"feature","value"(null if missing),"contribution","direction"}].
func appendReasons(dst []byte, reasons []leadscore.Reason) []byte {
	dst = append(dst, '[')
	for i := range reasons {
		rs := &reasons[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"feature":`...)
		dst = appendJSONString(dst, rs.Feature)
		dst = append(dst, `,"value":`...)
		if rs.Value != nil {
			dst = appendFloat(dst, *rs.Value)
		} else {
			dst = append(dst, "null"...)
		}
		dst = append(dst, `,"contribution":`...)
		dst = appendFloat(dst, rs.Contribution)
		dst = append(dst, `,"direction":`...)
		dst = appendJSONString(dst, rs.Direction)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendFloat writes a float as the shortest JSON number that reads back
// the same; NaN and infinities, which JSON cannot hold, become null.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// appendJSONString writes s as a JSON string, escaping what JSON requires
// and replacing invalid UTF-8 with U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// rowVariants names the variant of each row of a /score answer when
// variants are served: the one that answered them all, or, for a batch
// split across variants, each row's own.
type rowVariants struct {
	vs    *variantSet
	m     *served // the variant that answered (the first lead's when split)
	split bool
	rows  []int32
}

func (rv *rowVariants) name(i int) string {
	if rv.split {
		return rv.vs.specs[rv.rows[i]].Name
	}
	return rv.m.variant
}

// appendModels writes a split batch's "model": {"variants": [...]}, the
// model of each variant that answered some of its n leads, in the order
// of their first lead.
func (rv *rowVariants) appendModels(dst []byte, n int) []byte {
	dst = append(dst, `{"variants":[`...)
	_ = eachVariant(rv.rows[:n], func(first int, k int32) error {
		if first > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, rv.vs.models[k].modelJSON...)
		return nil
	})
	return append(dst, "]}"...)
}
