package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeWriteTimeout backs SECURITY.md's promise that --write-timeout
// closes a connection whose answer takes longer: the time runs from the end
// of the request headers, so a request whose body arrives over 1.2 s gets
// no answer from a server started with --write-timeout 400ms, the
// connection is closed, and the very same request sent at once on another
// connection is answered 200 (so it is the timeout that cut it, not the
// request). With the default --write-timeout (30s) the slow request is
// answered.
func TestServeWriteTimeout(t *testing.T) {
	bin := testBinary(t)
	f := loadFixture(t)
	body := f.leadsJSON(true)
	head := "POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n"

	// request sends head and body on a new connection, waiting pause half
	// way through the body, and returns the response or the read error.
	request := func(t *testing.T, url string, pause time.Duration) (*http.Response, error) {
		t.Helper()
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
		half := len(body) / 2
		if _, err := conn.Write([]byte(head + body[:half])); err != nil {
			t.Fatal(err)
		}
		time.Sleep(pause)
		if _, err := conn.Write([]byte(body[half:])); err != nil {
			return nil, err // closed already: as cut as it gets
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp, nil
	}
	cut := func(err error) bool {
		return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
			errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	}

	t.Run("cut", func(t *testing.T) {
		s := startServer(t, bin, nil, "--write-timeout", "400ms")
		if resp, err := request(t, s.url, 0); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("the request sent at once: %v %v, want 200", resp, err)
		}
		start := time.Now()
		resp, err := request(t, s.url, 1200*time.Millisecond)
		if err == nil {
			t.Fatalf("a request answered %s after the write timeout passed, want the connection closed", resp.Status)
		}
		if !cut(err) {
			t.Fatalf("reading the answer: %v, want the connection closed (EOF or reset)", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("closed after %v, with --write-timeout 400ms", d)
		}
	})
	t.Run("default_answers", func(t *testing.T) {
		s := startServer(t, bin, nil)
		if resp, err := request(t, s.url, 1200*time.Millisecond); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("the slow request under the default --write-timeout: %v %v, want 200", resp, err)
		}
	})
}
