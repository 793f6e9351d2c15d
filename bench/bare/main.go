// Command bare is the floor bench/service_vs_peer.sh measures leadscore
// against: a bare net/http handler that reads a POST /score body, decodes
// it with encoding/json and answers a fixed small JSON document, without
// scoring, validation, metrics, logs or capture. Whatever latency or rate
// limit it shows on a machine comes from the machine, the kernel's loopback,
// net/http and the load generator, not from scoring.
//
//	go run ./bench/bare --listen 127.0.0.1:18070
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

const answer = `{"request_id":"bare","model":{"name":"bare","version":"0"},"results":[{"score":3,"probability":0.5}],"latency":{"total_ms":0,"model_ms":0}}` + "\n"

func main() {
	listen := flag.String("listen", "127.0.0.1:18070", "`address` to listen on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"status":"ready"}`)
	})
	mux.HandleFunc("POST /score", func(w http.ResponseWriter, r *http.Request) {
		var rows [][]*float64
		if err := json.NewDecoder(io.LimitReader(r.Body, 6<<20)).Decode(&rows); err != nil {
			http.Error(w, `{"error":{"code":"bad_json","message":"not a JSON array of rows"}}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}
