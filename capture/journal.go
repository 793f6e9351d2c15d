package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"
	"unsafe"

	"github.com/leadscore/leadscore"
)

// Journal segment format (little endian throughout):
//
//	segment := magic frame*
//	magic   := "LSCAPJ1\n"
//	frame   := length:uint32 crc:uint32 payload[length]
//
// crc is CRC-32C (Castagnoli) of payload. The first frame is the header,
// every later frame one record:
//
//	header  := 'H' uvarint(n) (uvarint(len) name){n}      feature names
//	record  := 'R' time:int64(unix ns) str{5} uvarint(n) float32{n}
//	           margin:float64 probability:float64 tier:varint latency:float64
//	str     := uvarint(len) bytes                          request id, inference
//	                                                       id, lead id, model,
//	                                                       model version
//
// A reader stops at the first frame that is short (torn by a crash) or fails
// its checksum; every frame before it is intact.

const (
	journalMagic = "LSCAPJ1\n"
	frameHeader  = 8 // length + crc
	// maxFrame bounds one frame so that a corrupt length cannot make the
	// reader allocate without limit.
	maxFrame = 4 << 20
	// maxFeatures bounds the feature count a header may declare.
	maxFeatures = 1 << 16

	kindHeader = 'H'
	kindRecord = 'R'
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

// frameEncoder builds frames into a reusable buffer.
type frameEncoder struct {
	buf []byte
}

// begin starts a frame: room for the frame header, then the kind byte.
func (e *frameEncoder) begin(kind byte) {
	e.buf = append(e.buf[:0], 0, 0, 0, 0, 0, 0, 0, 0, kind)
}

// finish fills in the frame header and returns the whole frame, or nil when
// the payload is larger than maxFrame (a reader would take it for
// corruption).
func (e *frameEncoder) finish() []byte {
	payload := e.buf[frameHeader:]
	if len(payload) > maxFrame {
		return nil
	}
	binary.LittleEndian.PutUint32(e.buf[0:4], uint32(len(payload))) //nolint:gosec // len <= maxFrame
	binary.LittleEndian.PutUint32(e.buf[4:8], crc32.Checksum(payload, crcTable))
	return e.buf
}

func (e *frameEncoder) str(s string) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *frameEncoder) f64(v float64) {
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(v))
}

// header encodes the header frame naming the features.
func (e *frameEncoder) header(features []string) []byte {
	e.begin(kindHeader)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(features)))
	for _, f := range features {
		e.str(f)
	}
	return e.finish()
}

// record encodes one record frame; nil when it would exceed maxFrame.
func (e *frameEncoder) record(r *leadscore.Record) []byte {
	e.begin(kindRecord)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(r.Time.UnixNano())) //nolint:gosec // bit pattern, decoded back as int64
	e.str(r.RequestID)
	e.str(r.InferenceID)
	e.str(r.LeadID)
	e.str(r.Model)
	e.str(r.ModelVersion)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(r.Features)))
	e.buf = appendFloat32s(e.buf, r.Features)
	e.f64(r.Margin)
	e.f64(r.Probability)
	e.buf = binary.AppendVarint(e.buf, int64(r.Tier))
	e.f64(r.LatencyMS)
	e.str(r.Variant)
	shadow := byte(0)
	if r.Shadow {
		shadow = 1
	}
	e.buf = append(e.buf, shadow)
	return e.finish()
}

// frameReader reads the frames of one segment.
type frameReader struct {
	r        *bufio.Reader
	size     int64 // of the segment
	off      int64 // bytes consumed so far
	buf      []byte
	features []string
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
	if string(magic) != journalMagic {
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
	start := fr.off
	payload, err := fr.frame()
	if err != nil {
		return err
	}
	if payload[0] != kindRecord {
		return &tornError{Offset: start, Reason: fmt.Sprintf("unexpected frame kind %q", payload[0])}
	}
	if err := decodeRecord(payload[1:], len(fr.features), r); err != nil {
		return &tornError{Offset: start, Reason: err.Error()}
	}
	return nil
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
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShort
	}
	return string(d.fixed(int(n))) //nolint:gosec // n <= len(d.b), checked above
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
	if tier < math.MinInt32 || tier > math.MaxInt32 {
		// An intact frame (its checksum held) whose tier the lake's INT32
		// column cannot hold: the lake writes such a tier as 0, live and
		// replayed alike. Refusing it here would end the segment's replay
		// and lose every later record (TestLakeEdgesThroughWriter).
		tier = 0
	}
	r.Tier = int(tier)
	r.Time = time.Unix(0, ns).UTC()
	r.Features = make([]float32, nfeat)
	for i := range r.Features {
		r.Features[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return nil
}

// littleEndian: the host stores a float32 as its little-endian bytes.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// appendFloat32s appends vs as little-endian float32s: one copy of their
// memory on a little-endian host (a record's 50 features in one memmove
// instead of 50 appends), value by value elsewhere.
func appendFloat32s(buf []byte, vs []float32) []byte {
	if littleEndian && len(vs) > 0 {
		return append(buf, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vs))), 4*len(vs))...) // #nosec G103 -- reads vs's own bytes
	}
	for _, v := range vs {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	return buf
}
