// The shared harness of the binary-level tests: the leadscore binary, built
// once per package run (testBinary; TestMain removes it), a running
// `leadscore serve` (start, read its logs, wait for a line, signal, wait
// for the exit), sending requests, and the fixtures they use. The
// configuration tests are in config_test.go, the contract tests of serve in
// contract_test.go.

package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadscore/leadscore/internal/testutil"
)

// leadscoreBinary is the binary testBinary builds once per package run;
// TestMain removes its folder (and the Lambda bootstrap's) when the run
// ends.
var leadscoreBinary struct {
	once sync.Once
	dir  string
	path string
	out  []byte
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{leadscoreBinary.dir, bootstrapDir} { // bootstrapDir: lambda_test.go
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// testBinary returns the leadscore binary, building it on first use (a
// run that needs no binary builds none). It skips in -short mode.
func testBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	b := &leadscoreBinary
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "leadscore-test-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "leadscore")
		b.out, b.err = exec.Command("go", "build", "-o", b.path, ".").CombinedOutput() //nolint:gosec // G204: the test's own temp path
	})
	if b.err != nil {
		t.Fatalf("go build: %v\n%s", b.err, b.out)
	}
	return b.path
}

// syncBuffer is the shared goroutine-safe test buffer.
type syncBuffer = testutil.Buffer

// server is a running `leadscore serve`.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs testutil.Buffer // stdout and stderr
	done chan struct{}
	err  error
}

// startServer runs the binary bin with args and env and waits for its
// "listening" log line. It listens on 127.0.0.1:0 unless args or env say
// otherwise.
func startServer(t *testing.T, bin string, env []string, args ...string) *server {
	t.Helper()
	full := append([]string{"serve"}, args...)
	hasListen := false
	for _, a := range args {
		hasListen = hasListen || a == "--listen"
	}
	for _, e := range env {
		hasListen = hasListen || strings.HasPrefix(e, "LEADSCORE_LISTEN=") || strings.HasPrefix(e, "SAGEMAKER_BIND_TO_PORT=")
	}
	if !hasListen {
		full = append(full, "--listen", "127.0.0.1:0")
	}
	cmd := exec.Command(bin, full...) //nolint:gosec // G702: the binary this test built, with the test's own arguments
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "SM_MODEL_DIR=" + filepath.Join(t.TempDir(), "none"),
		"LEADSCORE_LAKE_DIR=" + filepath.Join(t.TempDir(), "lake")}, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = s.logs.Write([]byte(line + "\n"))
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
				TLS  bool   `json:"tls"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				scheme := "http://"
				if rec.TLS {
					scheme = "https://"
				}
				host := strings.Replace(rec.Addr, "0.0.0.0", "127.0.0.1", 1)
				host = strings.Replace(host, "[::]", "127.0.0.1", 1)
				addr <- scheme + host
			}
		}
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("server output:\n%s", s.output())
		}
	})
	select {
	case s.url = <-addr:
	case <-s.done:
		t.Fatalf("server exited before listening: %v\n%s", s.err, s.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start:\n%s", s.output())
	}
	return s
}

func (s *server) output() string {
	return s.logs.String()
}

// logAddr returns the "addr" of the last JSON log line in out whose msg
// is msg, or "" when there is none.
func logAddr(out, msg string) string {
	var addr string
	for _, line := range strings.Split(out, "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == msg {
			addr = rec.Addr
		}
	}
	return addr
}

// waitLog waits until the output contains want.
func (s *server) waitLog(want string) {
	s.t.Helper()
	testutil.Eventually(s.t, 20*time.Second, fmt.Sprintf("%q in the server's output", want),
		func() bool { return strings.Contains(s.output(), want) })
}

// stop sends sig and returns the exit code.
func (s *server) stop(sig os.Signal) int {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
	return s.wait()
}

// wait waits for the process to exit and returns its exit code.
func (s *server) wait() int {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(40 * time.Second):
		s.t.Fatal("server did not exit")
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode()
	}
	if s.err != nil {
		s.t.Fatal(s.err)
	}
	return 0
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("status %d body %q: %v", r.status, r.body, err)
	}
}

func send(t *testing.T, client *http.Client, method, url, contentType, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body)) //nolint:gosec // G704: tests call the server they started on 127.0.0.1
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req) //nolint:gosec // G704: as above
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// fixture is testdata/serve/scoring.json: demo rows and XGBoost's own
// predictions for them (see make_fixture.py).
type fixture struct {
	Names      []string     `json:"feature_names"`
	Rows       [][]*float64 `json:"rows"`
	Prediction []float64    `json:"prediction"`
}

func loadFixture(t *testing.T) fixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "serve", "scoring.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) rowsJSON(rows [][]*float64) string {
	b, _ := json.Marshal(rows)
	return string(b)
}

func (f fixture) leadsJSON(ids bool) string {
	type lead struct {
		ID       string              `json:"id,omitempty"`
		Features map[string]*float64 `json:"features"`
	}
	var leads []lead
	for i, r := range f.Rows {
		l := lead{Features: map[string]*float64{}}
		if ids {
			l.ID = "lead-" + strconv.Itoa(i)
		}
		for j, v := range r {
			if v != nil { // absent means missing
				l.Features[f.Names[j]] = v
			}
		}
		leads = append(leads, l)
	}
	b, _ := json.Marshal(map[string]any{"leads": leads})
	return string(b)
}

func (f fixture) csv() string {
	var sb strings.Builder
	for _, r := range f.Rows {
		for j, v := range r {
			if j > 0 {
				sb.WriteByte(',')
			}
			if v != nil {
				sb.WriteString(strconv.FormatFloat(*v, 'g', -1, 64))
			}
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

type scoreResponse struct {
	RequestID string `json:"request_id"`
	Model     struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"model"`
	Results []struct {
		Score       int     `json:"score"`
		Probability float64 `json:"probability"`
		ID          string  `json:"id"`
		Reasons     []struct {
			Feature      string   `json:"feature"`
			Value        *float64 `json:"value"`
			Contribution float64  `json:"contribution"`
			Direction    string   `json:"direction"`
		} `json:"reasons"`
	} `json:"results"`
	Latency map[string]float64 `json:"latency"`
}

type errorResponse struct {
	Error struct {
		Code    string  `json:"code"`
		Message string  `json:"message"`
		Row     *int    `json:"row"`
		Feature *string `json:"feature"`
	} `json:"error"`
}

// closeTo compares a served probability with XGBoost's (float32 math).
func closeTo(got, want float64) bool { return math.Abs(got-want) <= 1e-6 }

// demoBundleCopy copies the demo bundle (with its baseline, if asked) to a
// new folder and returns it with a function that rewrites its manifest
// with another version, which a watching server reloads.
func demoBundleCopy(t *testing.T, baseline bool) (string, func(version string)) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	demo := filepath.Join("..", "..", "bundle", "demo")
	if err := os.MkdirAll(filepath.Join(dir, "baseline"), 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(demo, "model.ubj"), filepath.Join(dir, "model.ubj"))
	if baseline {
		for _, f := range []string{"statistics.json", "constraints.json", "scores.json"} {
			copyFile(t, filepath.Join(demo, "baseline", f), filepath.Join(dir, "baseline", f))
		}
	}
	manifest, err := os.ReadFile(filepath.Join(demo, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	setVersion := func(v string) {
		var m map[string]any
		if err := json.Unmarshal(manifest, &m); err != nil {
			t.Fatal(err)
		}
		m["version"] = v
		b, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setVersion("1.0.0")
	return dir, setVersion
}

// stallRequest opens a /score request whose body never completes.
func stallRequest(t *testing.T, url string) net.Conn {
	t.Helper()
	conn, _ := stallRequestBody(t, url, "[[1]]")
	return conn
}

// stallRequestBody sends the headers and the first byte of body and
// returns the connection and the rest of the body.
func stallRequestBody(t *testing.T, url, body string) (net.Conn, string) {
	t.Helper()
	host := strings.TrimPrefix(url, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("POST /score HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", host, len(body), body[:1])
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	return conn, body[1:]
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "leadscore test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
