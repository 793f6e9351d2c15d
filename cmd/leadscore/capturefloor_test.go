package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unsafe"

	"github.com/leadscore/leadscore/internal/cputime"
)

// captureFloor is the least work capturing a request's leads can cost,
// whatever the design, for BenchmarkServeCost's floor mode: a lean server
// (--lake=false --monitor=false) that also does, on the request goroutine
// after each request, only what no capture can skip:
//
//   - durability: each record's bytes (its float32 features as they lie
//     in memory, plus 32 bytes for its id, time, score and tier) copied
//     into a buffer and written to a file 128 KiB at a time (while still
//     in the core's cache; the journal writes 1 MiB), a new file every
//     64 MiB and the one before it removed, as journal segments are;
//   - a columnar lake: each value stored once into its column of a row
//     group (the transpose every columnar file starts from);
//   - drift: each record's features copied into a ring of the window's
//     10,000 rows.
//
// It leaves out everything else a real capture does: handing records to
// other goroutines, ids and timestamps, fsync, encoding (dictionaries,
// levels, statistics, compression), writing the Parquet file, the drift
// statistics, the garbage collector's share. Its cost over lean is thus a
// lower bound on what capture and monitoring can cost on this machine;
// bench/RESULTS.md compares it with issue 13's 10%.
type captureFloor struct {
	b     *testing.B
	parts floorPart   // what request does: all by default
	rows  [][]float32 // the request's leads, parsed once
	meta  [32]byte
	dir   string
	f     *os.File
	seg   int
	fileN int
	buf   []byte    // the journal's pending bytes
	cols  []float32 // a row group, column by column
	n     int       // rows in the row group
	win   []float32 // the drift window's features
	at    int       // the window's next row
}

// floorPart is one of the floor's three parts.
type floorPart uint8

const (
	floorJournal floorPart = 1 << iota
	floorColumns
	floorWindow
	floorAll = floorJournal | floorColumns | floorWindow
)

const (
	floorWriteBytes = 128 << 10
	floorFileBytes  = 64 << 20
	floorGroupRows  = 8192
	// floorColStride is a column's length in the row group, padded by a
	// cache line: at 8,192 float32s apart every column's next value maps
	// to the same cache set, and the transpose would thrash the L1 cache
	// (measured: the floor then cost as much as the whole capture).
	floorColStride  = floorGroupRows + 16
	floorWindowRows = 10000
)

func newCaptureFloor(b *testing.B, leads int) *captureFloor {
	var raw [][]*float64
	if err := json.Unmarshal(serveCostBody(leads), &raw); err != nil {
		b.Fatal(err)
	}
	c := &captureFloor{b: b, parts: floorAll, dir: b.TempDir(), buf: make([]byte, 0, floorWriteBytes+64<<10)}
	for _, r := range raw {
		row := make([]float32, len(r))
		for j, v := range r {
			row[j] = float32(math.NaN())
			if v != nil {
				row[j] = float32(*v)
			}
		}
		c.rows = append(c.rows, row)
	}
	nf := len(c.rows[0])
	c.cols = make([]float32, nf*floorColStride)
	c.win = make([]float32, nf*floorWindowRows)
	c.rotate()
	b.Cleanup(func() { _ = c.f.Close() })
	return c
}

// request captures one request's leads.
func (c *captureFloor) request() {
	for _, row := range c.rows {
		nf := len(row)
		if c.parts&floorJournal != 0 {
			c.buf = append(c.buf, unsafe.Slice((*byte)(unsafe.Pointer(&row[0])), 4*nf)...) // #nosec G103 -- the floor copies the features' bytes as they are
			c.buf = append(c.buf, c.meta[:]...)
		}
		if c.parts&floorColumns != 0 {
			for j, v := range row {
				c.cols[j*floorColStride+c.n] = v
			}
			if c.n++; c.n == floorGroupRows {
				c.n = 0
			}
		}
		if c.parts&floorWindow != 0 {
			copy(c.win[c.at*nf:(c.at+1)*nf], row)
			if c.at++; c.at == floorWindowRows {
				c.at = 0
			}
		}
	}
	if len(c.buf) >= floorWriteBytes {
		if _, err := c.f.Write(c.buf); err != nil {
			c.b.Fatal(err)
		}
		c.fileN += len(c.buf)
		c.buf = c.buf[:0]
		if c.fileN >= floorFileBytes {
			c.rotate()
		}
	}
}

// BenchmarkCaptureFloor is each part of the capture floor alone, per
// request of 1 or 100 leads, with no server: what BenchmarkServeCost's
// floor mode adds to lean, split.
//
//	go test ./cmd/leadscore -run '^$' -bench CaptureFloor
func BenchmarkCaptureFloor(b *testing.B) {
	for _, leads := range []int{1, 100} {
		for _, p := range []struct {
			name string
			part floorPart
		}{{"journal", floorJournal}, {"columns", floorColumns}, {"window", floorWindow}, {"all", floorAll}} {
			b.Run(p.name+"/"+strconv.Itoa(leads), func(b *testing.B) {
				c := newCaptureFloor(b, leads)
				c.parts = p.part
				for range 1000 {
					c.request()
				}
				b.ResetTimer()
				cpu0 := cputime.Process()
				for range b.N {
					c.request()
				}
				cpu := cputime.Process() - cpu0
				b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(b.N), "cpu-us/op")
			})
		}
	}
}

// rotate starts a new file and removes the one before it.
func (c *captureFloor) rotate() {
	if c.f != nil {
		if err := c.f.Close(); err != nil {
			c.b.Fatal(err)
		}
		if err := os.Remove(c.f.Name()); err != nil {
			c.b.Fatal(err)
		}
	}
	c.seg++
	f, err := os.Create(filepath.Join(c.dir, "floor-"+strconv.Itoa(c.seg)))
	if err != nil {
		c.b.Fatal(err)
	}
	c.f, c.fileN = f, 0
}
