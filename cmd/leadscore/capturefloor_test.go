package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unsafe"
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

const (
	floorWriteBytes = 128 << 10
	floorFileBytes  = 64 << 20
	floorGroupRows  = 8192
	floorWindowRows = 10000
)

func newCaptureFloor(b *testing.B, leads int) *captureFloor {
	var raw [][]*float64
	if err := json.Unmarshal(serveCostBody(leads), &raw); err != nil {
		b.Fatal(err)
	}
	c := &captureFloor{b: b, dir: b.TempDir(), buf: make([]byte, 0, floorWriteBytes+64<<10)}
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
	c.cols = make([]float32, nf*floorGroupRows)
	c.win = make([]float32, nf*floorWindowRows)
	c.rotate()
	b.Cleanup(func() { _ = c.f.Close() })
	return c
}

// request captures one request's leads.
func (c *captureFloor) request() {
	for _, row := range c.rows {
		nf := len(row)
		c.buf = append(c.buf, unsafe.Slice((*byte)(unsafe.Pointer(&row[0])), 4*nf)...) // #nosec G103 -- the floor copies the features' bytes as they are
		c.buf = append(c.buf, c.meta[:]...)
		for j, v := range row {
			c.cols[j*floorGroupRows+c.n] = v
		}
		if c.n++; c.n == floorGroupRows {
			c.n = 0
		}
		copy(c.win[c.at*nf:(c.at+1)*nf], row)
		if c.at++; c.at == floorWindowRows {
			c.at = 0
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
