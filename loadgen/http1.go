package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The load generator shares the machine with the server it measures, so on
// a small machine every microsecond it spends per request is taken from the
// server. net/http's client costs tens of microseconds of CPU per request;
// for plain http:// targets Run therefore uses this minimal HTTP/1.1 client
// instead: whole requests are encoded once up front and written with one
// call, and responses are parsed only as far as framing needs (status,
// Content-Length, chunked encoding, Connection: close).

// encodeRequests returns one complete HTTP/1.1 POST request per body.
func encodeRequests(u *url.URL, header http.Header, bodies [][]byte) ([][]byte, error) {
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: leadscore-loadtest\r\n", u.RequestURI(), u.Host)
	for _, name := range slices.Sorted(maps.Keys(header)) {
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection", "User-Agent":
			return nil, fmt.Errorf("header %s is set by the load generator", name)
		}
		for _, v := range header[name] {
			if strings.ContainsAny(name+v, "\r\n") || !validHeaderName(name) {
				return nil, fmt.Errorf("invalid header %q", name)
			}
			fmt.Fprintf(&head, "%s: %s\r\n", name, v)
		}
	}
	reqs := make([][]byte, len(bodies))
	for i, body := range bodies {
		req := make([]byte, 0, head.Len()+len(body)+32)
		req = append(req, head.Bytes()...)
		req = append(req, "Content-Length: "...)
		req = strconv.AppendInt(req, int64(len(body)), 10)
		req = append(req, "\r\n\r\n"...)
		reqs[i] = append(req, body...)
	}
	return reqs, nil
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// dialAddr returns host:port for u, with the scheme's default port.
func dialAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// http1Conn is one worker's keep-alive connection. It is not safe for
// concurrent use.
type http1Conn struct {
	addr    string
	timeout time.Duration
	conn    net.Conn
	br      *bufio.Reader
	stop    func() bool // unregisters the context watcher of conn
}

// send writes req and reads the response, returning its status. A request
// that fails on a reused connection before any response byte arrives (the
// server closed it while idle) is retried once on a new connection.
func (h *http1Conn) send(ctx context.Context, req []byte) (int, error) {
	for attempt := 0; ; attempt++ {
		reused := h.conn != nil
		if !reused {
			if err := h.dial(ctx); err != nil {
				return 0, err
			}
		}
		status, started, err := h.roundTrip(req)
		if err == nil {
			return status, nil
		}
		h.close()
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		var ne net.Error
		if reused && !started && attempt == 0 && (!errors.As(err, &ne) || !ne.Timeout()) {
			continue
		}
		return status, err
	}
}

func (h *http1Conn) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: min(h.timeout, 5*time.Second), KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return err
	}
	h.conn = c
	if h.br == nil {
		h.br = bufio.NewReaderSize(c, 32<<10)
	} else {
		h.br.Reset(c)
	}
	// Ending the run unblocks a read in progress.
	h.stop = context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	return nil
}

// close closes the connection, if any.
func (h *http1Conn) close() {
	if h.conn == nil {
		return
	}
	h.stop()
	_ = h.conn.Close()
	h.conn = nil
}

// roundTrip sends one request on the open connection. started reports
// whether any of the response arrived.
func (h *http1Conn) roundTrip(req []byte) (status int, started bool, err error) {
	if err := h.conn.SetDeadline(time.Now().Add(h.timeout)); err != nil {
		return 0, false, err
	}
	if _, err := h.conn.Write(req); err != nil {
		return 0, false, err
	}
	status, keepAlive, started, err := readResponse(h.br)
	if err == nil && !keepAlive {
		h.close()
	}
	return status, started, err
}

// readResponse reads one response from br and discards its body. keepAlive
// reports whether the connection can carry another request.
func readResponse(br *bufio.Reader) (status int, keepAlive, started bool, err error) {
	for {
		line, err := br.ReadSlice('\n')
		started = started || len(line) > 0
		if err != nil {
			return 0, false, started, fmt.Errorf("read status line: %w", eofAsUnexpected(err, started))
		}
		// "HTTP/1.1 200 OK\r\n"
		if len(line) < 13 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[12] != ' ' && line[12] != '\r' {
			return 0, false, true, fmt.Errorf("malformed status line %q", bytes.TrimSpace(line))
		}
		status, err = strconv.Atoi(string(line[9:12]))
		if err != nil || status < 100 {
			return 0, false, true, fmt.Errorf("malformed status line %q", bytes.TrimSpace(line))
		}
		keepAlive = line[7] == '1' // HTTP/1.1 keeps the connection open unless told otherwise
		length, chunked := int64(-1), false
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return 0, false, true, fmt.Errorf("read headers: %w", eofAsUnexpected(err, true))
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				return 0, false, true, fmt.Errorf("malformed header line %q", bytes.TrimSpace(line))
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				length, err = strconv.ParseInt(string(value), 10, 64)
				if err != nil || length < 0 {
					return 0, false, true, fmt.Errorf("bad Content-Length %q", value)
				}
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
			case bytes.EqualFold(name, []byte("Connection")):
				v := bytes.ToLower(value)
				if bytes.Contains(v, []byte("close")) {
					keepAlive = false
				} else if bytes.Contains(v, []byte("keep-alive")) {
					keepAlive = true
				}
			}
		}
		switch {
		case status >= 100 && status < 200:
			continue // an interim response; the real one follows
		case status == http.StatusNoContent || status == http.StatusNotModified:
		case chunked:
			if _, err := io.Copy(io.Discard, httputil.NewChunkedReader(br)); err != nil {
				return 0, false, true, fmt.Errorf("read chunked body: %w", err)
			}
			for { // trailer, up to an empty line
				line, err := br.ReadSlice('\n')
				if err != nil {
					return 0, false, true, fmt.Errorf("read trailer: %w", eofAsUnexpected(err, true))
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					break
				}
			}
		case length >= 0:
			if _, err := br.Discard(int(length)); err != nil {
				return 0, false, true, fmt.Errorf("read body: %w", eofAsUnexpected(err, true))
			}
		default: // the body runs to the end of the connection
			if _, err := io.Copy(io.Discard, br); err != nil {
				return 0, false, true, fmt.Errorf("read body: %w", err)
			}
			keepAlive = false
		}
		return status, keepAlive, true, nil
	}
}

// eofAsUnexpected turns io.EOF into io.ErrUnexpectedEOF once a response has
// started: the server hung up in the middle of it.
func eofAsUnexpected(err error, started bool) error {
	if started && errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
