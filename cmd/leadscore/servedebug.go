package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startDebug serves Go's profiler (net/http/pprof) on its own listener,
// apart from the scoring port, so that operators can profile a live server
// (go tool pprof http://ADDR/debug/pprof/profile) without exposing it to
// clients. remote reports that a non-loopback addr was allowed
// (--debug-listen-remote); it is logged as a warning. /debug/pprof/cmdline
// shows the program's name only, never its flags, which may hold secrets
// (a webhook URL, keys). It returns a function that stops it.
func startDebug(addr string, remote bool, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", redactedCmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("debug listener stopped", "err", err)
		}
	}()
	if remote && !loopbackAddr(ln.Addr().String()) {
		log.Warn("profiler listening on a non-loopback address (--debug-listen-remote): anyone who reaches it can profile the server",
			"addr", ln.Addr().String())
	}
	log.Info("profiler listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, nil
}

// redactedCmdline answers /debug/pprof/cmdline with the program's name
// alone: pprof's own handler prints every argument, and flags such as
// --monitor-webhook-url or --api-keys carry secrets.
func redactedCmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "leadscore")
}

// loopbackAddr reports whether host:port names a loopback address
// (127.0.0.0/8, ::1 or localhost); an empty host (every interface) does
// not.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
