package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestBodyGrowth(t *testing.T) {
	const limit = 6 << 20
	for _, c := range []struct {
		c               int
		declared, limit int64
		want            int
	}{
		{0, -1, limit, initialBodyBuffer},    // chunked: start small
		{0, 100, limit, 100},                 // a small declared body: its size
		{0, 0, limit, initialBodyBuffer},     // nothing declared to cap by
		{0, 60000, limit, initialBodyBuffer}, // grows as bytes arrive
		{4096, 60000, limit, 8192},           // doubles
		{32768, 60000, limit, 60000},         // up to the declared length
		{8192, limit, limit, 16384},          // a large announcement: still doubles
		{4 << 20, -1, limit, limit + 1},      // chunked: one byte past the limit
		{4096, -1, 5000, 5001},               // a small limit
		{4096, 3000, limit, 8192},            // declared below what it sent: net/http stops it
	} {
		if got := bodyGrowth(c.c, c.declared, c.limit); got != c.want {
			t.Errorf("bodyGrowth(%d, %d, %d) = %d, want %d", c.c, c.declared, c.limit, got, c.want)
		}
	}
}

// sizeClass bounds the allocation the runtime makes for n bytes (its
// size classes are at most 1/8 apart above 1 KB).
func sizeClass(n int) int { return n + n/8 }

// countingReader counts Read calls and gives at most max bytes a call.
type countingReader struct {
	r     io.Reader
	max   int
	calls int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.calls++
	if len(p) > c.max {
		p = p[:c.max]
	}
	return c.r.Read(p)
}

// TestReadBodyBuffer checks the body buffer's growth: a 60 KB batch is
// read in a few large reads into a buffer of its size, a body that stops
// short of its announced length holds at most twice what it sent, and the
// limits stay (413 over --max-body, declared or chunked).
func TestReadBodyBuffer(t *testing.T) {
	s := &Server{maxBody: 1 << 20}
	body := benchRows(100)
	for _, c := range []struct {
		name     string
		declared int64
		send     []byte
		chunk    int // bytes a read gives at most
		status   int // 0: read
		maxCap   int
		maxReads int
	}{
		{"100 leads declared", int64(len(body)), body, 1 << 20, 0, sizeClass(len(body)), 6},
		{"100 leads chunked", -1, body, 1 << 20, 0, 2 * len(body), 7},
		{"100 leads, 1 KB segments", int64(len(body)), body, 1 << 10, 0, sizeClass(len(body)), len(body)/1024 + 6},
		{"announces 1 MB, sends 10 bytes", 1 << 20, []byte("[[1,2,3]]\n"), 1 << 20, 0, initialBodyBuffer, 3},
		{"declared over the limit", 1<<20 + 1, body, 1 << 20, http.StatusRequestEntityTooLarge, 0, 0},
		{"chunked over the limit", -1, bytes.Repeat([]byte(" "), 1<<20+10), 1 << 20, http.StatusRequestEntityTooLarge, 2 << 20, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			rd := &countingReader{r: bytes.NewReader(c.send), max: c.chunk}
			r := httptest.NewRequest(http.MethodPost, "/score", nil)
			r.Body = io.NopCloser(rd)
			r.ContentLength = c.declared
			ex := &exchange{}
			got, aerr := s.readBody(ex, r)
			if c.status != 0 {
				if aerr == nil || aerr.Status != c.status {
					t.Fatalf("%v, want status %d", aerr, c.status)
				}
				if c.maxCap > 0 && cap(ex.body) > c.maxCap {
					t.Errorf("buffer %d bytes, want at most %d", cap(ex.body), c.maxCap)
				}
				return
			}
			if aerr != nil {
				t.Fatal(aerr)
			}
			if !bytes.Equal(got, c.send) {
				t.Fatalf("read %d bytes, sent %d", len(got), len(c.send))
			}
			if cap(ex.body) > c.maxCap {
				t.Errorf("buffer %d bytes, want at most %d", cap(ex.body), c.maxCap)
			}
			if rd.calls > c.maxReads {
				t.Errorf("%d reads, want at most %d", rd.calls, c.maxReads)
			}
			// The buffer is reused: a second body of the same size needs
			// no growth and, declared, one read.
			rd = &countingReader{r: bytes.NewReader(c.send), max: c.chunk}
			r.Body = io.NopCloser(rd)
			before := cap(ex.body)
			if _, aerr := s.readBody(ex, r); aerr != nil || cap(ex.body) != before {
				t.Errorf("second read: %v, buffer %d -> %d bytes", aerr, before, cap(ex.body))
			}
		})
	}
}
