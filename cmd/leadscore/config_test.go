package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadscore/leadscore/httpapi"
	"github.com/leadscore/leadscore/internal/testutil"
)

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestServeConfigDefaults(t *testing.T) {
	c, err := parseServeConfig(nil, mapEnv(map[string]string{"SM_MODEL_DIR": filepath.Join(t.TempDir(), "none")}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != ":8080" || c.model != "" || c.maxBatch != 1000 || c.maxExplainRows != 100 || c.maxBody != 6<<20 || c.maxInFlight != 1024 ||
		c.requireAPIKey || c.rateLimit != 0 || c.shutdownTimeout != 25*time.Second || c.watchInterval != 2*time.Second ||
		!c.accessLog || c.sagemaker || c.readTimeout != 10*time.Second || c.writeTimeout != 30*time.Second {
		t.Errorf("defaults: %+v", c)
	}
}

func TestServeConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "serve.json")
	hash := httpapi.HashKey("k1")
	file := `{"listen": "127.0.0.1:9001", "max_batch": 7, "max-body": "2MiB", "rate_limit": 2.5, "read_timeout": 3,
		"write_timeout": "4s", "access_log": false, "model": null,
		"api_keys": [{"name": "crm", "sha256": "` + hash + `"}, {"name": "ops", "sha256": "` + hash + `", "admin": true}, "etl:` + hash + `"]}`
	if err := os.WriteFile(cfgPath, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"LEADSCORE_CONFIG":    cfgPath,
		"LEADSCORE_MAX_BATCH": "8",
		"LEADSCORE_LOG_LEVEL": "debug",
		"SM_MODEL_DIR":        filepath.Join(dir, "none"),
	}
	c, err := parseServeConfig([]string{"--listen", "127.0.0.1:9002"}, mapEnv(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:9002" {
		t.Errorf("flag should beat file: listen %q", c.listen)
	}
	if c.maxBatch != 8 {
		t.Errorf("env should beat file: max batch %d", c.maxBatch)
	}
	if c.maxBody != 2<<20 || c.rateLimit != 2.5 || c.readTimeout != 3*time.Second || c.writeTimeout != 4*time.Second || c.accessLog {
		t.Errorf("file values: %+v", c)
	}
	if len(c.apiKeys) != 3 || c.apiKeys[0].Name != "crm" || c.apiKeys[0].Admin || !c.apiKeys[1].Admin || c.apiKeys[2].Name != "etl" {
		t.Errorf("api keys %+v", c.apiKeys)
	}
	if c.logLevel.String() != "DEBUG" {
		t.Errorf("log level %v", c.logLevel)
	}
	// --config on the command line beats LEADSCORE_CONFIG.
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(other, []byte(`{"max_in_flight": 3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = parseServeConfig([]string{"--config", other}, mapEnv(env), io.Discard)
	if err != nil || c.maxInFlight != 3 || c.listen != ":8080" {
		t.Errorf("--config: %+v %v", c, err)
	}
}

func TestServeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	none := filepath.Join(dir, "none")
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"unknown flag", []string{"--nope"}, nil},
		{"argument", []string{"extra"}, nil},
		{"bad int env", nil, map[string]string{"LEADSCORE_MAX_BATCH": "many"}},
		{"bad bool env", nil, map[string]string{"LEADSCORE_ACCESS_LOG": "maybe"}},
		{"zero batch", []string{"--max-batch", "0"}, nil},
		{"zero explain rows", []string{"--max-explain-rows", "0"}, nil},
		{"zero body", []string{"--max-body", "0"}, nil},
		{"bad size unit", []string{"--max-body", "6XB"}, nil},
		{"bad size", []string{"--max-body", "lots"}, nil},
		{"negative in-flight", []string{"--max-in-flight", "-1"}, nil},
		{"negative rate", []string{"--rate-limit", "-1"}, nil},
		{"negative duration", []string{"--read-timeout", "-1s"}, nil},
		{"bad level", []string{"--log-level", "loud"}, nil},
		{"bad key", []string{"--api-keys", "crm:nothex"}, nil},
		{"required without keys", []string{"--require-api-key"}, nil},
		{"cert without key", []string{"--tls-cert", "c.pem"}, nil},
		{"missing config", []string{"--config", filepath.Join(dir, "missing.json")}, nil},
		{"config not json", []string{"--config", write("bad.json", "{")}, nil},
		{"config unknown key", []string{"--config", write("unknown.json", `{"colour": "red"}`)}, nil},
		{"config nested config", []string{"--config", write("nested.json", `{"config": "x"}`)}, nil},
		{"config object value", []string{"--config", write("obj.json", `{"listen": {}}`)}, nil},
		{"config bad key object", []string{"--config", write("keyobj.json", `{"api_keys": [{"name": "a", "hash": "b"}]}`)}, nil},
		{"config bad value", []string{"--config", write("badval.json", `{"max_batch": "x"}`)}, nil},
		{"queue smaller than a batch", []string{"--lake-queue-depth", "100", "--max-batch", "1000"}, nil},
		{"negative queue wait", []string{"--lake-queue-wait", "-1s"}, nil},
		{"bad memory limit", []string{"--memory-limit", "lots"}, nil},
		{"tiny memory limit", []string{"--memory-limit", "1MiB"}, nil},
		{"config bad keys array", []string{"--config", write("badarr.json", `{"api_keys": [1`)}, nil},
		{"zero outcome age", []string{"--max-outcome-age", "0"}, nil},
		{"negative outcome skew env", nil, map[string]string{"LEADSCORE_MAX_OUTCOME_SKEW": "-1h"}},
	}
	for _, tt := range tests {
		env := map[string]string{"SM_MODEL_DIR": none}
		for k, v := range tt.env {
			env[k] = v
		}
		_, err := parseServeConfig(tt.args, mapEnv(env), io.Discard)
		if !errors.Is(err, errUsage) {
			t.Errorf("%s: err %v, want a usage error", tt.name, err)
		}
	}
	var help bytes.Buffer
	if _, err := parseServeConfig([]string{"--help"}, mapEnv(nil), &help); !errors.Is(err, errHelp) {
		t.Errorf("--help: %v", err)
	}
}

// TestServeHelp checks that --help documents every setting with its
// environment variable, against a golden file (go test -run ServeHelp
// -update-serve-help rewrites it).
func TestServeHelp(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"serve", "--help"}, strings.NewReader(""), &out, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	golden := filepath.Join("testdata", "serve", "help.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("--help differs from %s (UPDATE_GOLDEN=1 rewrites it):\n%s", golden, out.String())
	}
	for _, name := range []string{"config", "listen", "model", "max-batch", "max-explain-rows", "max-body", "max-in-flight", "require-api-key",
		"api-keys", "rate-limit", "rate-burst", "tls-cert", "tls-key", "read-timeout", "read-header-timeout",
		"write-timeout", "idle-timeout", "shutdown-timeout", "watch-interval", "log-level", "access-log", "log-lead-ids"} {
		if !strings.Contains(out.String(), "--"+name) || !strings.Contains(out.String(), envName(name)) {
			t.Errorf("--help lacks --%s or %s", name, envName(name))
		}
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		str  string
	}{
		{"6MiB", 6 << 20, "6MiB"}, {"6MB", 6 << 20, "6MiB"}, {"512 KiB", 512 << 10, "512KiB"}, {"1g", 1 << 30, "1GiB"},
		{"100", 100, "100"}, {"100b", 100, "100"}, {"1536", 1536, "1536"}, {"3072", 3072, "3KiB"},
	}
	for _, tt := range tests {
		var b byteSize
		if err := b.Set(tt.in); err != nil || int64(b) != tt.want || b.String() != tt.str {
			t.Errorf("Set(%q) = %d %q %v", tt.in, int64(b), b.String(), err)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "1.5MiB", "1TiB", "99999999999GiB"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) succeeded", bad)
		}
	}
}

func TestSageMakerDetection(t *testing.T) {
	dir := t.TempDir()
	bundleDir := filepath.Join(dir, "bundle")
	fileDir := filepath.Join(dir, "file")
	oneFile := filepath.Join(dir, "onefile")
	emptyDir := filepath.Join(dir, "empty")
	for _, d := range []string{bundleDir, fileDir, oneFile, emptyDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	touch := func(p string) {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	touch(filepath.Join(bundleDir, "manifest.json"))
	touch(filepath.Join(fileDir, "xgboost-model"))
	touch(filepath.Join(fileDir, "notes.txt"))
	touch(filepath.Join(oneFile, "model.ubj"))
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		sagemaker bool
		listen    string
		model     string
	}{
		{"not sagemaker", map[string]string{"SM_MODEL_DIR": filepath.Join(dir, "none")}, nil, false, ":8080", ""},
		{"port only", map[string]string{"SM_MODEL_DIR": filepath.Join(dir, "none"), "SAGEMAKER_BIND_TO_PORT": "9090"}, nil, true, "0.0.0.0:9090", ""},
		{"bundle dir", map[string]string{"SM_MODEL_DIR": bundleDir}, nil, true, "0.0.0.0:8080", bundleDir},
		{"built-in artifact", map[string]string{"SM_MODEL_DIR": fileDir, "SAGEMAKER_BIND_TO_PORT": "7000"}, nil, true, "0.0.0.0:7000", filepath.Join(fileDir, "xgboost-model")},
		{"one model file", map[string]string{"SM_MODEL_DIR": oneFile}, nil, true, "0.0.0.0:8080", filepath.Join(oneFile, "model.ubj")},
		{"empty dir", map[string]string{"SM_MODEL_DIR": emptyDir}, nil, true, "0.0.0.0:8080", emptyDir},
		{"flags win", map[string]string{"SM_MODEL_DIR": bundleDir, "SAGEMAKER_BIND_TO_PORT": "7000"}, []string{"--listen", ":1", "--model", "m"}, true, ":1", "m"},
		{"env wins", map[string]string{"SM_MODEL_DIR": bundleDir, "LEADSCORE_LISTEN": ":2"}, nil, true, ":2", bundleDir},
	}
	for _, tt := range tests {
		c, err := parseServeConfig(tt.args, mapEnv(tt.env), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if c.sagemaker != tt.sagemaker || c.listen != tt.listen || c.model != tt.model {
			t.Errorf("%s: sagemaker %v listen %q model %q", tt.name, c.sagemaker, c.listen, c.model)
		}
	}
}

func TestLogSink(t *testing.T) {
	var out testutil.Buffer
	l := newLogSink(&out)
	_, _ = l.Write([]byte("a\n"))
	if out.String() != "" {
		t.Error("written before a flush")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.FlushEvery(ctx, time.Millisecond); close(done) }()
	testutil.Eventually(t, 2*time.Second, "FlushEvery to flush", func() bool { return len(out.String()) == 2 })
	cancel()
	<-done
	big := bytes.Repeat([]byte("x"), logSinkSize+1)
	_, _ = l.Write(big)
	_, _ = l.Write(bytes.Repeat([]byte("y"), logSinkSize-10))
	_, _ = l.Write([]byte("0123456789abc")) // does not fit: flushes first
	l.Close()
	want := "a\n" + string(big) + strings.Repeat("y", logSinkSize-10) + "0123456789abc"
	if out.String() != want {
		t.Errorf("sink wrote %d bytes, want %d", len(out.String()), len(want))
	}
}

// gatedWriter blocks each Write until gate yields, after saying so on
// entered.
type gatedWriter struct {
	entered chan struct{}
	gate    chan struct{}
	out     testutil.Buffer
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.gate
	return g.out.Write(p)
}

// TestLogSinkWriteNeverWaitsForOutput: while a flush is stuck in the
// output (a full pipe, a slow disk), Write still returns at once, lines
// keep their order, and a buffer past logSinkKick wakes FlushEvery before
// its tick.
func TestLogSinkWriteNeverWaitsForOutput(t *testing.T) {
	g := &gatedWriter{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	l := newLogSink(g)
	_, _ = l.Write([]byte("1\n"))
	flushed := make(chan struct{})
	go func() { l.Flush(); close(flushed) }()
	<-g.entered // the flush is in the output now
	wrote := make(chan struct{})
	go func() {
		_, _ = l.Write([]byte("2\n"))
		close(wrote)
	}()
	select {
	case <-wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("Write waited for the output")
	}
	g.gate <- struct{}{}
	<-flushed

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.FlushEvery(ctx, time.Hour); close(done) }()
	line := append(bytes.Repeat([]byte("z"), 1023), '\n')
	for range logSinkKick / len(line) {
		_, _ = l.Write(line)
	}
	<-g.entered // woken by the kick, not the hour's tick
	g.gate <- struct{}{}
	cancel()
	<-done
	want := "1\n2\n" + strings.Repeat(string(line), logSinkKick/len(line))
	if got := g.out.String(); got != want {
		t.Errorf("sink wrote %d bytes, want %d in order", len(got), len(want))
	}
}
