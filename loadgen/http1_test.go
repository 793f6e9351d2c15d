package loadgen

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestEncodeRequests(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:8080/score?explain=2")
	h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer k1"}}
	reqs, err := encodeRequests(u, h, [][]byte{[]byte("[[1]]"), []byte("[[1,null]]")})
	if err != nil {
		t.Fatal(err)
	}
	want := "POST /score?explain=2 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: leadscore-loadtest\r\n" +
		"Authorization: Bearer k1\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n[[1,null]]"
	if string(reqs[1]) != want {
		t.Errorf("request:\n%q\nwant\n%q", reqs[1], want)
	}
	// What net/http's server reads back is the request we meant.
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(reqs[0]))))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	if req.Method != "POST" || req.URL.Path != "/score" || req.Header.Get("Authorization") != "Bearer k1" || string(body) != "[[1]]" {
		t.Errorf("server read %s %s %v %q", req.Method, req.URL, req.Header, body)
	}

	for _, bad := range []http.Header{
		{"X-Key": {"a\r\nX-Evil: 1"}},
		{"Bad Name": {"x"}},
		{"Content-Length": {"3"}},
		{"Host": {"example.com"}},
	} {
		if _, err := encodeRequests(u, bad, [][]byte{nil}); err == nil {
			t.Errorf("encodeRequests accepted header %v", bad)
		}
	}
	if got := dialAddr(&url.URL{Scheme: "http", Host: "127.0.0.1"}); got != "127.0.0.1:80" {
		t.Errorf("dialAddr without a port = %q, want 127.0.0.1:80", got)
	}
}

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		status    int
		keepAlive bool
		rest      string // what must be left unread
		err       string
	}{
		{name: "length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT", status: 200, keepAlive: true, rest: "NEXT"},
		{name: "chunked", in: "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\nNEXT", status: 503, keepAlive: true, rest: "NEXT"},
		{name: "chunked trailer", in: "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\nNEXT", status: 200, keepAlive: true, rest: "NEXT"},
		{name: "close", in: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", status: 200},
		{name: "interim", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}", status: 201, keepAlive: true},
		{name: "no content", in: "HTTP/1.1 204 No Content\r\n\r\nNEXT", status: 204, keepAlive: true, rest: "NEXT"},
		{name: "http/1.0", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", status: 200},
		{name: "http/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n{}", status: 200, keepAlive: true},
		{name: "to the end", in: "HTTP/1.1 200 OK\r\n\r\nall of it", status: 200},
		{name: "bare status", in: "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", status: 404, keepAlive: true},
		{name: "empty", in: "", err: "EOF"},
		{name: "cut in body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", err: "unexpected EOF"},
		{name: "cut in headers", in: "HTTP/1.1 200 OK\r\nContent-Len", err: "unexpected EOF"},
		{name: "not http", in: "SSH-2.0-OpenSSH\r\n", err: "malformed status line"},
		{name: "bad code", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: "malformed status line"},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: "bad Content-Length"},
		{name: "bad header", in: "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", err: "malformed header"},
		{name: "bad chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: "chunked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in))
			status, keepAlive, _, err := readResponse(br)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(br)
			if status != tt.status || keepAlive != tt.keepAlive || string(rest) != tt.rest {
				t.Errorf("status %d, keep-alive %v, rest %q; want %d, %v, %q", status, keepAlive, rest, tt.status, tt.keepAlive, tt.rest)
			}
		})
	}
}

// FuzzReadResponse checks that no server reply makes the client panic or
// read past the input.
func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	f.Add("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 204 No\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		status, _, _, err := readResponse(bufio.NewReader(strings.NewReader(in)))
		if err == nil && (status < 200 || status > 999) {
			t.Fatalf("status %d accepted", status)
		}
	})
}

// TestRunBothClients runs the same load through the built-in client and
// through net/http, and checks the server saw the same requests.
func TestRunBothClients(t *testing.T) {
	var requests, closes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.RequestURI() != "/score?explain=1" || string(body) != "[[1,2]]" ||
			r.Header.Get("X-Api-Key") != "k" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		switch n % 4 {
		case 1: // a large, chunked response
			_, _ = w.Write([]byte(strings.Repeat(`{"score":3},`, 2000)))
		case 2: // the server ends the connection after this response
			closes.Add(1)
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("{}"))
		case 3:
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			_, _ = w.Write([]byte("{}"))
		}
	}))
	defer srv.Close()
	for _, client := range []*http.Client{nil, NewClient(2, time.Second)} {
		requests.Store(0)
		rep, err := Run(context.Background(), Config{
			URL: srv.URL + "/score?explain=1", Rate: 1000, MaxRequests: 40, Connections: 2,
			Bodies: [][]byte{[]byte("[[1,2]]")}, Header: http.Header{"X-Api-Key": {"k"}}, Client: client,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Sent != 40 || rep.OK != 30 || rep.Errors["HTTP 429"] != 10 || len(rep.Errors) != 1 || requests.Load() != 40 {
			t.Errorf("net/http %v: sent %d, ok %d, errors %v, server saw %d; want 40, 30, HTTP 429: 10, 40",
				client != nil, rep.Sent, rep.OK, rep.Errors, requests.Load())
		}
	}
}

// TestHTTP1RetriesStaleConnection checks that a keep-alive connection the
// server closed while idle costs a reconnect, not an error.
func TestHTTP1RetriesStaleConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				// Answer one request, then hang up without saying so.
				defer func() { _ = c.Close() }()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
				}
				time.Sleep(20 * time.Millisecond)
			}()
		}
	}()
	u, _ := url.Parse("http://" + ln.Addr().String() + "/score")
	reqs, err := encodeRequests(u, http.Header{}, [][]byte{[]byte("[]")})
	if err != nil {
		t.Fatal(err)
	}
	h := &http1Conn{addr: dialAddr(u), timeout: time.Second}
	defer h.close()
	for i := range 3 {
		status, err := h.send(context.Background(), reqs[0])
		if err != nil || status != 200 {
			t.Fatalf("request %d: status %d, err %v", i, status, err)
		}
		time.Sleep(50 * time.Millisecond) // the server hangs up meanwhile
	}
	if accepted.Load() != 3 {
		t.Errorf("%d connections, want 3: one per request", accepted.Load())
	}
}
