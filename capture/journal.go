package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/leadscore/leadscore"
)

// Journal segment format (little endian throughout):
//
//	segment := magic frame*
//	magic   := "LSCAPJ2\n"                                 version 2 (written)
//	         | "LSCAPJ1\n"                                 version 1 (replayed)
//	frame   := length:uint32 crc:uint32 payload[length]
//
// crc is CRC-32C (Castagnoli) of payload. The first frame is the header;
// every later frame is a batch (version 2) or a record (version 1):
//
//	header  := 'H' uvarint(n) str{n}                      feature names
//	batch   := 'B' time:int64(unix ns) str(request id) str(model)
//	           str(model version) str(variant) latency:float64
//	           flags:byte uvarint(nfeat) count:uint32 ids row{count}
//	flags   := bit 0 shadow, bit 1 lead ids present, bits 2-3 ids' mode
//	ids     := (mode 0: every row names its inference id)
//	         | (mode 1: every inference id is the request id)
//	         | str(base) uvarint(start)      mode 2: row k's inference id
//	                                         is base "-" decimal(start+k)
//	         | uvarint(start)                mode 3: as 2, base = request id
//	row     := [str(inference id): mode 0] [str(lead id): flags bit 1]
//	           float32{nfeat} margin:float64 probability:float64 tier:varint
//	record  := 'R' time:int64(unix ns) str{5} uvarint(n) float32{n}
//	           margin:float64 probability:float64 tier:varint latency:float64
//	           [str(variant) shadow:byte]        absent before variants
//	str     := uvarint(len) bytes                (record: request id,
//	                                             inference id, lead id,
//	                                             model, model version)
//
// A batch frame holds a run of consecutive records that share their
// request's fields (time, request id, model, version, variant, shadow,
// latency, feature count): one frame per request run instead of one per
// record, so the shared strings are written and checksummed once and a
// 100-lead request's rows are little but their features. httpapi names a
// request's rows base-0, base-1, ... (base: the request id or SageMaker's
// inference id), which modes 2 and 3 store as the base and the first index.
//
// A reader stops at the first frame that is short (torn by a crash) or fails
// its checksum or its decoding; every frame before it is intact, and a batch
// frame yields its records only once the whole frame has decoded.

const (
	journalMagic   = "LSCAPJ2\n" // what the journal writes
	journalMagicV1 = "LSCAPJ1\n" // one 'R' frame per record; still replayed
	frameHeader    = 8           // length + crc
	// maxFrame bounds one frame so that a corrupt length cannot make the
	// reader allocate without limit.
	maxFrame = 4 << 20
	// maxFeatures bounds the feature count a header may declare.
	maxFeatures = 1 << 16
	// maxIDIndex bounds the first index of a batch's indexed inference ids
	// (httpapi's rows are numbered from 0, far below it), so that start plus
	// a row number never overflows.
	maxIDIndex = 1<<31 - 1

	kindHeader = 'H'
	kindBatch  = 'B'
	kindRecord = 'R'

	flagShadow   = 1 << 0
	flagLeadIDs  = 1 << 1
	idModeShift  = 2
	idModeMask   = 3 << idModeShift
	flagsKnown   = flagShadow | flagLeadIDs | idModeMask
	idsExplicit  = 0 // every row names its inference id
	idsRequest   = 1 // every inference id is the request id
	idsIndexed   = 2 // base-<start+k>
	idsIndexedRq = 3 // request id-<start+k>

	// batchCountSize: a batch's record count is a fixed-width field, filled
	// in once the rows that fit maxFrame are known.
	batchCountSize = 4
	// minRow is the fewest bytes a batch row of nfeat features takes
	// beyond 4*nfeat: margin, probability and a one-byte tier.
	minRow = 8 + 8 + 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errTorn reports a segment whose tail is incomplete or corrupt; every frame
// before Offset was read.
type tornError struct {
	Offset int64
	Reason string
}

func (e *tornError) Error() string {
	return fmt.Sprintf("journal torn at byte %d: %s", e.Offset, e.Reason)
}

// frameEncoder builds frames into a reusable buffer. The journaler keeps
// the frames it appends there as the segment's pending bytes (written out
// once enough gather, and at the end of every drain), so that a frame is
// encoded in place rather than copied into a separate write buffer.
type frameEncoder struct {
	buf     []byte
	start   int    // where the frame being encoded begins in buf
	scratch []byte // room for idMode's expected ids
}

// begin starts a frame at the end of buf: room for the frame header, then
// the kind byte.
func (e *frameEncoder) begin(kind byte) {
	e.start = len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0, 0, 0, 0, 0, kind)
}

// finish fills in the frame header and returns the whole frame (the tail
// of buf), or nil, the frame removed from buf, when the payload is larger
// than maxFrame (a reader would take it for corruption).
func (e *frameEncoder) finish() []byte {
	frame := e.buf[e.start:]
	payload := frame[frameHeader:]
	if len(payload) > maxFrame {
		e.buf = e.buf[:e.start]
		return nil
	}
	binary.LittleEndian.PutUint32(frame[0:4], uint32(len(payload))) //nolint:gosec // len <= maxFrame
	binary.LittleEndian.PutUint32(frame[4:8], crc32.Checksum(payload, crcTable))
	return frame
}

func (e *frameEncoder) str(s string) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *frameEncoder) f64(v float64) {
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(v))
}

// header encodes the header frame naming the features, alone in buf.
func (e *frameEncoder) header(features []string) []byte {
	e.buf = e.buf[:0]
	return e.appendHeader(features)
}

// appendHeader appends the header frame to buf and returns it.
func (e *frameEncoder) appendHeader(features []string) []byte {
	e.begin(kindHeader)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(features)))
	for _, f := range features {
		e.str(f)
	}
	return e.finish()
}

// sameStr is a == b, decided without reading the bytes when a and b are
// the same bytes: the records of one request share their strings (httpapi
// sets one request id, model, version and variant on every row), so a
// run's checks cost a comparison of pointers. Strings that are equal
// copies are compared as before.
func sameStr(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b) // #nosec G103 -- compares pointers, reads nothing
}

// sameRequest reports whether r shares the batch fields of the run that
// starts with r0 (whose time is ns0): what a batch frame stores once.
func sameRequest(r, r0 *leadscore.Record, ns0 int64) bool {
	return sameStr(r.RequestID, r0.RequestID) && sameStr(r.Model, r0.Model) && sameStr(r.ModelVersion, r0.ModelVersion) &&
		sameStr(r.Variant, r0.Variant) && r.Shadow == r0.Shadow && len(r.Features) == len(r0.Features) &&
		math.Float64bits(r.LatencyMS) == math.Float64bits(r0.LatencyMS) && r.Time.UnixNano() == ns0
}

// batch encodes, alone in buf, the longest prefix of recs whose records
// share their request's fields and fit in one frame, and returns the frame
// and how many records it holds. When recs[0] alone is too large for a
// frame it returns nil and 1: the caller drops that record (too_large) and
// goes on with the next. recs must not be empty.
func (e *frameEncoder) batch(recs []leadscore.Record) ([]byte, int) {
	e.buf = e.buf[:0]
	return e.appendBatch(recs)
}

// appendBatch is batch, the frame appended to buf after the frames already
// there (which a nil frame leaves as they were).
func (e *frameEncoder) appendBatch(recs []leadscore.Record) ([]byte, int) {
	r0 := &recs[0]
	ns0 := r0.Time.UnixNano()
	nfeat := len(r0.Features)
	leads := r0.LeadID != ""
	n := 1
	for n < len(recs) && sameRequest(&recs[n], r0, ns0) {
		leads = leads || recs[n].LeadID != ""
		n++
	}
	run := recs[:n]
	mode, base, start := e.idMode(run)
	if cap(e.scratch) > 1<<10 {
		e.scratch = nil // a rare long id's room is not kept
	}
	flags := byte(mode << idModeShift)
	if r0.Shadow {
		flags |= flagShadow
	}
	if leads {
		flags |= flagLeadIDs
	}

	e.begin(kindBatch)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(ns0)) //nolint:gosec // bit pattern, decoded back as int64
	e.str(r0.RequestID)
	e.str(r0.Model)
	e.str(r0.ModelVersion)
	e.str(r0.Variant)
	e.f64(r0.LatencyMS)
	e.buf = append(e.buf, flags)
	e.buf = binary.AppendUvarint(e.buf, uint64(nfeat))
	countAt := len(e.buf)
	e.buf = append(e.buf, make([]byte, batchCountSize)...)
	switch mode {
	case idsIndexed:
		e.str(base)
		e.buf = binary.AppendUvarint(e.buf, start)
	case idsIndexedRq:
		e.buf = binary.AppendUvarint(e.buf, start)
	}
	n = e.rows(run, mode == idsExplicit, leads)
	if n == 0 {
		e.buf = e.buf[:e.start]
		return nil, 1
	}
	binary.LittleEndian.PutUint32(e.buf[countAt:], uint32(n)) //nolint:gosec // n < maxFrame
	return e.finish(), n
}

// rows appends a run's rows to the batch frame begun in buf: each its
// inference id (ids: explicit mode), its lead id (leads), features,
// margin, probability and tier. Room for a row is made before it is
// written, so that its fields are copied in place (the features in one
// copy of their memory) with no growth check of their own. It returns how
// many rows fit the frame; the rows after are left out.
func (e *frameEncoder) rows(run []leadscore.Record, ids, leads bool) int {
	r0 := &run[0]
	nfeat := len(r0.Features)
	fixed := 4*nfeat + 8 + 8 // features, margin, probability
	limit := e.start + frameHeader + maxFrame
	b := e.buf
	// Room for rows of the first one's size, so that the run's rows rarely
	// grow the buffer.
	usual := fixed + binary.MaxVarintLen64
	if ids {
		usual += 2 + len(r0.InferenceID)
	}
	if leads {
		usual += 2 + len(r0.LeadID)
	}
	b = slices.Grow(b, min(len(run)*usual, limit+usual-len(b)))
	for k := range run {
		r := &run[k]
		mark := len(b)
		need := fixed + binary.MaxVarintLen64
		if ids {
			need += binary.MaxVarintLen64 + len(r.InferenceID)
		}
		if leads {
			need += binary.MaxVarintLen64 + len(r.LeadID)
		}
		if mark+need > cap(b) {
			b = slices.Grow(b, need)
		}
		if ids {
			b = binary.AppendUvarint(b, uint64(len(r.InferenceID)))
			b = append(b, r.InferenceID...)
		}
		if leads {
			b = binary.AppendUvarint(b, uint64(len(r.LeadID)))
			b = append(b, r.LeadID...)
		}
		at := len(b)
		b = b[:at+fixed]
		putFloat32s(b[at:at+4*nfeat], r.Features)
		binary.LittleEndian.PutUint64(b[at+4*nfeat:], math.Float64bits(r.Margin))
		binary.LittleEndian.PutUint64(b[at+4*nfeat+8:], math.Float64bits(r.Probability))
		b = binary.AppendVarint(b, int64(r.Tier))
		if len(b) > limit {
			// The rows before it make the frame; this one starts the next.
			e.buf = b[:mark]
			return k
		}
	}
	e.buf = b
	return len(run)
}

// idMode chooses how a batch stores its records' inference ids: mode 1
// when they are all the request id (a single lead), 2 or 3 when they are
// base-<start+k> as httpapi numbers a request's rows (3: base is the
// request id), else 0 (explicit). Records are checked in full, digits
// included, so that decoding gives back exactly the ids encoded.
func idMode(run []leadscore.Record) (mode int, base string, start uint64) {
	var e frameEncoder
	return e.idMode(run)
}

// idMode is the package's idMode, with e.scratch as room for a row's
// expected id.
func (e *frameEncoder) idMode(run []leadscore.Record) (mode int, base string, start uint64) {
	r0 := &run[0]
	same := true
	for i := range run {
		if !sameStr(run[i].InferenceID, r0.RequestID) {
			same = false
			break
		}
	}
	if same {
		return idsRequest, "", 0
	}
	base, start, ok := splitIndexedID(r0.InferenceID)
	if !ok || start+uint64(len(run)) > maxIDIndex {
		return idsExplicit, "", 0
	}
	// Row k's id, base-<start+k>, its digits counted up in place: one
	// comparison a row.
	want := append(append(e.scratch[:0], base...), '-')
	want = strconv.AppendUint(want, start, 10)
	e.scratch = want[:0] // kept for the next run
	digits := len(base) + 1
	for k := 1; k < len(run); k++ {
		want = incDecimal(want, digits)
		if id := run[k].InferenceID; len(id) != len(want) || id != string(want) {
			return idsExplicit, "", 0
		}
	}
	if sameStr(base, r0.RequestID) {
		return idsIndexedRq, "", start
	}
	return idsIndexed, base, start
}

// incDecimal adds one to the canonical decimal that ends b from index
// from: in place, or with a digit appended when every digit was 9.
func incDecimal(b []byte, from int) []byte {
	for i := len(b) - 1; i >= from; i-- {
		if b[i] != '9' {
			b[i]++
			return b
		}
		b[i] = '0'
	}
	b = append(b, '0')
	b[from] = '1'
	return b
}

// splitIndexedID splits base-<index> where index is a canonical decimal
// (what strconv.AppendInt writes: no sign, no leading zero) of at most 9
// digits.
func splitIndexedID(id string) (base string, index uint64, ok bool) {
	dash := strings.LastIndexByte(id, '-')
	digits := id[dash+1:]
	if dash < 0 || len(digits) == 0 || len(digits) > 9 || (digits[0] == '0' && len(digits) > 1) {
		return "", 0, false
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return "", 0, false
		}
		index = index*10 + uint64(c-'0')
	}
	return id[:dash], index, true
}

// frameReader reads the frames of one segment.
type frameReader struct {
	r        *bufio.Reader
	size     int64 // of the segment
	off      int64 // bytes consumed so far
	buf      []byte
	features []string
	v1       bool // an LSCAPJ1 segment: 'R' frames
	// The batch frame being returned, record by record, once it decoded
	// whole; its rows are read from buf, which the next frame reuses.
	bat batchFrame
}

// newFrameReader checks the magic and reads the header frame of a segment
// of size bytes. A segment torn inside its header returns a *tornError and
// no reader.
func newFrameReader(r io.Reader, size int64) (*frameReader, error) {
	fr := &frameReader{r: bufio.NewReaderSize(r, int(min(max(size, 16), 1<<16))), size: size}
	magic := make([]byte, len(journalMagic))
	n, err := io.ReadFull(fr.r, magic)
	fr.off = int64(n)
	if err != nil {
		return nil, &tornError{Offset: 0, Reason: "short magic"}
	}
	switch string(magic) {
	case journalMagic:
	case journalMagicV1:
		fr.v1 = true
	default:
		return nil, fmt.Errorf("not a capture journal (bad magic %q)", magic)
	}
	payload, err := fr.frame()
	if err == io.EOF {
		return nil, &tornError{Offset: int64(len(journalMagic)), Reason: "no header"}
	}
	if err != nil {
		return nil, err
	}
	if payload[0] != kindHeader {
		return nil, &tornError{Offset: int64(len(journalMagic)), Reason: "first frame is not a header"}
	}
	features, err := decodeHeader(payload[1:])
	if err != nil {
		return nil, &tornError{Offset: int64(len(journalMagic)), Reason: err.Error()}
	}
	fr.features = features
	return fr, nil
}

// frame reads the next frame's payload (valid until the next call). It
// returns io.EOF at a clean end and a *tornError at a torn or corrupt one.
func (fr *frameReader) frame() ([]byte, error) {
	start := fr.off
	var hdr [frameHeader]byte
	n, err := io.ReadFull(fr.r, hdr[:])
	fr.off += int64(n)
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case err != nil:
		return nil, &tornError{Offset: start, Reason: "short frame header"}
	}
	length := binary.LittleEndian.Uint32(hdr[0:4])
	if length == 0 || length > maxFrame {
		return nil, &tornError{Offset: start, Reason: fmt.Sprintf("bad frame length %d", length)}
	}
	if rest := fr.size - fr.off; int64(length) > rest {
		return nil, &tornError{Offset: start, Reason: fmt.Sprintf("short frame (%d of %d bytes)", max(rest, 0), length)}
	}
	if cap(fr.buf) < int(length) {
		fr.buf = make([]byte, length)
	}
	payload := fr.buf[:length]
	n, err = io.ReadFull(fr.r, payload)
	fr.off += int64(n)
	if err != nil {
		return nil, &tornError{Offset: start, Reason: fmt.Sprintf("short frame (%d of %d bytes)", n, length)}
	}
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) {
		return nil, &tornError{Offset: start, Reason: "checksum mismatch"}
	}
	return payload, nil
}

// next decodes the next record into r. It returns io.EOF at a clean end and
// a *tornError when the rest of the segment is unreadable.
func (fr *frameReader) next(r *leadscore.Record) error {
	if fr.bat.left > 0 {
		fr.bat.next(r)
		return nil
	}
	start := fr.off
	payload, err := fr.frame()
	if err != nil {
		return err
	}
	want := byte(kindBatch)
	if fr.v1 {
		want = kindRecord
	}
	if payload[0] != want {
		return &tornError{Offset: start, Reason: fmt.Sprintf("unexpected frame kind %q", payload[0])}
	}
	if fr.v1 {
		err = decodeRecord(payload[1:], len(fr.features), r)
	} else {
		err = fr.bat.decode(payload[1:], len(fr.features))
	}
	if err != nil {
		return &tornError{Offset: start, Reason: err.Error()}
	}
	if !fr.v1 {
		fr.bat.next(r)
	}
	return nil
}

// batchFrame is a decoded batch frame: the fields its records share, and
// its rows, not yet turned into records.
type batchFrame struct {
	shared leadscore.Record // Features unset
	nfeat  int
	leads  bool
	mode   int
	base   string // of indexed inference ids
	start  uint64 // index of the first row's inference id
	rows   []byte // the rows not yet returned
	count  int    // rows in the frame
	left   int    // rows not yet returned
}

// decode reads a batch payload (after its kind byte) of a segment whose
// header names nfeat features. It checks every row before any is returned,
// so that a corrupt frame is refused whole, like a torn one, and replay's
// count of records stays exact. Every count and length is bounded by the
// payload before anything is allocated.
func (b *batchFrame) decode(p []byte, nfeat int) error {
	b.left = 0
	d := decoder{b: p}
	ns := int64(d.u64()) //nolint:gosec // bit pattern written from an int64
	s := &b.shared
	s.RequestID = d.str()
	s.Model = d.str()
	s.ModelVersion = d.str()
	s.Variant = d.str()
	s.LatencyMS = math.Float64frombits(d.u64())
	flags := d.fixed(1)
	n := d.uvarint()
	count := d.fixed(batchCountSize)
	if d.err != nil {
		return fmt.Errorf("batch: %w", d.err)
	}
	if flags[0]&^flagsKnown != 0 {
		return fmt.Errorf("batch: unknown flags %#x", flags[0])
	}
	if n != uint64(nfeat) { //nolint:gosec // nfeat <= maxFeatures
		return fmt.Errorf("batch has %d features, header %d", n, nfeat)
	}
	s.Shadow = flags[0]&flagShadow != 0
	s.Time = time.Unix(0, ns).UTC()
	b.nfeat, b.leads, b.mode = nfeat, flags[0]&flagLeadIDs != 0, int(flags[0]&idModeMask)>>idModeShift
	b.base, b.start = "", 0
	switch b.mode {
	case idsIndexed:
		b.base = d.str()
		b.start = d.uvarint()
	case idsIndexedRq:
		b.base = s.RequestID
		b.start = d.uvarint()
	}
	if d.err != nil {
		return fmt.Errorf("batch ids: %w", d.err)
	}
	rows := binary.LittleEndian.Uint32(count)
	if rows == 0 || uint64(rows) > uint64(len(d.b))/uint64(4*nfeat+minRow) {
		return fmt.Errorf("batch of %d rows in %d bytes", rows, len(d.b))
	}
	if b.start > maxIDIndex {
		return fmt.Errorf("batch ids start at %d", b.start)
	}
	b.rows, b.count = d.b, int(rows)
	// Check the rows: each must parse, and they must fill the frame.
	for range rows {
		if _, err := b.row(&d); err != nil {
			return err
		}
	}
	if len(d.b) != 0 {
		return fmt.Errorf("batch: %d trailing bytes", len(d.b))
	}
	b.left = b.count
	return nil
}

// batchRow is one row of a batch, its strings and features still in the
// payload.
type batchRow struct {
	id, lead []byte
	features []byte
	margin   uint64
	prob     uint64
	tier     int64
}

// row reads one row from d.
func (b *batchFrame) row(d *decoder) (batchRow, error) {
	var r batchRow
	if b.mode == idsExplicit {
		r.id = d.bytes()
	}
	if b.leads {
		r.lead = d.bytes()
	}
	r.features = d.fixed(4 * b.nfeat)
	r.margin = d.u64()
	r.prob = d.u64()
	r.tier = d.varint()
	if d.err != nil {
		return r, fmt.Errorf("batch row: %w", d.err)
	}
	return r, nil
}

// next turns the next row into r; the frame decoded whole (b.left > 0).
func (b *batchFrame) next(r *leadscore.Record) {
	d := decoder{b: b.rows}
	row, _ := b.row(&d) // checked by decode
	b.rows = d.b
	k := uint64(b.count - b.left) //nolint:gosec // 0 <= k < count
	b.left--
	*r = b.shared
	switch b.mode {
	case idsExplicit:
		r.InferenceID = string(row.id)
	case idsRequest:
		r.InferenceID = b.shared.RequestID
	default:
		r.InferenceID = b.base + "-" + strconv.FormatUint(b.start+k, 10)
	}
	r.LeadID = string(row.lead)
	r.Features = make([]float32, b.nfeat)
	for i := range r.Features {
		r.Features[i] = math.Float32frombits(binary.LittleEndian.Uint32(row.features[4*i:]))
	}
	r.Margin = math.Float64frombits(row.margin)
	r.Probability = math.Float64frombits(row.prob)
	r.Tier = clampTier(row.tier)
}

// decoder reads fields from a payload, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("payload too short")

func (d *decoder) fixed(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	return string(d.bytes())
}

// bytes reads a length-prefixed string's bytes, a view of the payload.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShort
	}
	return d.fixed(int(n)) //nolint:gosec // n <= len(d.b), checked above
}

func (d *decoder) u64() uint64 {
	b := d.fixed(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func decodeHeader(b []byte) ([]string, error) {
	d := decoder{b: b}
	n := d.uvarint()
	if d.err == nil && n > maxFeatures {
		return nil, fmt.Errorf("header declares %d features", n)
	}
	features := make([]string, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		features = append(features, d.str())
	}
	if d.err != nil {
		return nil, fmt.Errorf("header: %w", d.err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("header: %d trailing bytes", len(d.b))
	}
	return features, nil
}

func decodeRecord(b []byte, nfeat int, r *leadscore.Record) error {
	d := decoder{b: b}
	ns := int64(d.u64()) //nolint:gosec // bit pattern written from an int64
	r.RequestID = d.str()
	r.InferenceID = d.str()
	r.LeadID = d.str()
	r.Model = d.str()
	r.ModelVersion = d.str()
	n := d.uvarint()
	if d.err != nil {
		return fmt.Errorf("record: %w", d.err)
	}
	if n != uint64(nfeat) { //nolint:gosec // nfeat <= maxFeatures
		return fmt.Errorf("record has %d features, header %d", n, nfeat)
	}
	raw := d.fixed(4 * nfeat)
	r.Margin = math.Float64frombits(d.u64())
	r.Probability = math.Float64frombits(d.u64())
	tier := d.varint()
	r.LatencyMS = math.Float64frombits(d.u64())
	r.Variant, r.Shadow = "", false
	if len(d.b) > 0 { // segments written before variants end here
		r.Variant = d.str()
		flag := d.fixed(1)
		if d.err == nil && flag[0] > 1 {
			return fmt.Errorf("record: shadow flag %d", flag[0])
		}
		r.Shadow = d.err == nil && flag[0] == 1
	}
	if d.err != nil {
		return fmt.Errorf("record: %w", d.err)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("record: %d trailing bytes", len(d.b))
	}
	r.Tier = clampTier(tier)
	r.Time = time.Unix(0, ns).UTC()
	r.Features = make([]float32, nfeat)
	for i := range r.Features {
		r.Features[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return nil
}

// clampTier turns a decoded tier into an int. An intact frame (its
// checksum held) whose tier the lake's INT32 column cannot hold: the lake
// writes such a tier as 0, live and replayed alike. Refusing it here would
// end the segment's replay and lose every later record
// (TestLakeEdgesThroughWriter).
func clampTier(tier int64) int {
	if tier < math.MinInt32 || tier > math.MaxInt32 {
		return 0
	}
	return int(tier)
}

// littleEndian: the host stores a float32 as its little-endian bytes. A
// variable, so that tests can take the other path.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// putFloat32s writes vs into dst (4*len(vs) bytes) as little-endian
// float32s: one copy of their memory on a little-endian host.
func putFloat32s(dst []byte, vs []float32) {
	if littleEndian {
		if len(vs) > 0 {
			copy(dst, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vs))), 4*len(vs))) // #nosec G103 -- reads vs's own bytes
		}
		return
	}
	for i, v := range vs {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}
