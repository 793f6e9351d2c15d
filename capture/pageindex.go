package capture

import (
	"encoding/binary"

	"github.com/parquet-go/parquet-go/format"
)

// The page indexes (a ColumnIndex and an OffsetIndex per column chunk,
// written before the footer) in thrift's compact protocol, the bytes
// parquet-go's thrift codec writes for them (TestPageIndexBytes), without
// its reflection: a file of 8,192-row row groups writes 114 of them per
// row group with 50 features, which cost parquet-go's codec some 2 µs a
// 100-lead request in leadscore serve.

// Compact protocol type codes.
const (
	tcBool   = 2 // a list's bool elements (FALSE's code)
	tcI32    = 5
	tcI64    = 6
	tcBinary = 8
	tcList   = 9
	tcStruct = 12
)

// appendListHeader appends a list header of n elements of type t.
func appendListHeader(b []byte, n int, t byte) []byte {
	if n <= 14 {
		return append(b, byte(n)<<4|t)
	}
	return binary.AppendUvarint(append(b, 0xf0|t), uint64(n)) //nolint:gosec // n >= 0
}

// appendZigzag appends v as a zigzag varint (thrift's i32 and i64).
func appendZigzag(b []byte, v int64) []byte {
	return binary.AppendVarint(b, v)
}

// appendColumnIndex appends ci. Its optional lists (null counts, level
// histograms) are written when not nil, as parquet-go writes them.
func appendColumnIndex(b []byte, ci *format.ColumnIndex) []byte {
	b = append(b, 1<<4|tcList)
	b = appendListHeader(b, len(ci.NullPages), tcBool)
	for _, p := range ci.NullPages {
		if p {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	for _, vals := range [2][][]byte{ci.MinValues, ci.MaxValues} {
		b = append(b, 1<<4|tcList)
		b = appendListHeader(b, len(vals), tcBinary)
		for _, v := range vals {
			b = append(binary.AppendUvarint(b, uint64(len(v))), v...)
		}
	}
	b = appendZigzag(append(b, 1<<4|tcI32), int64(ci.BoundaryOrder))
	delta := byte(1)
	if ci.NullCounts != nil {
		b = appendI64List(b, delta, ci.NullCounts)
	} else {
		delta++
	}
	for _, h := range [2][]int64{ci.RepetitionLevelHistogram, ci.DefinitionLevelHistogram} {
		if h == nil {
			delta++
			continue
		}
		b = appendI64List(b, delta, h)
		delta = 1
	}
	return append(b, 0)
}

// appendI64List appends a list<i64> field delta ids after the last one.
func appendI64List(b []byte, delta byte, vals []int64) []byte {
	b = append(b, delta<<4|tcList)
	b = appendListHeader(b, len(vals), tcI64)
	for _, v := range vals {
		b = appendZigzag(b, v)
	}
	return b
}

// appendOffsetIndex appends oi; its optional
// unencoded_byte_array_data_bytes when not nil.
func appendOffsetIndex(b []byte, oi *format.OffsetIndex) []byte {
	b = append(b, 1<<4|tcList)
	b = appendListHeader(b, len(oi.PageLocations), tcStruct)
	for i := range oi.PageLocations {
		l := &oi.PageLocations[i]
		b = appendZigzag(append(b, 1<<4|tcI64), l.Offset)
		b = appendZigzag(append(b, 1<<4|tcI32), int64(l.CompressedPageSize))
		b = appendZigzag(append(b, 1<<4|tcI64), l.FirstRowIndex)
		b = append(b, 0)
	}
	if oi.UnencodedByteArrayDataBytes != nil {
		b = appendI64List(b, 1, oi.UnencodedByteArrayDataBytes)
	}
	return append(b, 0)
}
